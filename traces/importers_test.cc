// open_trace's choice of reader: "<source>:" prefixes, importer extensions (compressed
// too), and the native formats by their magic as before.
#include "traces/importers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/champsim_reader.h"
#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

std::string describe(const std::string& spec) { return open_trace(spec)->describe(); }

TEST(Importers, PrefixesForceASource) {
  ScratchDir dir;
  write_bytes(dir.file("run.log"), "0x1000,W\n");
  EXPECT_EQ(read_all("csv:" + dir.file("run.log")), (std::vector<Record>{{0x1000, 8, W}}));
  const auto instr = encode_champsim({.ip = 0x400000});
  write_bytes(dir.file("run.bin"), std::string(instr.begin(), instr.end()));
  EXPECT_EQ(read_all("champsim:" + dir.file("run.bin")), (std::vector<Record>{{0x400000, 1, X}}));
  write_bytes(dir.file("t.pgt"), "R 0x5\n");  // text, whatever the name says
  EXPECT_EQ(read_all("text:" + dir.file("t.pgt")), (std::vector<Record>{{0x5, 8, R}}));
  EXPECT_THAT(trace_error_of([&] { read_all("binary:" + dir.file("run.log")); }),
              HasSubstr("run.log: byte 0: bad magic"));
  // A colon that names no source is part of the path.
  EXPECT_THAT(trace_error_of([&] { read_all(dir.file("x") + ":y"); }),
              HasSubstr("x:y: cannot open"));
}

TEST(Importers, ExtensionsChooseTheImporter) {
  ScratchDir dir;
  write_bytes(dir.file("t.csv"), "0x1000,R\n");
  EXPECT_EQ(describe(dir.file("t.csv")), dir.file("t.csv") + " (CSV trace)");
  const auto instr = encode_champsim({.ip = 0x400000});
  for (const char* name : {"t.champsim", "t.champsimtrace"}) {
    write_bytes(dir.file(name), std::string(instr.begin(), instr.end()));
    EXPECT_EQ(describe(dir.file(name)), dir.file(name) + " (ChampSim trace)");
    const std::string xz = compress_file(dir.file(name), "xz");
    EXPECT_EQ(describe(xz), xz + " (ChampSim trace, xz)");
  }
  // Native formats keep their detection.
  write_bytes(dir.file("t.trace"), "R 0x1\n");
  EXPECT_EQ(describe(dir.file("t.trace")), dir.file("t.trace") + " (text trace v1.2)");
}

TEST(Importers, TraceFileOfASpec) {
  EXPECT_EQ(trace_file_of("a.pgt"), "a.pgt");
  EXPECT_EQ(trace_file_of("csv:dir/a.log"), "dir/a.log");
  EXPECT_EQ(trace_file_of("champsim:-"), "");
  EXPECT_EQ(trace_file_of("-"), "");
  EXPECT_EQ(trace_file_of("gen:uniform:count=5"), "");
}

TEST(Importers, HelpListsEverySource) {
  const std::string help = describe_importers();
  for (const Importer& importer : importers()) {
    EXPECT_THAT(help, HasSubstr("  " + std::string(importer.name) + ":PATH")) << help;
  }
  EXPECT_THAT(help, HasSubstr(".champsimtrace"));
}

}  // namespace
}  // namespace pagesim::traces
