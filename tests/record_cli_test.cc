// `pagesim trace record` end to end: tests/record_target.c (a static program with a known
// access pattern over its own array, see there) recorded under valgrind lackey and
// qemu-user, as a user runs it. Tests needing a tracer skip, saying which, when it is not
// installed (scripts/setup.sh installs both).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_harness.h"
#include "traces/record.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::testing {
namespace {

// record_target.c: 64 pages of 64 lines, 64 passes, a store and a load per line.
constexpr std::uint64_t kTargetPages = 64;
constexpr std::uint64_t kTargetAccessesPerKind = 64 * kTargetPages * (4096 / 64);

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

TEST(RecordQemu, ACommandQemuCannotLoadLeavesNoFile) {
  SKIP_WITHOUT("qemu-x86_64");
  // An executable file that is neither ELF nor a script: qemu starts (the plugin sends its
  // magic), fails to load it and exits non-zero without a single access. (valgrind would run
  // it with /bin/sh, as execvp does.)
  TempDir dir;
  const std::string junk = dir.file("junk");
  write_text(junk, "not a program\n");
  std::filesystem::permissions(junk, std::filesystem::perms::owner_all);
  const CommandResult r =
      run_command(pagesim("trace record --tracer qemu -o " + dir.file("j.pgt") + " -- " + junk));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("qemu could not run " + junk + " (exited with status 1, no accesses"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("j.pgt")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);  // junk alone: no temporary either
}

TEST(Record, UsageErrors) {
  const CommandResult missing = run_command(pagesim("trace record -o x.pgt"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("missing '-- COMMAND"), std::string::npos) << missing.output;
  const CommandResult tracer = run_command(pagesim("trace record --tracer pin -- true"));
  EXPECT_EQ(tracer.status, 2);
  EXPECT_NE(tracer.output.find("'pin' is not a tracer"), std::string::npos) << tracer.output;
}

TEST(RecordQemu, RecordsTheProgramsAccessesAndPassesItsOutputThrough) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const Recording r = record(dir, "q.pgt", "--tracer qemu");
  ASSERT_EQ(r.result.status, 0) << r.result.output;
  EXPECT_NE(r.result.output.find("sum "), std::string::npos) << r.result.output;
  expect_the_loop(r);
  for (const traces::Record& rec : r.records) {
    ASSERT_NE(rec.kind, AccessKind::kFetch);
  }
}

// --start-after N leaves the first N accesses out: the same program recorded twice (a
// static, non-PIE target: the same number of accesses each run) gives N records fewer, and
// the program's own loop, after its start-up, is still all there.
TEST(RecordQemu, StartAfterLeavesTheFirstAccessesOut) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const Recording full = record(dir, "full.pgt", "--tracer qemu");
  const Recording part = record(dir, "part.pgt", "--tracer qemu --start-after 1000");
  ASSERT_EQ(part.result.status, 0) << part.result.output;
  EXPECT_NE(part.result.output.find("the first 1000 left out"), std::string::npos)
      << part.result.output;
  ASSERT_GT(full.records.size(), 1000u);
  EXPECT_EQ(part.records.size(), full.records.size() - 1000);
  expect_the_loop(part);  // the program's own loop comes after its start-up
  const CommandResult bad = run_command(pagesim("trace record --start-after lots -- true"));
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--start-after: 'lots'"), std::string::npos) << bad.output;
}

// qemu-user records the process it starts: `sh -c '/bin/true & wait; exec /bin/true'` forks
// one child (the background job) and then replaces itself (exec): 2 processes left out, said
// at the end; --strict makes that an error with no file. Threads are the process's own
// (clone with CLONE_THREAD): tests/record_target.c makes none, and nothing is reported.
TEST(RecordQemu, ProcessesLeftOutAreCountedAndStrictRefusesThem) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const std::string sh = " -- /bin/sh -c '/bin/true & wait; exec /bin/true'";
  CommandResult r = run_command(
      pagesim("trace record --progress never -o " + dir.file("a.pgt") + " --tracer qemu" + sh));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: 2 processes that /bin/sh started"), std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("a.pgt")));
  r = run_command(pagesim("trace record --progress never --strict -o " + dir.file("b.pgt") +
                          " --tracer qemu" + sh));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("2 processes that /bin/sh started"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.pgt")));
  const Recording alone = record(dir, "c.pgt", "--tracer qemu --strict");
  EXPECT_EQ(alone.result.status, 0) << alone.result.output;
  EXPECT_EQ(alone.result.output.find("not recorded"), std::string::npos) << alone.result.output;
  r = run_command(pagesim("trace record --tracer lackey --strict -- true"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("lackey cannot count"), std::string::npos) << r.output;
}

// --roi-markers: record_target.c executes the marker (xchg %bx,%bx) before its loop and
// after it, so the trace holds `!roi begin` and `!roi end` with exactly the loop's accesses
// between them: a store and a load per 64-byte line, 64 passes over 64 pages (the loop keeps
// its variables in registers). The replay counts only that region. --start-at-marker
// records from the first marker on.
TEST(RecordQemu, MarkersBoundTheRegionOfInterest) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const Recording r = record(dir, "m.pgt", "--tracer qemu --roi-markers");
  ASSERT_EQ(r.result.status, 0) << r.result.output;
  std::vector<std::size_t> marks;
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    if (r.records[i].is_event()) marks.push_back(i);
  }
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(r.records[marks[0]].op, traces::EventOp::kRoiBegin);
  EXPECT_EQ(r.records[marks[1]].op, traces::EventOp::kRoiEnd);
  const std::vector<traces::Record> inside(r.records.begin() + std::ptrdiff_t(marks[0]) + 1,
                                           r.records.begin() + std::ptrdiff_t(marks[1]));
  EXPECT_EQ(inside.size(), 2 * kTargetAccessesPerKind);
  EXPECT_EQ(inside, in_data(r));  // every access of the region is the loop's, in order
  const CommandResult replay =
      run_command(pagesim("replay " + dir.file("m.pgt") + " --quiet --csv " + dir.file("s.csv")));
  ASSERT_EQ(replay.status, 0) << replay.output;
  EXPECT_EQ(read_csv_stats(dir.file("s.csv"))["sim.accesses"], double(2 * kTargetAccessesPerKind));

  const Recording from = record(dir, "f.pgt", "--tracer qemu --start-at-marker");
  ASSERT_EQ(from.result.status, 0) << from.result.output;
  ASSERT_FALSE(from.records.empty());
  EXPECT_EQ(from.records.front().op, traces::EventOp::kRoiBegin);
  EXPECT_EQ(from.records.size(), r.records.size() - marks[0]);
  const CommandResult none =
      run_command(pagesim("trace record --progress never -o " + dir.file("n.pgt") +
                          " --tracer qemu --start-at-marker -- /bin/true"));
  EXPECT_EQ(none.status, 1) << none.output;
  EXPECT_NE(none.output.find("never executed the marker instruction"), std::string::npos)
      << none.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("n.pgt")));
  const CommandResult lackey =
      run_command(pagesim("trace record --tracer lackey --roi-markers -- true"));
  EXPECT_EQ(lackey.status, 2) << lackey.output;
}

TEST(RecordQemu, AFailingCommandStillLeavesItsTrace) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const Recording r = record(dir, "f.pgt", "--tracer qemu", "7");
  EXPECT_EQ(r.result.status, 3) << r.result.output;
  EXPECT_NE(r.result.output.find("exited with status 7"), std::string::npos) << r.result.output;
  expect_the_loop(r);
}

TEST(RecordQemu, AScriptIsRefusedNamingItsInterpreter) {
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const std::string script = dir.file("s.sh");
  write_text(script, "#!/bin/sh\ntrue\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  const CommandResult r =
      run_command(pagesim("trace record --tracer qemu -o " + dir.file("s.pgt") + " -- " + script));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("is a script (#!/bin/sh), and qemu-user does not follow exec: name "
                          "the interpreter (pagesim trace record -- /bin/sh " +
                          script + " ...) or use --tracer lackey"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.pgt")));
}

std::uint64_t count_kind(const std::vector<traces::Record>& records, AccessKind kind) {
  std::uint64_t n = 0;
  for (const traces::Record& r : records) {
    n += r.kind == kind;
  }
  return n;
}

// |a - b| <= 1% of the larger.
void expect_within_one_percent(std::uint64_t a, std::uint64_t b, const char* what) {
  const double larger = double(std::max(a, b));
  EXPECT_LE(double(a > b ? a - b : b - a), 0.01 * larger) << what << ": " << a << " vs " << b;
}

// The same program under both tracers, with fetches. The program's own accesses are the same
// records in the same order (expect_the_loop); the whole process's counts differ a little,
// because the two run it differently around its loop: valgrind and qemu present different
// CPUs (CPUID), so static glibc picks different string routines at start-up (IRELATIVE
// ifuncs); qemu's TCG splits a 16- or 32-byte vector access into 8-byte pieces, lackey
// reports it whole; and the initial stack (auxv, environment) differs. On this program that
// is about 0.5 % of the records (64 passes of the loop against a few thousand start-up
// accesses and instructions).
TEST(RecordBothTracers, CountsAgreeWithinOnePercentAndTheProgramsOwnAccessesMatch) {
  SKIP_WITHOUT("valgrind");
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  const Recording q = record(dir, "q.pgt", "--tracer qemu --fetches");
  const Recording l = record(dir, "l.pgt", "--tracer lackey --fetches");
  ASSERT_EQ(q.result.status, 0) << q.result.output;
  ASSERT_EQ(l.result.status, 0) << l.result.output;
  expect_within_one_percent(q.records.size(), l.records.size(), "records");
  for (AccessKind kind : {AccessKind::kRead, AccessKind::kWrite, AccessKind::kFetch}) {
    expect_within_one_percent(count_kind(q.records, kind), count_kind(l.records, kind),
                              std::string(1, access_kind_letter(kind)).c_str());
  }
  // The array lies at the same address (static, not PIE), and the accesses to it are the
  // loop's, record for record, under both: identical footprints (64 pages) there.
  ASSERT_EQ(q.data_begin, l.data_begin);
  expect_the_loop(q);
  expect_the_loop(l);
  EXPECT_EQ(in_data(q), in_data(l));
  // The whole processes' footprints legitimately differ: the stacks lie at different places
  // (valgrind's near 0x1fff000000, qemu-user's below 0x4000800000) and start-up differs.
}

// Distinct 4 KiB pages the accesses touch (an access crossing a page end touches both).
std::uint64_t touched_pages(const std::vector<traces::Record>& records) {
  std::set<std::uint64_t> pages;
  for (const traces::Record& r : records) {
    for (std::uint64_t page = r.address >> 12; page <= (r.address + r.size - 1) >> 12; ++page) {
      pages.insert(page);
    }
  }
  return pages.size();
}

void write_trace(const std::string& path, const std::vector<traces::Record>& records) {
  auto writer = traces::create_writer(path, traces::Format::kBinary);
  writer->write(records);
  writer->finish();
}

std::map<std::string, double> replay_stats(const TempDir& dir, const std::string& trace) {
  const CommandResult r =
      run_command(pagesim("replay " + trace + " --quiet --csv " + dir.file("s.csv")));
  EXPECT_EQ(r.status, 0) << r.output;
  return read_csv_stats(dir.file("s.csv"));
}

// Replays of both recordings (native mode, default configuration).
TEST(RecordBothTracers, ReplayStatistics) {
  SKIP_WITHOUT("valgrind");
  SKIP_WITHOUT("qemu-x86_64");
  TempDir dir;
  for (const char* tracer : {"qemu", "lackey"}) {
    SCOPED_TRACE(tracer);
    const Recording r =
        record(dir, std::string(tracer) + ".pgt", std::string("--tracer ") + tracer + " --fetches");
    ASSERT_EQ(r.result.status, 0) << r.result.output;
    // The whole process: every record is replayed, and the OS model faults each touched page
    // in once (demand paging, 4 KiB pages by default).
    auto whole = replay_stats(dir, dir.file(std::string(tracer) + ".pgt"));
    EXPECT_EQ(whole["sim.accesses"], double(r.records.size()));
    EXPECT_EQ(whole["os.page_faults"], double(touched_pages(r.records)));
    // The program's own array alone, the same records under both tracers: 64 consecutive
    // pages, 64 passes. The L1 dTLB (64 entries, 4 ways, 16 sets) holds all 64 pages (4 per
    // set) and the STLB too, so each page misses both once, at its first touch, and faults
    // once; every other access hits the L1.
    write_trace(dir.file("data.pgt"), in_data(r));
    auto data = replay_stats(dir, dir.file("data.pgt"));
    EXPECT_EQ(data["sim.accesses"], double(2 * kTargetAccessesPerKind));
    EXPECT_EQ(data["os.page_faults"], double(kTargetPages));
    EXPECT_EQ(data["tlb.l1d.misses"], double(kTargetPages));
    EXPECT_EQ(data["tlb.l2.misses"], double(kTargetPages));
    EXPECT_EQ(data["tlb.l1d.hits"], double(2 * kTargetAccessesPerKind - kTargetPages));
  }
}

// The bundled recording (traces/examples/xz_compress.pgt: xz -1 under qemu, with fetches;
// its counts are checked in traces/example_recording_test.cc) replayed natively with the
// default configuration. The simulator is deterministic, so these are facts of the fixed file.
TEST(ExampleRecording, ReplaySummary) {
  TempDir dir;
  const std::string trace = std::string(PAGESIM_SOURCE_DIR) + "/traces/examples/xz_compress.pgt";
  std::vector<traces::Record> records;
  {
    auto reader = traces::open_trace(trace);
    std::vector<traces::Record> batch(4096);
    while (std::size_t n = reader->read(batch)) {
      records.insert(records.end(), batch.begin(), batch.begin() + std::ptrdiff_t(n));
    }
  }
  ASSERT_EQ(records.size(), 3733532u);  // `pagesim trace info`
  auto s = replay_stats(dir, trace);
  EXPECT_EQ(s["sim.accesses"], 3733532);
  // Demand paging: one fault per distinct 4 KiB page touched (636, counted here from the
  // records).
  const std::uint64_t pages = touched_pages(records);
  EXPECT_EQ(s["os.page_faults"], double(pages));
  // Each page misses the STLB at its first touch and never again: the STLB (1536 entries,
  // 12 ways: 128 sets indexed by the page number's low 7 bits) keeps them all when no set
  // gets more than 12 of them, which the records show.
  std::map<std::uint64_t, std::set<std::uint64_t>> by_set;
  for (const traces::Record& r : records) {
    for (std::uint64_t page = r.address >> 12; page <= (r.address + r.size - 1) >> 12; ++page) {
      by_set[page % 128].insert(page);
    }
  }
  std::size_t fullest = 0;
  for (const auto& [set, members] : by_set) {
    fullest = std::max(fullest, members.size());
  }
  ASSERT_LE(fullest, 12u);
  EXPECT_EQ(s["tlb.l2.misses"], double(pages));
  // Each L1 miss, data or instruction, is one STLB lookup.
  EXPECT_EQ(s["tlb.l1d.misses"] + s["tlb.l1i.misses"], s["tlb.l2.hits"] + s["tlb.l2.misses"]);
  // The first touch of each page misses its L1 TLB: at least as many dTLB misses as data
  // pages (loads and stores) and iTLB misses as code pages (fetches), counted from the
  // records. (The exact numbers depend on the L1 geometry and replacement: not asserted.)
  std::set<std::uint64_t> data_pages, code_pages;
  for (const traces::Record& r : records) {
    auto& into = r.kind == AccessKind::kFetch ? code_pages : data_pages;
    for (std::uint64_t page = r.address >> 12; page <= (r.address + r.size - 1) >> 12; ++page) {
      into.insert(page);
    }
  }
  EXPECT_GE(s["tlb.l1d.misses"], double(data_pages.size()));
  EXPECT_GE(s["tlb.l1i.misses"], double(code_pages.size()));
}

}  // namespace
}  // namespace pagesim::testing
