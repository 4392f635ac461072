// Tests of the page-walk cache-latency model. Expectations come from the geometry (sets =
// size / (line_bytes * ways), set = line mod sets, LRU per set) and are written beside
// each assertion.
#include "models/cache/cache_hierarchy.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <variant>

namespace pagesim::cache {
namespace {

// A tiny hierarchy whose sets are easy to reason about, 64-byte lines:
//   L1  2 sets x 2 ways (256 B),  4 cycles
//   L2  4 sets x 2 ways (512 B), 14 cycles
//   LLC 8 sets x 2 ways (1 KiB), 60 cycles;  DRAM +210: an LLC miss costs 270.
CacheParams tiny() {
  CacheParams p;
  p.line_bytes = 64;
  p.l1 = CacheLevelParams{.size = {2 * 2 * 64}, .ways = 2, .latency = Cycles(4)};
  p.l2 = CacheLevelParams{.size = {4 * 2 * 64}, .ways = 2, .latency = Cycles(14)};
  p.llc = CacheLevelParams{.size = {8 * 2 * 64}, .ways = 2, .latency = Cycles(60)};
  p.dram.latency = Cycles(210);
  return p;
}
constexpr Cycles kL1(4), kL2(14), kLlc(60), kMiss(270);

// The byte address of line number n.
Hpa line(std::uint64_t n) { return Hpa(n * 64); }

TEST(CacheHierarchy, ColdMissThenHitInL1) {
  stats::Group root(nullptr, "");
  CacheHierarchy c(tiny(), &root);
  EXPECT_EQ(c.access(Hpa(0x1008), false), kMiss);       // cold: LLC miss, DRAM
  EXPECT_EQ(c.access(Hpa(0x1008), false), kL1);         // filled into every level
  EXPECT_EQ(c.access(Hpa(0x1000 + 63), false), kL1);    // same 64-byte line
  EXPECT_EQ(c.access(Hpa(0x1000 + 64), false), kMiss);  // the next line
  EXPECT_EQ(c.l1().stats().hits.value(), 2u);
  EXPECT_EQ(c.l1().stats().misses.value(), 2u);
  EXPECT_EQ(c.l2().stats().misses.value(), 2u);
  EXPECT_EQ(c.llc().stats().misses.value(), 2u);
  EXPECT_EQ(c.dram_stats().accesses.value(), 2u);

  std::set<std::string> paths;
  for (const stats::Row& row : stats::collect(root)) {
    paths.insert(row.path);
  }
  for (const char* name : {"cache.l1.hits", "cache.l1.misses", "cache.l2.hits", "cache.l2.misses",
                           "cache.llc.hits", "cache.llc.misses", "cache.dram.accesses"}) {
    EXPECT_TRUE(paths.count(name)) << name;
  }
}

// Lines 0, 2, 4 share L1 set 0 (line mod 2) of 2 ways: 4 evicts 0 from the L1. In the L2
// (4 sets) 0 and 4 share set 0 and 2 is in set 2, so 0 is still there: an L2 hit.
TEST(CacheHierarchy, HitInL2AfterL1Eviction) {
  CacheHierarchy c(tiny(), nullptr);
  for (std::uint64_t n : {0, 2, 4}) {
    EXPECT_EQ(c.access(line(n), false), kMiss);
  }
  EXPECT_EQ(c.access(line(0), false), kL2);
  EXPECT_EQ(c.access(line(0), false), kL1);  // the L2 hit filled the L1
  // That fill evicted the L1's least recent line of set 0: 2 (used before 4).
  EXPECT_EQ(c.probe(line(4)), kL1);
  EXPECT_EQ(c.probe(line(2)), kL2);
}

// Lines 0, 4, 8 share L1 set 0 and L2 set 0 (line mod 4); in the LLC (8 sets) 0 and 8
// share set 0 and 4 is in set 4. After 0, 4, 8 the L1 and L2 have lost 0, the LLC has not.
TEST(CacheHierarchy, HitInLlcAfterL2Eviction) {
  CacheHierarchy c(tiny(), nullptr);
  for (std::uint64_t n : {0, 4, 8}) {
    c.access(line(n), false);
  }
  EXPECT_EQ(c.access(line(0), false), kLlc);
  EXPECT_EQ(c.access(line(0), false), kL1);
  EXPECT_EQ(c.llc().stats().hits.value(), 1u);
}

// Lines 0, 8, 16 share set 0 at every level (line mod 2, 4, 8); with 2 ways each, 16 evicts
// 0 everywhere: DRAM again.
TEST(CacheHierarchy, DramAfterLlcEviction) {
  CacheHierarchy c(tiny(), nullptr);
  for (std::uint64_t n : {0, 8, 16}) {
    c.access(line(n), false);
  }
  EXPECT_EQ(c.access(line(0), false), kMiss);
  EXPECT_EQ(c.dram_stats().accesses.value(), 4u);
  EXPECT_EQ(c.llc().stats().evictions.value(), 2u);  // 16 evicted 0, then 0 evicted 8
}

// LRU within a set: 0 and 2 fill L1 set 0; touching 0 makes 2 the least recent, so 4
// evicts 2, not 0. Set 1 (line 1) is not involved.
TEST(CacheHierarchy, LruEvictionPerSet) {
  CacheHierarchy c(tiny(), nullptr);
  c.access(line(1), false);
  c.access(line(0), false);
  c.access(line(2), false);
  EXPECT_EQ(c.access(line(0), false), kL1);
  c.access(line(4), false);
  EXPECT_EQ(c.probe(line(0)), kL1);
  EXPECT_EQ(c.probe(line(2)), kL2);
  EXPECT_EQ(c.probe(line(1)), kL1);
  EXPECT_EQ(c.l1().stats().evictions.value(), 1u);
}

// Non-inclusive: an outer level's eviction leaves the inner copy. L1 one set of 4 ways,
// L2 and LLC one line each: line 1 evicts line 0 from the L2 and LLC, not from the L1.
TEST(CacheHierarchy, NoBackInvalidation) {
  CacheParams p = tiny();
  p.l1 = CacheLevelParams{.size = {4 * 64}, .ways = 4, .latency = Cycles(4)};
  p.l2 = CacheLevelParams{.size = {64}, .ways = 1, .latency = Cycles(14)};
  p.llc = CacheLevelParams{.size = {64}, .ways = 1, .latency = Cycles(60)};
  CacheHierarchy c(p, nullptr);
  c.access(line(0), false);
  c.access(line(1), false);
  EXPECT_EQ(c.access(line(0), false), kL1);
}

// An A/D update (write) is timed and filled as a read.
TEST(CacheHierarchy, WriteIsTimedAsARead) {
  CacheHierarchy c(tiny(), nullptr);
  EXPECT_EQ(c.access(line(3), true), kMiss);
  EXPECT_EQ(c.access(line(3), false), kL1);
  EXPECT_EQ(c.access(line(3), true), kL1);
}

TEST(CacheHierarchy, ProbeHasNoSideEffects) {
  CacheHierarchy c(tiny(), nullptr);
  EXPECT_EQ(c.probe(line(5)), kMiss);
  EXPECT_EQ(c.l1().stats().misses.value() + c.dram_stats().accesses.value(), 0u);
  EXPECT_EQ(c.access(line(5), false), kMiss);  // the probe filled nothing
  EXPECT_EQ(c.probe(line(5)), kL1);
}

// enabled = false: nothing is cached; every reference pays the LLC and DRAM latencies.
TEST(CacheHierarchy, DisabledCostsDramEveryTime) {
  CacheParams p = tiny();
  p.enabled = false;
  CacheHierarchy c(p, nullptr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.access(line(7), false), kMiss);
  }
  EXPECT_EQ(c.probe(line(7)), kMiss);
  EXPECT_EQ(c.dram_stats().accesses.value(), 3u);
  EXPECT_EQ(c.l1().stats().hits.value() + c.l1().stats().misses.value(), 0u);
}

// The default (Skylake-SP) hierarchy: a cold reference costs LLC 60 + DRAM 210 = 270
// cycles, a repeat the L1's 4 (cache_params.h).
TEST(CacheHierarchy, SkylakeDefaults) {
  CacheHierarchy c(CacheParams{}, nullptr);
  EXPECT_EQ(c.access(Hpa(0x12345678), false), Cycles(270));
  EXPECT_EQ(c.access(Hpa(0x12345678), false), Cycles(4));
  // 32 KiB 8-way L1 of 64-byte lines: 64 sets. Nine lines 64 lines apart share a set: the
  // first is evicted from the L1 (1 MiB 16-way L2: 1024 sets, the nine are in 9 of them).
  for (std::uint64_t i = 0; i < 9; ++i) {
    c.access(Hpa(0x40000000 + i * 64 * 64), false);
  }
  EXPECT_EQ(c.probe(Hpa(0x40000000)), Cycles(14));
}

TEST(CacheHierarchy, RejectsImpossibleGeometry) {
  CacheParams p = tiny();
  p.l2.size = {3 * 2 * 64};  // 3 sets
  EXPECT_THROW(CacheHierarchy(p, nullptr), std::invalid_argument);
  p = tiny();
  p.l1.size = {100};  // not whole sets
  EXPECT_THROW(CacheHierarchy(p, nullptr), std::invalid_argument);
}

// cache.data: data references are served, filled and timed as page-table references, and
// counted apart (cache.data.*), so they evict page-table lines: the tiny L1 has 2 sets of
// 2 ways, lines 0, 2 and 4 share set 0.
TEST(CacheHierarchy, DataAccessesCompeteWithPageTableLines) {
  CacheParams p = tiny();
  p.data = true;
  stats::Group root(nullptr, "");
  CacheHierarchy c(p, &root);
  ASSERT_TRUE(c.data_enabled());
  EXPECT_EQ(c.access(line(0), false), kMiss);  // a page-table line, cold
  EXPECT_EQ(c.access_data(line(2)), kMiss);    // data, cold: set 0 now holds 2, 0
  EXPECT_EQ(c.access_data(line(2)), kL1);
  EXPECT_EQ(c.access_data(line(4)), kMiss);  // set 0 holds 4, 2: the table line is out
  EXPECT_EQ(c.access(line(0), false), kL2);  // so the walker finds it in the L2 only
  EXPECT_EQ(c.access_data(line(4)), kL1);    // line 4 is still in set 0 (0 went to way 1)
  c.repeat_data_l1_hits(2);                  // two more to line 4, the MRU of its L1 set
  std::map<std::string, std::uint64_t> v;
  for (const stats::Row& row : stats::collect(root)) {
    if (const auto* n = std::get_if<std::uint64_t>(&row.value)) v[row.path] = *n;
  }
  EXPECT_EQ(v["cache.data.accesses"], 6u);  // 3 served + 3 repeated
  EXPECT_EQ(v["cache.data.l1_hits"], 4u);   // 1 + 3
  EXPECT_EQ(v["cache.data.dram"], 2u);
  EXPECT_EQ(v["cache.data.cycles"], 2 * 270u + 4 * 4u);
  // The page-table counters saw the two table references only.
  EXPECT_EQ(v["cache.l1.hits"] + v["cache.l1.misses"], 2u);
  EXPECT_EQ(v["cache.l2.hits"], 1u);
  EXPECT_EQ(v["cache.dram.accesses"], 1u);
}

// Without cache.data there are no cache.data rows (outputs stay as they were).
TEST(CacheHierarchy, NoDataRowsWithoutTheKey) {
  stats::Group root(nullptr, "");
  CacheHierarchy c(tiny(), &root);
  EXPECT_FALSE(c.data_enabled());
  for (const stats::Row& row : stats::collect(root)) {
    EXPECT_FALSE(row.path.starts_with("cache.data")) << row.path;
  }
}

// Disabled caches: a data access costs the DRAM path and counts as one.
TEST(CacheHierarchy, DisabledDataAccessesGoToDram) {
  CacheParams p = tiny();
  p.enabled = false;
  p.data = true;
  stats::Group root(nullptr, "");
  CacheHierarchy c(p, &root);
  EXPECT_EQ(c.access_data(line(1)), kMiss);
  EXPECT_EQ(c.access_data(line(1)), kMiss);
  std::uint64_t dram = 0;
  for (const stats::Row& row : stats::collect(root)) {
    if (row.path == "cache.data.dram") dram = std::get<std::uint64_t>(row.value);
  }
  EXPECT_EQ(dram, 2u);
}

}  // namespace
}  // namespace pagesim::cache
