// Text format v1: what parses to which record, and every error with its line number
// (docs/trace-format.md, "Text format").
#include "traces/text_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "traces/test_util.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

TEST(TextFormat, HexDecimalAndSizes) {
  // "R|W|X <address> [size]": address hex with 0x or decimal, size in bytes, default 8.
  EXPECT_EQ(parse("R 0x1000\n"
                  "W 4096 16\n"
                  "X 0XABCdef 0x40\n"
                  "R 0 1\n"),
            (std::vector<Record>{{0x1000, 8, R}, {4096, 16, W}, {0xabcdef, 64, X}, {0, 1, R}}));
}

TEST(TextFormat, FullRangeOfAddressesAndSizes) {
  // The largest 64-bit address in both spellings; the largest 32-bit size.
  EXPECT_EQ(parse("R 0xffffffffffffffff 4294967295\n"
                  "W 18446744073709551615\n"
                  "R 0x00000000000000000000000000001\n"),  // leading zeros are fine
            (std::vector<Record>{{~0ULL, 4294967295u, R}, {~0ULL, 8, W}, {1, 8, R}}));
}

TEST(TextFormat, CommentsBlankLinesAndWhitespace) {
  EXPECT_EQ(parse("# a trace\n"
                  "\n"
                  "   \t\n"
                  "  R\t0x10   4  # trailing comment\n"
                  "W 0x20#no space needed\n"
                  "X 0x30 \r\n"  // CRLF line end
                  "    # indented comment\n"
                  "R 0x40"),  // last line without a newline
            (std::vector<Record>{{0x10, 4, R}, {0x20, 8, W}, {0x30, 8, X}, {0x40, 8, R}}));
}

TEST(TextFormat, EmptyFileHasNoRecords) {
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("# only a comment\n\n").empty());
}

struct ErrorCase {
  const char* text;
  const char* message;  // the whole expected message
};

class TextFormatError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TextFormatError, NamesLineAndProblem) {
  EXPECT_EQ(parse_error(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryError, TextFormatError,
    ::testing::Values(
        // Lines starting with '!' are events (event_test.cc has every form and error).
        ErrorCase{"R 0x1000\n# c\n\nW 0x2000\n!cr3 0x5000 0x6000\n",
                  "t.trace:5: '!cr3': unexpected '0x6000' after the arguments (expected !cr3 "
                  "<address-space id>)"},
        ErrorCase{"  !invlpgx 0x1000\n",
                  "t.trace:1: unknown event '!invlpgx' (events: !memslot, !cr3, !invlpg, "
                  "!ptewrite, !exit, !madvise, !balloon, !vm, !cpu, !roi)"},
        ErrorCase{"R 0x10\nQ 0x10\n", "t.trace:2: expected an access kind R, W or X, found 'Q'"},
        ErrorCase{"r 0x10\n", "t.trace:1: expected an access kind R, W or X, found 'r'"},
        ErrorCase{"RW 0x10\n", "t.trace:1: expected an access kind R, W or X, found 'RW'"},
        ErrorCase{"\x01\x89 0x10\n",
                  "t.trace:1: expected an access kind R, W or X, found '\\x01\\x89'"},
        ErrorCase{"R\n", "t.trace:1: missing address after 'R'"},
        ErrorCase{"W   # comment\n", "t.trace:1: missing address after 'W'"},
        ErrorCase{"R 0x\n", "t.trace:1: bad address '0x' (expected 0x-hex or decimal)"},
        ErrorCase{"R 0x12g4\n", "t.trace:1: bad address '0x12g4' (expected 0x-hex or decimal)"},
        ErrorCase{"R 12abc\n", "t.trace:1: bad address '12abc' (expected 0x-hex or decimal)"},
        ErrorCase{"R -5\n", "t.trace:1: bad address '-5' (expected 0x-hex or decimal)"},
        ErrorCase{"R 0x10000000000000000\n",
                  "t.trace:1: address '0x10000000000000000' does not fit in 64 bits"},
        ErrorCase{"R 18446744073709551616\n",
                  "t.trace:1: address '18446744073709551616' does not fit in 64 bits"},
        ErrorCase{"R 0x10 0\n", "t.trace:1: size 0: an access has at least 1 byte"},
        ErrorCase{"R 0x10 4294967296\n",
                  "t.trace:1: size '4294967296' is larger than 4294967295 bytes"},
        ErrorCase{"R 0x10 abc\n",
                  "t.trace:1: bad size 'abc' (expected a byte count, 0x-hex or decimal)"},
        ErrorCase{"R 0x10 -8\n",
                  "t.trace:1: bad size '-8' (expected a byte count, 0x-hex or decimal)"},
        ErrorCase{"R 0x10 8 9\n",
                  "t.trace:1: unexpected '9' after the size (comments start with '#')"},
        ErrorCase{"R 0x10\r\r\n",
                  "t.trace:1: bad address '0x10\\x0d' (expected 0x-hex or decimal)"}));

TEST(TextFormat, LineNumbersCountEveryLine) {
  // Records, comments, blank and CRLF lines all count: the bad line is the 7th.
  EXPECT_THAT(parse_error("R 1\r\n# c\n\nW 2\n\t\nX 3 # x\nR zz\n"), HasSubstr("t.trace:7: "));
}

TEST(TextFormat, LineNumbersPastTheReadBuffer) {
  // 200,000 lines of about 12 bytes: more than two 1 MiB reads, so lines straddle buffers.
  std::string text;
  std::vector<Record> expected;
  for (std::uint64_t i = 0; i < 200'000; ++i) {
    text += "W " + std::to_string(i * 4096) + " 4\n";
    expected.push_back({i * 4096, 4, W});
  }
  EXPECT_EQ(parse(text), expected);
  EXPECT_THAT(parse_error(text + "R oops\n"), HasSubstr("t.trace:200001: bad address 'oops'"));
}

TEST(TextFormat, OverlongLineIsAnError) {
  std::string text = "R 0x1\n# " + std::string(kMaxTextLineBytes, 'z') + "\nR 0x2\n";
  EXPECT_THAT(parse_error(text), HasSubstr("t.trace:2: line longer than 1048576 bytes"));
}

TEST(TextFormat, ReadsInAnyBatchSizeAndStaysAtEnd) {
  ScratchDir dir;
  write_bytes(dir.file("t.trace"), "R 1\nW 2\nX 3\nR 4\nW 5\n");
  auto reader = open_trace(dir.file("t.trace"));
  std::vector<Record> got = read_all(*reader, 2);  // batches of 2, 2, 1
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4], (Record{5, 8, W}));
  Record more[4];
  EXPECT_EQ(reader->read(more), 0u);  // 0 at the end, and again after
  EXPECT_EQ(reader->read(more), 0u);
  EXPECT_EQ(reader->describe(), dir.file("t.trace") + " (text trace v1.2)");
  EXPECT_EQ(reader->record_count(), std::nullopt);  // text traces do not know it upfront
}

TEST(TextFormat, MissingFileNamesIt) {
  EXPECT_EQ(trace_error_of([] { open_trace("/nonexistent/t.trace"); }),
            "/nonexistent/t.trace: cannot open: No such file or directory");
}

TEST(TextFormat, WriterSpellsRecordsCanonically) {
  // Lowercase hex with 0x, the size only when it is not the default 8.
  ScratchDir dir;
  auto writer = create_writer(dir.file("o.trace"), Format::kText);
  writer->add_comment("made by a test\nsecond line");
  const std::vector<Record> records = {{0, 8, R}, {0xABCDEF, 16, W}, {~0ULL, 4294967295u, X}};
  writer->write(records);
  writer->finish();
  EXPECT_EQ(read_bytes(dir.file("o.trace")),
            "# made by a test\n"
            "# second line\n"
            "R 0x0\n"
            "W 0xabcdef 16\n"
            "X 0xffffffffffffffff 4294967295\n");
  EXPECT_EQ(read_all(dir.file("o.trace")), records);
}

}  // namespace
}  // namespace pagesim::traces
