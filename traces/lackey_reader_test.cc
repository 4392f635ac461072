// The valgrind lackey importer: a hand-written snippet in lackey's layout (as valgrind 3.19
// prints it: "I  %08lx,%lu", " L %08lx,%lu", ...) with valgrind's noise lines.
#include "traces/lackey_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kSnippet =
    "==4242== Lackey, an example Valgrind tool\n"
    "==4242== Command: ./a.out\n"
    "==4242== \n"
    "I  0401ab70,3\n"
    " S 1fff000648,8\n"
    "I  0401ab73,5\n"
    " L 0404c8a0,4\n"
    " M 0404c8a8,2\n"
    "I  0401ab78,15\n"
    " L ffffffffff600000,1\n"
    "\n"
    "==4242== \n"
    "==4242== Exit code:       0\n";

// The file's records, read through open_trace("lackey:...") in batches of `batch`.
std::vector<Record> import(std::string_view text, std::size_t batch = 1000) {
  ScratchDir dir;
  write_bytes(dir.file("a.lackey"), text);
  auto reader = open_trace("lackey:" + dir.file("a.lackey"));
  EXPECT_THAT(reader->describe(), HasSubstr("valgrind lackey trace"));
  return read_all(*reader, batch);
}

TEST(LackeyReader, GivesExactlyTheAccessesWritten) {
  // I -> X, L -> R, S -> W, M -> R then W of the same bytes; ==pid== and blank lines skipped.
  const std::vector<Record> expected = {
      {0x0401ab70, 3, X}, {0x1fff000648, 8, W}, {0x0401ab73, 5, X},  {0x0404c8a0, 4, R},
      {0x0404c8a8, 2, R}, {0x0404c8a8, 2, W},   {0x0401ab78, 15, X}, {0xffffffffff600000, 1, R},
  };
  EXPECT_EQ(import(kSnippet), expected);
  // Every batch size gives the same records, including an M split across two batches (batch
  // 5: the M's load is the 5th record, its store the 6th).
  for (std::size_t batch : {1, 2, 5, 7}) {
    EXPECT_EQ(import(kSnippet, batch), expected) << "batch " << batch;
  }
}

TEST(LackeyReader, WithoutFetchesDropsTheILines) {
  ScratchDir dir;
  write_bytes(dir.file("a.lackey"), kSnippet);
  LackeyTraceReader reader(InputFile(dir.file("a.lackey")), LackeyOptions{.fetches = false});
  const std::vector<Record> expected = {
      {0x1fff000648, 8, W}, {0x0404c8a0, 4, R},         {0x0404c8a8, 2, R},
      {0x0404c8a8, 2, W},   {0xffffffffff600000, 1, R},
  };
  EXPECT_EQ(read_all(reader), expected);
  // 13 lines in the snippet; all were read.
  EXPECT_EQ(reader.lines(), 13u);
}

TEST(LackeyReader, ToleratesCrLfAndAMissingLastNewline) {
  const std::vector<Record> expected = {{0x10, 1, R}, {0x20, 2, W}};
  EXPECT_EQ(import(" L 10,1\r\n S 20,2"), expected);
}

// The error for a lackey file holding `text`, with the folder cut from the path.
std::string lackey_error(std::string_view text) {
  ScratchDir dir;
  const std::string path = dir.file("a.lackey");
  write_bytes(path, text);
  std::string message = trace_error_of([&] { read_all("lackey:" + path); });
  const std::size_t at = message.find(path);
  if (at != std::string::npos) {
    message.replace(at, path.size(), "a.lackey");
  }
  return message;
}

TEST(LackeyReader, BadLinesNameFileAndLine) {
  EXPECT_EQ(lackey_error("==1== hi\n L 10,8\n X 10,8\n"),
            "a.lackey:3: expected I, L, S or M (or a ==pid== message), found ' X 10,8'");
  EXPECT_EQ(lackey_error(" L 1g,8\n"),
            "a.lackey:1: bad address in ' L 1g,8' (expected hex digits, then ',size')");
  EXPECT_EQ(lackey_error(" L 10\n"), "a.lackey:1: missing ',size' in ' L 10'");
  EXPECT_EQ(lackey_error(" L ,8\n"), "a.lackey:1: missing address in ' L ,8'");
  EXPECT_EQ(lackey_error(" L 10,\n"), "a.lackey:1: missing size after ',' in ' L 10,'");
  EXPECT_EQ(lackey_error(" S 10,0\n"),
            "a.lackey:1: size 0 in ' S 10,0': an access has at least 1 byte");
  EXPECT_EQ(lackey_error(" S 10,8x\n"),
            "a.lackey:1: bad size in ' S 10,8x' (expected decimal bytes)");
  EXPECT_EQ(lackey_error(" S 10,8 9\n"),
            "a.lackey:1: unexpected text after the size in ' S 10,8 9'");
  EXPECT_EQ(lackey_error(" L10,8\n"), "a.lackey:1: expected blanks after 'L' in ' L10,8'");
  // 17 hex digits overflow 64 bits.
  EXPECT_EQ(lackey_error("\n\n L 10000000000000000,8\n"),
            "a.lackey:3: address in ' L 10000000000000000,8' does not fit in 64 bits");
  EXPECT_EQ(lackey_error(" L 10,4294967296\n"),
            "a.lackey:1: size in ' L 10,4294967296' is larger than 4294967295 bytes");
  EXPECT_EQ(lackey_error(std::string(5000, 'I')),
            "a.lackey:1: line longer than 4096 bytes (is this valgrind lackey output?)");
}

TEST(LackeyReader, MissingFileIsNamed) {
  EXPECT_THAT(trace_error_of([] { open_trace("lackey:/nonexistent/a.lackey"); }),
              HasSubstr("/nonexistent/a.lackey: cannot open"));
}

}  // namespace
}  // namespace pagesim::traces
