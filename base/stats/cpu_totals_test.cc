#include "base/stats/cpu_totals.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pagesim::stats {
namespace {

const Row* find(const std::vector<Row>& rows, const std::string& path) {
  for (const Row& r : rows) {
    if (r.path == path) {
      return &r;
    }
  }
  return nullptr;
}

TEST(CpuTotals, SumsEachCpusTlbCountersAndTheirHitRate) {
  std::vector<Row> rows = {
      {"cpu0.tlb.l1d.hits", "hits", std::uint64_t{30}},
      {"cpu0.tlb.l1d.misses", "misses", std::uint64_t{10}},
      {"cpu0.tlb.l1d.hit_rate", "hits / lookups", 0.75},
      {"cpu1.tlb.l1d.hits", "hits", std::uint64_t{10}},
      {"cpu1.tlb.l1d.misses", "misses", std::uint64_t{50}},
      {"cpu1.sim.accesses", "accesses", std::uint64_t{60}},
      {"sim.accesses", "accesses", std::uint64_t{100}},
  };
  add_cpu_totals(rows);
  ASSERT_NE(find(rows, "tlb.l1d.hits"), nullptr);
  EXPECT_EQ(std::get<std::uint64_t>(find(rows, "tlb.l1d.hits")->value), 40u);
  EXPECT_EQ(std::get<std::uint64_t>(find(rows, "tlb.l1d.misses")->value), 60u);
  // 40 hits of 100 lookups, not the mean of the CPUs' rates.
  EXPECT_DOUBLE_EQ(std::get<double>(find(rows, "tlb.l1d.hit_rate")->value), 0.4);
  EXPECT_EQ(find(rows, "sim.sim.accesses"), nullptr);  // only TLB counters are summed
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(),
                             [](const Row& a, const Row& b) { return a.path < b.path; }));
}

TEST(CpuTotals, PerVmAndNothingWhereTotalsExist) {
  std::vector<Row> rows = {
      {"tlb.l2.misses", "misses", std::uint64_t{7}},
      {"vm1.cpu0.tlb.l2.misses", "misses", std::uint64_t{2}},
      {"vm1.cpu3.tlb.l2.misses", "misses", std::uint64_t{5}},
  };
  add_cpu_totals(rows);
  EXPECT_EQ(std::get<std::uint64_t>(find(rows, "vm1.tlb.l2.misses")->value), 7u);
  EXPECT_EQ(std::get<std::uint64_t>(find(rows, "tlb.l2.misses")->value), 7u);  // unchanged
  EXPECT_EQ(rows.size(), 4u);
}

}  // namespace
}  // namespace pagesim::stats
