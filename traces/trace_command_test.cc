// `pagesim trace gen|convert|info` through run_trace_command, as the CLI calls it.
#include "traces/trace_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "traces/generator.h"
#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Outcome {
  int status;
  std::string out;
  std::string err;
};

Outcome run(std::vector<std::string> args) {
  args.insert(args.begin(), "trace");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int status = run_trace_command(static_cast<int>(argv.size()), argv.data());
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return {status, out, err};
}

std::vector<Record> generated(std::string_view spec) {
  auto reader = make_generator(parse_generator_spec(spec));
  return read_all(*reader);
}

TEST(TraceCommand, GenWritesTheGeneratorsRecords) {
  ScratchDir dir;
  const Outcome o = run({"gen", "zipf", "--count", "5000", "--footprint", "64MiB", "--seed", "7",
                         "--writes", "0.25", "--out", dir.file("z.trace")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, dir.file("z.trace") + ": 5000 records (text)\n");
  EXPECT_THAT(o.err, IsEmpty());
  const std::vector<Record> expected =
      generated("zipf:count=5000,footprint=64MiB,seed=7,writes=0.25");
  EXPECT_EQ(read_all(dir.file("z.trace")), expected);
  // The text trace says how to make it again.
  EXPECT_THAT(read_bytes(dir.file("z.trace")),
              ::testing::StartsWith("# pagesim trace gen zipf:count=5000,footprint=64MiB,"));
  // A binary trace, chosen by the name or by --format; a whole spec as PATTERN.
  ASSERT_EQ(run({"gen", "zipf:count=5000,footprint=64MiB,seed=7", "--writes=0.25", "-o",
                 dir.file("z.pgt")})
                .status,
            0);
  EXPECT_EQ(read_all(dir.file("z.pgt")), expected);
  ASSERT_EQ(run({"gen", "zipf:count=5000,footprint=64MiB,seed=7", "--writes=0.25", "--format",
                 "binary", "-o", dir.file("z.bin")})
                .status,
            0);
  EXPECT_EQ(read_all(dir.file("z.bin")), expected);
}

TEST(TraceCommand, GenToStandardOutput) {
  const Outcome o = run({"gen", "sequential", "--count", "3", "--footprint", "4K", "--base",
                         "0x1000", "--size", "16"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out,
            "# pagesim trace gen sequential:count=3,footprint=4KiB,base=0x1000,size=16,seed=1,"
            "writes=0,fetches=0\n"
            "R 0x1000 16\n"
            "R 0x1010 16\n"
            "R 0x1020 16\n");
}

TEST(TraceCommand, ConvertRoundTripsAndConcatenates) {
  ScratchDir dir;
  ASSERT_EQ(run({"gen", "uniform", "-n", "3000", "-o", dir.file("u.trace")}).status, 0);
  ASSERT_EQ(run({"gen", "pointer_chase", "-n", "2000", "-o", dir.file("p.pgt")}).status, 0);
  const Outcome o = run({"convert", dir.file("u.trace"), dir.file("p.pgt"), "gen:strided:count=10",
                         dir.file("all.pgt")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, dir.file("all.pgt") + ": 5010 records (binary)\n");
  std::vector<Record> expected = generated("uniform:count=3000");
  for (auto part : {generated("pointer_chase:count=2000"), generated("strided:count=10")}) {
    expected.insert(expected.end(), part.begin(), part.end());
  }
  EXPECT_EQ(read_all(dir.file("all.pgt")), expected);
  ASSERT_EQ(run({"convert", dir.file("all.pgt"), dir.file("back.trace")}).status, 0);
  EXPECT_EQ(read_all(dir.file("back.trace")), expected);
}

TEST(TraceCommand, DamagedInputLeavesNoOutput) {
  ScratchDir dir;
  write_bytes(dir.file("bad.trace"), "R 0x1000\nW 0x2000\n!cr3 0x5000 extra\n");
  const Outcome o = run({"convert", dir.file("bad.trace"), dir.file("out.pgt")});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "pagesim trace convert: " + dir.file("bad.trace") +
                       ":3: '!cr3': unexpected 'extra' after the arguments (expected !cr3 "
                       "<address-space id>)\n");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"bad.trace"}) << "no output, no temporary";
}

TEST(TraceCommand, MissingInputNamesIt) {
  ScratchDir dir;
  const Outcome o = run({"convert", dir.file("nope.pgt"), dir.file("out.trace")});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "pagesim trace convert: " + dir.file("nope.pgt") +
                       ": cannot open: No such file or directory\n");
  EXPECT_TRUE(dir.list().empty());
}

TEST(TraceCommand, UsageErrorsExitWithTwo) {
  Outcome o = run({"gen", "uniform", "--footprint", "64GB", "-o", "/dev/null.trace"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("pagesim trace gen: generator spec 'uniform:footprint=64GB': key "
                               "'footprint': '64GB' is not a byte size"));
  EXPECT_THAT(o.err, HasSubstr("(see 'pagesim trace gen --help')"));
  o = run({"gen", "uniform", "--bogus"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("pagesim trace gen: unrecognised option '--bogus'"));
  o = run({"gen"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("missing PATTERN"));
  o = run({"gen", "uniform", "-o", "out.bin"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("out.bin: cannot tell the trace format from the name"));
  o = run({"gen", "uniform", "--format", "json"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("--format: 'json' is not a format (text, binary or csv)"));
  o = run({"convert", "only-one.trace"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("needs at least one input and an output"));
  o = run({"frobnicate"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("pagesim trace: unknown subcommand 'frobnicate'"));
  o = run({});
  EXPECT_EQ(o.status, 2);
}

TEST(TraceCommand, HelpOnEverySubcommand) {
  for (const char* sub : {"gen", "convert", "info"}) {
    SCOPED_TRACE(sub);
    const Outcome o = run({sub, "--help"});
    EXPECT_EQ(o.status, 0);
    EXPECT_THAT(o.out, HasSubstr(std::string("usage: pagesim trace ") + sub));
  }
  EXPECT_THAT(run({"gen", "--help"}).out, HasSubstr("--footprint ] SIZE"));
  EXPECT_EQ(run({"--help"}).status, 0);
}

TEST(TraceCommand, Info) {
  ScratchDir dir;
  write_bytes(dir.file("t.trace"), "R 0x1000\nW 0x2000 16\nX 0x1800 4\nW 0x10\n");
  const Outcome o = run({"info", dir.file("t.trace")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "trace:     " + dir.file("t.trace") +
                       " (text trace v1.2)\n"
                       "records:   4 (4 accesses, 0 events)\n"
                       "reads:     1 (25.0%)\n"
                       "writes:    2 (50.0%)\n"
                       "fetches:   1 (25.0%)\n"
                       "addresses: 0x10 .. 0x200f (first to last byte accessed)\n"
                       "sizes:     4 .. 16 bytes\n");
}

TEST(TraceCommand, InfoCountsEventsByOp) {
  ScratchDir dir;
  write_bytes(dir.file("t.trace"),
              "!memslot add 0 0 1GiB\n!cr3 1\nR 0x1000\n!invlpg 0x1000\nW 0x2000 16\n"
              "!cr3 2\n!madvise dontneed 0x1000 4K\n!invlpg 0x2000\n!cr3 1\n");
  const Outcome o = run({"info", dir.file("t.trace")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "trace:     " + dir.file("t.trace") +
                       " (text trace v1.2)\n"
                       "records:   9 (2 accesses, 7 events)\n"
                       "reads:     1 (50.0%)\n"
                       "writes:    1 (50.0%)\n"
                       "fetches:   0 (0.0%)\n"
                       "event:     memslot add: 1\n"
                       "event:     cr3: 3\n"
                       "event:     invlpg: 2\n"
                       "event:     madvise dontneed: 1\n"
                       "addresses: 0x1000 .. 0x200f (first to last byte accessed)\n"
                       "sizes:     8 .. 16 bytes\n");
  // Events only: no address range.
  write_bytes(dir.file("e.trace"), "!balloon inflate 4\n");
  EXPECT_THAT(run({"info", dir.file("e.trace")}).out,
              ::testing::EndsWith("records:   1 (0 accesses, 1 events)\n"
                                  "reads:     0 (0.0%)\n"
                                  "writes:    0 (0.0%)\n"
                                  "fetches:   0 (0.0%)\n"
                                  "event:     balloon inflate: 1\n"));
  // `!vm` is counted as "vm", after the other ops, in both formats.
  write_bytes(dir.file("v.trace"), "!vm 1\nR 0x1000\n!cr3 1\n!vm 0\nR 0x1000\n!vm 1\n");
  ASSERT_EQ(run({"convert", dir.file("v.trace"), dir.file("v.pgt")}).status, 0);
  for (const char* name : {"v.trace", "v.pgt"}) {
    const Outcome v = run({"info", dir.file(name)});
    ASSERT_EQ(v.status, 0) << v.err;
    EXPECT_THAT(v.out, ::testing::HasSubstr("records:   6 (2 accesses, 4 events)\n"));
    EXPECT_THAT(v.out, ::testing::HasSubstr("fetches:   0 (0.0%)\n"
                                            "event:     cr3: 1\n"
                                            "event:     vm: 3\n"
                                            "addresses: "))
        << name;
  }
}

TEST(TraceCommand, ConvertKeepsEvents) {
  ScratchDir dir;
  const std::string text =
      "!memslot add 1 0x100000 2MiB ro\nR 0x1000\n!cr3 3\nW 0x1008 4\n!ptewrite 0x1000 unmap\n"
      "!vm 2\nR 0x1000\n";
  write_bytes(dir.file("in.trace"), text);
  ASSERT_EQ(run({"convert", dir.file("in.trace"), dir.file("mid.pgt")}).status, 0);
  const Outcome o =
      run({"convert", dir.file("mid.pgt"), "gen:sequential:count=1,base=0", dir.file("out.trace")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, dir.file("out.trace") + ": 8 records (text)\n");
  const std::string out = read_bytes(dir.file("out.trace"));
  EXPECT_EQ(out.substr(out.find('\n') + 1), text + "R 0x0\n");  // after the command comment
}

TEST(DemoTrace, ReproducedByTheCommandAtItsTop) {
  // traces/examples/demo.trace starts with the command that made it; running that command
  // again must give the same records.
  const std::string demo = std::string(PAGESIM_SOURCE_DIR) + "/traces/examples/demo.trace";
  std::ifstream in(demo);
  std::string first_line;
  ASSERT_TRUE(std::getline(in, first_line)) << demo;
  const std::string prefix = "# pagesim trace convert ";
  ASSERT_THAT(first_line, ::testing::StartsWith(prefix));
  std::istringstream words(first_line.substr(prefix.size()));
  std::vector<std::string> args = {"convert"};
  for (std::string word; words >> word;) {
    args.push_back(word);
  }
  ScratchDir dir;
  args.back() = dir.file("demo.trace");  // the output
  const Outcome o = run(args);
  ASSERT_EQ(o.status, 0) << o.err;
  const std::vector<Record> records = read_all(demo);
  EXPECT_EQ(read_all(dir.file("demo.trace")), records);
  // A demo worth replaying: a few thousand records, under 200 KiB.
  EXPECT_GT(records.size(), 2000u);
  EXPECT_LT(std::filesystem::file_size(demo), 200u * 1024);
}

}  // namespace
}  // namespace pagesim::traces
