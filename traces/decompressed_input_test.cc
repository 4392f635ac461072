// DecompressedInput: plain bytes pass through; xz, gzip and zstd (as the system's tools write
// them, concatenated streams included) decode to the original bytes; damage is an error
// naming the file and the compressed byte.
#include "traces/decompressed_input.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// `size` bytes that compress a little but not to nothing.
std::string sample_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint64_t x = 1;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    bytes[i] = static_cast<char>((x >> 60) + 'a');
  }
  return bytes;
}

// Everything the input decodes to, read in chunks of `chunk` bytes.
std::string decode(const std::string& path, std::size_t chunk = 4093) {
  DecompressedInput input{InputFile(path)};
  std::string out;
  std::string buffer(chunk, '\0');
  while (std::size_t n = input.read(buffer.data(), chunk)) {
    out.append(buffer, 0, n);
  }
  EXPECT_EQ(input.offset(), out.size());
  return out;
}

TEST(DecompressedInput, PlainBytesPassThrough) {
  ScratchDir dir;
  const std::string bytes = sample_bytes(200000);
  write_bytes(dir.file("plain"), bytes);
  EXPECT_EQ(decode(dir.file("plain")), bytes);
  EXPECT_EQ(DecompressedInput(InputFile(dir.file("plain"))).compression(), Compression::kNone);
  // Shorter than either magic.
  write_bytes(dir.file("short"), "\x1f");
  EXPECT_EQ(decode(dir.file("short")), "\x1f");
  write_bytes(dir.file("empty"), "");
  EXPECT_EQ(decode(dir.file("empty")), "");
}

TEST(DecompressedInput, XzGzipAndZstdDecodeToTheOriginal) {
  ScratchDir dir;
  // 300000 bytes: several 64 KiB input and output chunks.
  const std::string bytes = sample_bytes(300000);
  write_bytes(dir.file("data"), bytes);
  for (const char* tool : {"xz", "gzip", "zstd"}) {
    const std::string path = compress_file(dir.file("data"), tool);
    EXPECT_EQ(decode(path), bytes) << tool;
    EXPECT_EQ(decode(path, 1), bytes) << tool;
    EXPECT_EQ(compression_name(DecompressedInput(InputFile(path)).compression()), tool);
  }
}

TEST(DecompressedInput, ConcatenatedStreamsAreReadInTurn) {
  ScratchDir dir;
  write_bytes(dir.file("a"), "first part\n");
  write_bytes(dir.file("b"), "second part\n");
  for (const char* tool : {"xz", "gzip", "zstd"}) {
    const std::string a = read_bytes(compress_file(dir.file("a"), tool));
    const std::string b = read_bytes(compress_file(dir.file("b"), tool));
    write_bytes(dir.file("ab"), a + b);
    EXPECT_EQ(decode(dir.file("ab")), "first part\nsecond part\n") << tool;
  }
}

TEST(DecompressedInput, DamageNamesTheFileAndByte) {
  ScratchDir dir;
  write_bytes(dir.file("data"), sample_bytes(100000));
  const std::string gz = read_bytes(compress_file(dir.file("data"), "gzip"));
  // Cut short: the error stands at the end of what the file holds.
  write_bytes(dir.file("cut.gz"), gz.substr(0, 1000));
  EXPECT_EQ(trace_error_of([&] { decode(dir.file("cut.gz")); }),
            dir.file("cut.gz") +
                ": byte 1000 (gzip data): truncated: the file ends inside the compressed data");
  // Something other than another member after the data (gzip -dc would warn).
  write_bytes(dir.file("tail.gz"), gz + "junk");
  EXPECT_EQ(trace_error_of([&] { decode(dir.file("tail.gz")); }),
            dir.file("tail.gz") + ": byte " + std::to_string(gz.size()) +
                " (gzip data): garbage after the end of the gzip data");
  // A damaged trailer: the CRC32 of the data does not match.
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] = static_cast<char>(bad_crc[gz.size() - 6] ^ 1);
  write_bytes(dir.file("crc.gz"), bad_crc);
  EXPECT_THAT(trace_error_of([&] { decode(dir.file("crc.gz")); }),
              HasSubstr("(gzip data): corrupt compressed data (incorrect data check)"));
  // xz: a damaged stream header.
  std::string xz = read_bytes(compress_file(dir.file("data"), "xz"));
  xz[7] = static_cast<char>(xz[7] ^ 0x40);
  write_bytes(dir.file("bad.xz"), xz);
  EXPECT_THAT(trace_error_of([&] { decode(dir.file("bad.xz")); }),
              StartsWith(dir.file("bad.xz") + ": byte "));
  EXPECT_THAT(trace_error_of([&] { decode(dir.file("bad.xz")); }), HasSubstr("(xz data): "));
}

TEST(DecompressedInput, ZstdDamageAndForeignCompressionsAreNamed) {
  ScratchDir dir;
  write_bytes(dir.file("data"), sample_bytes(300000));
  const std::string zst = read_bytes(compress_file(dir.file("data"), "zstd"));
  write_bytes(dir.file("cut.zst"), zst.substr(0, zst.size() / 2));
  EXPECT_THAT(trace_error_of([&] { decode(dir.file("cut.zst")); }),
              HasSubstr("(zstd data): truncated: the file ends inside the compressed data"));
  std::string bad = zst;
  bad[zst.size() / 2] = static_cast<char>(bad[zst.size() / 2] ^ 0x55);
  write_bytes(dir.file("bad.zst"), bad);
  EXPECT_THAT(trace_error_of([&] { decode(dir.file("bad.zst")); }),
              HasSubstr("(zstd data): corrupt compressed data ("));
  // Compressions it does not decode: named, not read as text.
  for (const auto& [name, magic] : std::vector<std::pair<std::string, std::string>>{
           {"bzip2", "BZh91AY&SY"},
           {"zip", std::string("PK\x03\x04", 4) + "rest"},
           {"lz4", std::string("\x04\x22\x4d\x18", 4) + "rest"}}) {
    write_bytes(dir.file("x"), magic);
    EXPECT_EQ(trace_error_of([&] { decode(dir.file("x")); }),
              dir.file("x") + ": " + name +
                  "-compressed input, which pagesim does not read (it reads xz, gzip and zstd): "
                  "decompress it first")
        << name;
  }
}

// A text trace compressed by any of the three reads as the plain one.
TEST(DecompressedInput, CompressedTextTracesReadAsThePlainOne) {
  ScratchDir dir;
  std::string text = "# a text trace\n";
  for (int i = 0; i < 20000; ++i) {
    text += (i % 3 == 0 ? "W 0x" : "R 0x") + std::to_string(0x100000 + (i % 977) * 64) + "\n";
  }
  text += "!invlpg 0x100000\nX 0x400000 4\n";
  write_bytes(dir.file("t.trace"), text);
  const std::vector<Record> plain = read_all(dir.file("t.trace"));
  ASSERT_EQ(plain.size(), 20002u);
  for (const char* tool : {"xz", "gzip", "zstd"}) {
    const std::string path = compress_file(dir.file("t.trace"), tool);
    EXPECT_EQ(read_all(path), plain) << tool;
    EXPECT_THAT(open_trace(path)->describe(), HasSubstr(std::string(tool) + "-compressed"));
  }
}

}  // namespace
}  // namespace pagesim::traces
