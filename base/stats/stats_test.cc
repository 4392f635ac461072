#include "base/stats/stats.h"

#include <gtest/gtest.h>

namespace pagesim::stats {
namespace {

struct TlbStats : Group {
  using Group::Group;
  Counter hits{*this, "hits", "lookups that matched"};
  Counter misses{*this, "misses", "lookups that did not"};
  Formula hit_rate{*this, "hit_rate", "hits / lookups", [this] {
                     return ratio(double(hits.value()), double(hits.value() + misses.value()));
                   }};
  Histogram refs{*this, "refs", "refs per walk", 4};
};

TEST(Stats, PathsAreDottedAndSorted) {
  Group root(nullptr, "");
  TlbStats l1d(&root, "tlb.l1d");
  Group sim(&root, "sim");
  Counter accesses(sim, "accesses", "trace records");
  ++l1d.hits;
  l1d.misses += 3;
  accesses += 4;
  l1d.refs.sample(1);
  l1d.refs.sample(9, 2);  // past the last bin: counted in ">=3"
  auto rows = collect(root);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].path, "sim.accesses");
  EXPECT_EQ(rows[1].path, "tlb.l1d.hit_rate");
  EXPECT_EQ(std::get<double>(rows[1].value), 0.25);
  EXPECT_EQ(rows[2].path, "tlb.l1d.hits");
  EXPECT_EQ(to_json(rows),
            "{\n  \"sim.accesses\": 4,\n  \"tlb.l1d.hit_rate\": 0.25,\n  \"tlb.l1d.hits\": 1,\n"
            "  \"tlb.l1d.misses\": 3,\n"
            "  \"tlb.l1d.refs\": {\"0\": 0, \"1\": 1, \"2\": 0, \">=3\": 2}\n}\n");
  std::string csv = to_csv(rows);
  EXPECT_NE(csv.find("tlb.l1d.refs[>=3],2,refs per walk\n"), std::string::npos) << csv;
  root.reset();
  EXPECT_EQ(l1d.hits.value(), 0u);
  EXPECT_EQ(l1d.refs.samples(), 0u);
}

TEST(Stats, Log2Bins) {
  Group root(nullptr, "");
  Histogram h(root, "cycles", "", 5, 1, Histogram::Scale::kLog2);
  // bin 0: {0}; bin 1: [1,2); bin 2: [2,4); bin 3: [4,8); bin 4: >= 8
  EXPECT_EQ(h.bin_of(0), 0u);
  EXPECT_EQ(h.bin_of(1), 1u);
  EXPECT_EQ(h.bin_of(3), 2u);
  EXPECT_EQ(h.bin_of(7), 3u);
  EXPECT_EQ(h.bin_of(1000), 4u);
  EXPECT_EQ(h.label(4), ">=8");
}

TEST(Stats, DuplicatePathIsAnError) {
  Group root(nullptr, "");
  Counter a(root, "x", "");
  Counter b(root, "x", "");
  EXPECT_THROW(collect(root), std::logic_error);
}

}  // namespace
}  // namespace pagesim::stats
