#include "base/stats/window.h"

#include <gtest/gtest.h>

namespace pagesim::stats {
namespace {

struct Tree : Group {
  Tree() : Group(nullptr, "") {}
  Group child{this, "c"};
  Counter a{child, "a", ""};
  Histogram h{child, "h", "", 4};
  Formula twice{child, "twice", "", [this] { return 2.0 * static_cast<double>(a.value()); }};
};

TEST(Window, UnusedLeavesTheRunAsItIs) {
  Tree t;
  Window w(t);
  t.a += 5;
  w.settle();
  EXPECT_EQ(t.a.value(), 5u);
}

TEST(Window, CountsOnlyWhatHappensInsideItsWindows) {
  Tree t;
  Window w(t);
  t.a += 3;  // before: not counted
  t.h.sample(1);
  w.open();
  t.a += 4;  // counted
  t.h.sample(2, 2);
  w.close();
  t.a += 100;  // between: not counted
  t.h.sample(3);
  w.open();
  t.a += 1;  // counted, window still open at the end
  w.settle();
  EXPECT_EQ(t.a.value(), 5u);
  EXPECT_EQ(t.h.bins(), (std::vector<std::uint64_t>{0, 0, 2, 0}));
  EXPECT_EQ(t.h.samples(), 2u);
  EXPECT_EQ(t.h.sum(), 4u);
  EXPECT_EQ(t.twice.value(), 10.0);  // formulas follow their counters
}

TEST(Window, RestrictedWithNoWindowCountsNothing) {
  Tree t;
  Window w(t);
  w.restrict();
  t.a += 7;
  w.settle();
  EXPECT_EQ(t.a.value(), 0u);
}

TEST(Window, DiscardForgetsEarlierWindows) {
  Tree t;
  Window w(t);
  w.open();
  t.a += 7;
  w.discard();
  t.a += 1;
  w.open();
  t.a += 2;
  w.settle();
  EXPECT_EQ(t.a.value(), 2u);
}

}  // namespace
}  // namespace pagesim::stats
