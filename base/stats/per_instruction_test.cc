#include "base/stats/per_instruction.h"

#include <gtest/gtest.h>

namespace pagesim::stats {
namespace {

double value(const std::vector<Row>& rows, const std::string& path) {
  for (const Row& r : rows) {
    if (r.path == path) {
      return std::holds_alternative<double>(r.value) ? std::get<double>(r.value)
                                                     : double(std::get<std::uint64_t>(r.value));
    }
  }
  ADD_FAILURE() << "no row " << path;
  return -1;
}

TEST(PerInstruction, MissesPerThousandFetches) {
  std::vector<Row> rows = {
      Row{"sim.cycles", "", std::uint64_t{5000}}, Row{"sim.fetches", "", std::uint64_t{2000}},
      Row{"tlb.l1d.misses", "", std::uint64_t{30}}, Row{"tlb.l2.misses", "", std::uint64_t{3}}};
  add_per_instruction(rows);
  EXPECT_EQ(value(rows, "pki.instructions"), 2000);
  EXPECT_DOUBLE_EQ(value(rows, "pki.tlb.l1d.misses"), 15.0);  // 30 * 1000 / 2000
  EXPECT_DOUBLE_EQ(value(rows, "pki.tlb.l2.misses"), 1.5);
  EXPECT_DOUBLE_EQ(value(rows, "pki.sim.cycles"), 2500.0);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(),
                             [](const Row& a, const Row& b) { return a.path < b.path; }));
  for (const Row& r : rows) {
    EXPECT_NE(r.path, "pki.walker.walks") << "only the counters the run has";
  }
}

TEST(PerInstruction, NoFetchesNoRows) {
  std::vector<Row> rows = {Row{"sim.fetches", "", std::uint64_t{0}},
                           Row{"tlb.l1d.misses", "", std::uint64_t{30}}};
  add_per_instruction(rows);
  EXPECT_EQ(rows.size(), 2u);
}

}  // namespace
}  // namespace pagesim::stats
