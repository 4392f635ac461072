// `pagesim trace record` end to end: tests/record_target.c (a static program with a known
// access pattern over its own array, see there) recorded under valgrind lackey and
// qemu-user, as a user runs it. Tests needing a tracer skip, saying which, when it is not
// installed (scripts/setup.sh installs both).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_harness.h"
#include "traces/record.h"
#include "traces/trace_reader.h"

namespace pagesim::testing {
namespace {

// record_target.c: 64 pages of 64 lines, 32 passes, a store and a load per line.
constexpr std::uint64_t kTargetPages = 64;
constexpr std::uint64_t kTargetAccessesPerKind = 32 * kTargetPages * (4096 / 64);

bool have(const std::string& program) {
  return run_command("command -v " + program + " > /dev/null").status == 0;
}

#define SKIP_WITHOUT(program)                                                               \
  if (!have(program)) {                                                                     \
    GTEST_SKIP() << program << " is not installed (scripts/setup.sh installs it), so this " \
                 << "tracer cannot be tested here";                                         \
  }

struct Recording {
  CommandResult result;
  std::vector<traces::Record> records;
  std::uint64_t data_begin = 0;  // g_data, as the program printed it
  std::uint64_t data_bytes = 0;
};

// Records the target with `options` into dir/name; reads the trace back when it exists.
Recording record(const TempDir& dir, const std::string& name, const std::string& options,
                 const std::string& target_args = "") {
  Recording r;
  const std::string out = dir.file(name);
  r.result = run_command(pagesim("trace record --progress never -o " + out + " " + options +
                                 " -- " + RECORD_TARGET + " " + target_args));
  const std::size_t at = r.result.output.find("data 0x");
  if (at != std::string::npos) {
    std::istringstream(r.result.output.substr(at + 5)) >> std::hex >> r.data_begin >> std::dec >>
        r.data_bytes;
  }
  if (std::filesystem::exists(out)) {
    auto reader = traces::open_trace(out);
    std::vector<traces::Record> batch(4096);
    while (std::size_t n = reader->read(batch)) {
      r.records.insert(r.records.end(), batch.begin(), batch.begin() + std::ptrdiff_t(n));
    }
  }
  return r;
}

// The records that fall in the program's own array.
std::vector<traces::Record> in_data(const Recording& r) {
  std::vector<traces::Record> out;
  for (const traces::Record& rec : r.records) {
    if (rec.address >= r.data_begin && rec.address < r.data_begin + r.data_bytes) {
      out.push_back(rec);
    }
  }
  return out;
}

std::set<std::uint64_t> pages(const std::vector<traces::Record>& records) {
  std::set<std::uint64_t> out;
  for (const traces::Record& r : records) {
    out.insert(r.address >> 12);
  }
  return out;
}

// The program's own accesses are exactly its loop: per line a 1-byte store then a 1-byte
// load of the same byte, lines in order, 64 pages, the same under any tracer.
void expect_the_loop(const Recording& r) {
  ASSERT_EQ(r.data_bytes, kTargetPages * 4096) << r.result.output;
  const std::vector<traces::Record> data = in_data(r);
  ASSERT_EQ(data.size(), 2 * kTargetAccessesPerKind);
  for (std::size_t i = 0; i < data.size(); i += 2) {
    const std::uint64_t line = (i / 2) % (kTargetPages * 64);
    const traces::Record store{r.data_begin + 64 * line, 1, AccessKind::kWrite};
    const traces::Record load{r.data_begin + 64 * line, 1, AccessKind::kRead};
    ASSERT_EQ(data[i], store) << i;
    ASSERT_EQ(data[i + 1], load) << i;
  }
  EXPECT_EQ(pages(data).size(), kTargetPages);
}

TEST(RecordLackey, RecordsTheProgramsAccessesAndPassesItsOutputThrough) {
  SKIP_WITHOUT("valgrind");
  TempDir dir;
  const Recording r = record(dir, "l.pgt", "--tracer lackey");
  ASSERT_EQ(r.result.status, 0) << r.result.output;
  EXPECT_NE(r.result.output.find("sum "), std::string::npos) << r.result.output;
  expect_the_loop(r);
  // No fetches without --fetches.
  for (const traces::Record& rec : r.records) {
    ASSERT_NE(rec.kind, AccessKind::kFetch);
  }
  // pagesim's summary names the file and the count.
  EXPECT_NE(r.result.output.find("l.pgt: " + std::to_string(r.records.size()) + " records"),
            std::string::npos)
      << r.result.output;
}

TEST(RecordLackey, AFailingCommandStillLeavesItsTrace) {
  SKIP_WITHOUT("valgrind");
  TempDir dir;
  const Recording r = record(dir, "f.pgt", "--tracer lackey", "5");
  EXPECT_EQ(r.result.status, 3) << r.result.output;
  EXPECT_NE(r.result.output.find("exited with status 5; the trace of what it did is written"),
            std::string::npos)
      << r.result.output;
  expect_the_loop(r);
}

TEST(Record, ACommandThatCannotStartLeavesNoFile) {
  TempDir dir;
  for (const char* tracer : {"lackey", "qemu"}) {
    const CommandResult r =
        run_command(pagesim("trace record --tracer " + std::string(tracer) + " -o " +
                            dir.file("n.pgt") + " -- pagesim-no-such-program"));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("cannot"), std::string::npos) << r.output;
  }
  // Nothing at all in the folder: no trace, no temporary.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Record, UsageErrors) {
  const CommandResult missing = run_command(pagesim("trace record -o x.pgt"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("missing '-- COMMAND"), std::string::npos) << missing.output;
  const CommandResult tracer = run_command(pagesim("trace record --tracer pin -- true"));
  EXPECT_EQ(tracer.status, 2);
  EXPECT_NE(tracer.output.find("'pin' is not a tracer"), std::string::npos) << tracer.output;
}

}  // namespace
}  // namespace pagesim::testing
