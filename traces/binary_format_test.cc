// Binary format v1: round trips, the header, and damaged files (docs/trace-format.md,
// "Binary format"). Every damage must be a TraceError naming a byte offset: never a crash,
// a hang, or silently wrong records.
#include "traces/binary_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "traces/generator.h"
#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Records that exercise every encoding: all kinds, every size code and the size escape
// (3, 100, 2^32-1), zero / small / huge / wrapping address deltas.
std::vector<Record> mixed_records() {
  std::vector<Record> records = {
      {0, 8, R},
      {0, 1, W},
      {1, 2, X},
      {0x7f0000001000, 4, R},
      {0x7f0000001008, 16, W},
      {0x1000, 32, R},
      {~0ULL, 64, X},
      {0, 3, R},
      {~0ULL - 7, 100, W},
      {42, 4294967295u, X},
      {0x8000000000000000, 8, R},
      {1, 8, R},
  };
  for (std::uint64_t i = 0; i < 200; ++i) {
    records.push_back({0x7f0000000000 + i * 4096 + (i % 7) * 8,
                       static_cast<std::uint32_t>(1u << (i % 7)), static_cast<AccessKind>(i % 3)});
  }
  return records;
}

TEST(BinaryFormat, RoundTripEqualsTextRecordsExactly) {
  ScratchDir dir;
  const std::vector<Record> records = mixed_records();
  write_records(dir.file("t.trace"), Format::kText, records);
  write_records(dir.file("t.pgt"), Format::kBinary, records);
  const std::vector<Record> from_text = read_all(dir.file("t.trace"));
  EXPECT_EQ(from_text, records);
  EXPECT_EQ(read_all(dir.file("t.pgt")), from_text);
}

TEST(BinaryFormat, RecordStreamMatchesTheDocumentedExample) {
  // docs/trace-format.md: R 8 bytes at 0x1000 is "0c 80 40" (tag: kind 0, size code 3;
  // zigzag(0x1000) = 0x2000, varint 80 40); W 3 bytes at 0xff8 is "1d 0f 03" (kind 1, size
  // escape 7; zigzag(-8) = 15; size 3).
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary, {{0x1000, 8, R}, {0xff8, 3, W}});
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  std::string stream(64, '\0');
  const std::size_t n =
      ZSTD_decompress(stream.data(), stream.size(), bytes.data() + 32, bytes.size() - 32);
  ASSERT_FALSE(ZSTD_isError(n));
  stream.resize(n);
  EXPECT_EQ(stream, std::string("\x0c\x80\x40\x1d\x0f\x03", 6));
}

TEST(BinaryFormat, HeaderFields) {
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary, mixed_records());
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  // magic "\x89PGT\r\n\x1a\n", version 1.2, flags 0, header 32 bytes, reserved 0, count.
  EXPECT_EQ(bytes.substr(0, 32), header(1, 2, 0, 32, mixed_records().size()));
  // A zstd frame follows the header (zstd magic 0xFD2FB528, little-endian).
  EXPECT_EQ(bytes.substr(32, 4), "\x28\xb5\x2f\xfd");
  auto reader = open_trace(dir.file("t.pgt"));
  EXPECT_EQ(reader->record_count(), mixed_records().size());
  EXPECT_EQ(reader->describe(), dir.file("t.pgt") + " (binary trace v1.2, 212 records)");
}

TEST(BinaryFormat, EmptyTrace) {
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary, {});
  EXPECT_TRUE(read_all(dir.file("t.pgt")).empty());
}

TEST(BinaryFormat, LargeTraceInOddBatchSizes) {
  // 1M uniform records over 64 GiB (deltas of up to 6 varint bytes) read in batches of 997:
  // batches and the decoder's buffers never line up.
  ScratchDir dir;
  auto generator = make_generator(parse_generator_spec("uniform:count=1000000,footprint=64GiB"));
  const std::vector<Record> records = read_all(*generator, 4096);
  write_records(dir.file("u.pgt"), Format::kBinary, records);
  EXPECT_EQ(read_all(dir.file("u.pgt"), 997), records);
}

TEST(BinaryFormat, DeltasOfEveryVarintLength) {
  // Deltas of 1 to 64 significant bits (varints of 1 to 10 bytes) in a pseudo-random
  // order, with odd sizes mixed in, read in batches of 1, 3 and 4093: every length meets
  // every position relative to the decoder's buffer ends and batch ends.
  ScratchDir dir;
  std::vector<Record> records;
  std::uint64_t address = 0;
  std::uint64_t state = 12345;
  for (int i = 0; i < 300'000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const unsigned bits = 1 + static_cast<unsigned>(state >> 58);  // 1..64
    const std::uint64_t delta = (state >> 3) >> (64 - bits) | (std::uint64_t{1} << (bits - 1));
    address += (state & 4) ? delta : 0 - delta;
    const std::uint32_t size =
        (state & 0x300) == 0x300 ? 3 + static_cast<std::uint32_t>(i % 5000) : 1u << (i % 7);
    records.push_back({address, size, static_cast<AccessKind>(i % 3)});
  }
  write_records(dir.file("t.pgt"), Format::kBinary, records);
  for (std::size_t batch : {1, 3, 4093}) {
    EXPECT_EQ(read_all(dir.file("t.pgt"), batch), records) << "batch " << batch;
  }
}

TEST(BinaryFormat, SniffedByMagicWhateverTheName) {
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary, mixed_records());
  std::filesystem::rename(dir.file("t.pgt"), dir.file("renamed.trace"));
  EXPECT_EQ(read_all(dir.file("renamed.trace")), mixed_records());
}

TEST(BinaryFormat, TruncatedAtEveryOffset) {
  ScratchDir dir;
  write_records(dir.file("full.pgt"), Format::kBinary, mixed_records());
  const std::string bytes = read_bytes(dir.file("full.pgt"));
  ASSERT_GT(bytes.size(), 100u);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " of " + std::to_string(bytes.size()) +
                 " bytes");
    const std::string message = binary_error(bytes.substr(0, size));
    EXPECT_THAT(message, MatchesRegex("t\\.pgt: byte [0-9]+: .*"));
  }
  // Without the .pgt name, the magic's first byte (0x89, never the start of a text trace)
  // still routes a truncated file to the binary reader.
  write_bytes(dir.file("cut"), bytes.substr(0, 5));
  EXPECT_EQ(
      trace_error_of([&] { read_all(dir.file("cut")); }),
      dir.file("cut") + ": byte 5: truncated header: the file ends after 5 of 32 header bytes");
}

TEST(BinaryFormat, EveryFlippedByteIsCaughtOrHarmless) {
  ScratchDir dir;
  write_records(dir.file("full.pgt"), Format::kBinary, mixed_records());
  const std::string bytes = read_bytes(dir.file("full.pgt"));
  for (std::size_t offset = 0; offset < bytes.size(); ++offset) {
    SCOPED_TRACE("byte " + std::to_string(offset) + " flipped");
    std::string damaged = bytes;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0x5a);
    write_bytes(dir.file("d.pgt"), damaged);
    // The minor version (10-11) and the reserved word (20-23) are ignored by design: a
    // newer minor version must stay readable. Everywhere else the damage is detected (the
    // zstd frame carries a checksum of the records).
    const bool ignored_field = (offset >= 10 && offset < 12) || (offset >= 20 && offset < 24);
    if (ignored_field) {
      EXPECT_EQ(read_all(dir.file("d.pgt")), mixed_records());
    } else {
      EXPECT_THAT(trace_error_of([&] { read_all(dir.file("d.pgt")); }), HasSubstr(": byte "));
    }
  }
}

TEST(BinaryFormat, HeaderErrorsNameTheField) {
  const std::string frame = zstd_frame("");
  EXPECT_EQ(binary_error("\x89PGX\r\n\x1a\n" + std::string(24, '\0')),
            "t.pgt: byte 3: bad magic: not a pagesim binary trace");
  EXPECT_EQ(binary_error("R 0x1000\n"),  // a text trace named .pgt
            "t.pgt: byte 0: bad magic: not a pagesim binary trace");
  EXPECT_EQ(binary_error(""),
            "t.pgt: byte 0: truncated header: the file ends after 0 of 32 header bytes");
  EXPECT_EQ(binary_error(header(1, 0, 0x4, 32, 0) + frame),
            "t.pgt: byte 12: unknown flags 0x4 (version 1.0; this reader knows none)");
  EXPECT_EQ(binary_error(header(1, 0, 0, 16, 0) + frame),
            "t.pgt: byte 16: header size 16 is outside 32..1048576");
  EXPECT_EQ(binary_error(header(1, 0, 0, 64, 0) + "short"),
            "t.pgt: byte 37: truncated header: the header size field says 64 bytes");
  EXPECT_EQ(binary_error(header(1, 0, 0, 32, 0)),
            "t.pgt: byte 32: no compressed data after the header (file truncated?)");
  EXPECT_EQ(binary_error(header(0, 9, 0, 32, 0) + frame),
            "t.pgt: byte 8: format version 0.9 is not a valid version");
}

TEST(BinaryFormat, NewerMajorVersionRefused) {
  const std::string frame = zstd_frame("\x0c\x02");  // one record: R, size 8, address 1
  EXPECT_EQ(binary_error(header(2, 0, 0, 32, 1) + frame),
            "t.pgt: byte 8: format version 2.0 is newer than this reader understands (1.x): "
            "use a newer pagesim");
}

TEST(BinaryFormat, NewerMinorVersionWithLongerHeaderIsRead) {
  // A v1.3 file whose header grew by 8 bytes: a v1.0 reader skips what it does not know.
  ScratchDir dir;
  write_bytes(dir.file("t.pgt"),
              header(1, 3, 0, 40, 2) + "newfield" + zstd_frame(std::string("\x0c\x02\x0d\x04", 4)));
  // Tag 0x0c: kind R, size code 3 (8 bytes); delta zigzag(1) = 2. Tag 0x0d: W, 8 bytes.
  EXPECT_EQ(read_all(dir.file("t.pgt")), (std::vector<Record>{{1, 8, R}, {3, 8, W}}));
}

TEST(BinaryFormat, SeveralFramesAreOneStream) {
  // Deltas continue across frames: the stream is the concatenation of the frames' contents.
  ScratchDir dir;
  write_bytes(dir.file("t.pgt"), header(1, 0, 0, 32, 3) + zstd_frame(std::string("\x0c\x02", 2)) +
                                     zstd_frame(std::string("\x0c\x02\x02\x03", 4)));
  // 0x02 = kind X (2), size code 0 (1 byte); address delta zigzag 3 = -2.
  EXPECT_EQ(read_all(dir.file("t.pgt")), (std::vector<Record>{{1, 8, R}, {2, 8, R}, {0, 1, X}}));
}

struct StreamCase {
  std::string payload;  // the decoded record stream
  std::uint64_t count;  // header record count
  std::string message;  // expected message after "t.pgt: byte N: "
};

class DamagedRecordStream : public ::testing::TestWithParam<StreamCase> {};

TEST_P(DamagedRecordStream, NamesRecordAndOffset) {
  const StreamCase& c = GetParam();
  const std::string message = binary_error(header(1, 0, 0, 32, c.count) + zstd_frame(c.payload));
  EXPECT_THAT(message, MatchesRegex("t\\.pgt: byte [0-9]+: .*"));
  EXPECT_THAT(message, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    EveryRecordError, DamagedRecordStream,
    ::testing::Values(
        // A record cut in the middle: tag read, address varint missing.
        StreamCase{
            std::string("\x0c\x02\x0c", 3), 2,
            "record 1 (decoded byte 2): the stream ends in the middle of a record (address)"},
        // Continuation bit set on the last byte of the stream.
        StreamCase{
            std::string("\x0c\x82", 2), 1,
            "record 0 (decoded byte 0): the stream ends in the middle of a record (address)"},
        // Size escape without the size.
        StreamCase{std::string("\x1c\x02", 2), 1,
                   "record 0 (decoded byte 0): the stream ends in the middle of a record (size)"},
        // Kind 3 marks an event (1.1); this stream's header says 1.0.
        StreamCase{std::string("\x0c\x02\x0f\x02", 4), 2,
                   "record 1 (decoded byte 2): tag 0x0f: an event record, but the header says "
                   "version 1.0, which has no events"},
        StreamCase{std::string("\x2c\x02", 2), 1,
                   "record 0 (decoded byte 0): tag 0x2c: reserved bits 5-7 are set"},
        // A varint of 11 bytes (garbage), both near the end and with plenty of bytes after it.
        StreamCase{"\x0c" + std::string(10, '\xff') + "\x01", 1,
                   "record 0 (decoded byte 0): garbage address varint: more than 64 bits"},
        StreamCase{"\x0c" + std::string(10, '\xff') + "\x01" + std::string(64, '\x0c'), 33,
                   "record 0 (decoded byte 0): garbage address varint: more than 64 bits"},
        StreamCase{std::string("\x1c\x02\x00", 3), 1,
                   "record 0 (decoded byte 0): size 0 is outside 1..4294967295"},
        StreamCase{std::string("\x1c\x02\x80\x80\x80\x80\x10", 7), 1,
                   "record 0 (decoded byte 0): size 4294967296 is outside 1..4294967295"},
        StreamCase{std::string("\x1c\x02\x80\x80\x80\x80\x80\x01", 8), 1,
                   "record 0 (decoded byte 0): garbage size varint: longer than 5 bytes"},
        // The header's count disagrees with the stream.
        StreamCase{std::string("\x0c\x02", 2), 5,
                   "the header says 5 records but the stream holds 1"}));

TEST(BinaryFormat, TenByteVarintsDecode) {
  // A delta of 2^63 needs all 10 varint bytes: the fast path hands it to the checked one.
  ScratchDir dir;
  std::vector<Record> records;
  for (int i = 0; i < 100; ++i) {
    records.push_back({(i % 2) ? 0x8000000000000000ULL : 0, 8, R});
  }
  write_records(dir.file("t.pgt"), Format::kBinary, records);
  EXPECT_EQ(read_all(dir.file("t.pgt")), records);
}

TEST(BinaryFormat, GarbageAfterTheFrame) {
  EXPECT_THAT(binary_error(header(1, 0, 0, 32, 1) + zstd_frame(std::string("\x0c\x02", 2)) +
                           "junk after the frame"),
              HasSubstr("corrupt compressed data"));
}

TEST(TraceWriter, NoFileUnlessFinished) {
  for (Format format : {Format::kText, Format::kBinary}) {
    ScratchDir dir;
    const std::string path = dir.file(format == Format::kText ? "t.trace" : "t.pgt");
    {
      auto writer = create_writer(path, format);
      writer->write(mixed_records());
      EXPECT_EQ(dir.list().size(), 1u);  // the temporary, hidden beside the target
      EXPECT_THAT(dir.list()[0],
                  ::testing::StartsWith("." + std::filesystem::path(path).filename().string() +
                                        ".pagesim-tmp."));
    }
    EXPECT_TRUE(dir.list().empty()) << "destroyed unfinished: no target, no temporary";
    write_bytes(path, "old");
    {
      auto writer = create_writer(path, format);
      writer->write(mixed_records());
    }
    EXPECT_EQ(read_bytes(path), "old") << "an unfinished writer leaves the old file alone";
    write_records(path, format, mixed_records());
    EXPECT_EQ(dir.list().size(), 1u) << "finish() renames the temporary over the target";
    EXPECT_EQ(read_all(path), mixed_records());
  }
}

TEST(TraceWriter, UnwritableTargetNamesIt) {
  EXPECT_EQ(trace_error_of([] { create_writer("/nonexistent/t.pgt", Format::kBinary); }),
            "/nonexistent/t.pgt: cannot write: folder /nonexistent does not exist");
}

TEST(TraceWriter, FormatFromPath) {
  EXPECT_EQ(format_from_path("a.pgt"), Format::kBinary);
  EXPECT_EQ(format_from_path("dir.x/a.trace"), Format::kText);
  EXPECT_EQ(format_from_path("a.txt"), Format::kText);
  EXPECT_EQ(format_from_path("-"), Format::kText);
  EXPECT_THAT(trace_error_of([] { format_from_path("a.bin"); }),
              HasSubstr("a.bin: cannot tell the trace format from the name"));
}

}  // namespace
}  // namespace pagesim::traces
