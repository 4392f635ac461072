// traces/examples/xz_compress.pgt, the bundled recording of a real program (see
// traces/examples/README.md for how it was made). Its bytes are fixed, so its facts are too:
// the counts below are what `pagesim trace info` prints for it, and this test checks them
// against an independent decoder written here from docs/trace-format.md (zstd, then tag and
// varints), which shares no code with BinaryTraceReader.
#include <gtest/gtest.h>
#include <zstd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

const std::string kPath = std::string(PAGESIM_SOURCE_DIR) + "/traces/examples/xz_compress.pgt";

// `pagesim trace info traces/examples/xz_compress.pgt`:
//   records:   3733532 (3733532 accesses, 0 events)
//   reads:     761833 (20.4%)    writes: 334749 (9.0%)    fetches: 2636950 (70.6%)
//   addresses: 0x4000000040 .. 0x4002f6e003    sizes: 1 .. 13 bytes
constexpr std::uint64_t kReads = 761833;
constexpr std::uint64_t kWrites = 334749;
constexpr std::uint64_t kFetches = 2636950;
constexpr std::uint64_t kRecords = kReads + kWrites + kFetches;  // 3733532
// `tail -c +33 xz_compress.pgt | zstd -dc | wc -c`: the record stream after the 32-byte header.
constexpr std::uint64_t kDecodedBytes = 14642760;
constexpr std::uint64_t kFileBytes = 1028853;  // 0.28 compressed bytes per record

struct Counts {
  std::array<std::uint64_t, 3> kinds{};
  std::uint64_t lowest = ~std::uint64_t{0};
  std::uint64_t highest = 0;  // last byte accessed
  std::uint32_t smallest = ~std::uint32_t{0};
  std::uint32_t largest = 0;
  std::uint64_t decoded_bytes = 0;
};

// The record stream decoded on its own: zstd over everything after the header, then per
// record a tag (kind in bits 0-1, size code in bits 2-4), a zigzag varint of the address
// delta and, for code 7, a varint size. No events are expected (tag kind 3 fails).
Counts decode_independently(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_GT(bytes.size(), 32u);
  std::vector<unsigned char> stream;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_inBuffer input{bytes.data() + 32, bytes.size() - 32, 0};
  std::vector<unsigned char> chunk(1 << 20);
  while (input.pos < input.size) {
    ZSTD_outBuffer output{chunk.data(), chunk.size(), 0};
    const std::size_t r = ZSTD_decompressStream(dctx, &output, &input);
    EXPECT_FALSE(ZSTD_isError(r)) << ZSTD_getErrorName(r);
    if (ZSTD_isError(r)) {
      break;
    }
    stream.insert(stream.end(), chunk.begin(), chunk.begin() + std::ptrdiff_t(output.pos));
  }
  ZSTD_freeDCtx(dctx);

  Counts c;
  c.decoded_bytes = stream.size();
  std::size_t p = 0;
  auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const unsigned char b = stream.at(p++);
      v |= std::uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
  };
  std::uint64_t address = 0;
  while (p < stream.size()) {
    const unsigned char tag = stream[p++];
    const unsigned kind = tag & 3;
    const unsigned code = (tag >> 2) & 7;
    EXPECT_LT(kind, 3u) << "an event at decoded byte " << p - 1;
    const std::uint64_t z = varint();
    address += (z >> 1) ^ (~(z & 1) + 1);  // un-zigzag, add modulo 2^64
    const auto size = static_cast<std::uint32_t>(code == 7 ? varint() : std::uint64_t{1} << code);
    ++c.kinds.at(kind);
    c.lowest = std::min(c.lowest, address);
    c.highest = std::max(c.highest, address + size - 1);
    c.smallest = std::min(c.smallest, size);
    c.largest = std::max(c.largest, size);
  }
  return c;
}

TEST(ExampleRecording, TraceInfoCountsAgreeWithAnIndependentDecode) {
  ASSERT_EQ(std::filesystem::file_size(kPath), kFileBytes) << "not the file described here";
  // pagesim's reader.
  auto reader = open_trace(kPath);
  EXPECT_EQ(reader->record_count(), kRecords);  // the header's count
  const std::vector<Record> records = read_all(*reader, 4096);
  ASSERT_EQ(records.size(), kRecords);
  std::array<std::uint64_t, 3> kinds{};
  for (const Record& r : records) {
    ASSERT_FALSE(r.is_event());
    ++kinds.at(static_cast<unsigned>(r.kind));
  }
  EXPECT_EQ(kinds, (std::array<std::uint64_t, 3>{kReads, kWrites, kFetches}));
  // The separate decoder.
  const Counts c = decode_independently(kPath);
  EXPECT_EQ(c.decoded_bytes, kDecodedBytes);
  EXPECT_EQ(c.kinds, kinds);
  EXPECT_EQ(c.lowest, 0x4000000040u);
  EXPECT_EQ(c.highest, 0x4002f6e003u);
  EXPECT_EQ(c.smallest, 1u);
  EXPECT_EQ(c.largest, 13u);  // an instruction fetch: x86 instructions are 1 to 15 bytes
}

}  // namespace
}  // namespace pagesim::traces
