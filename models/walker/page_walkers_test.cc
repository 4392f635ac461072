// PageWalkers: the overlap of walks on an out-of-order core (page_walkers.h). Each expected
// charge is worked out from the rule in the header, with one access issued per cycle.
#include "models/walker/page_walkers.h"

#include <stdexcept>

#include "gtest/gtest.h"

namespace pagesim::walker {
namespace {

TEST(PageWalkers, WithoutAWindowEveryWalkIsChargedWhole) {
  PageWalkers w(2, 0, Cycles(1));
  EXPECT_FALSE(w.overlapping());
  EXPECT_EQ(w.charge(0, 0, Cycles(100)), Cycles(100));
  EXPECT_EQ(w.charge(1, 101, Cycles(100)), Cycles(100));
}

TEST(PageWalkers, TwoWalkersHideAYoungerWalkUnderTheFirst) {
  PageWalkers w(2, 8, Cycles(1));
  // Access 0 opens the cluster at time 0: charged whole, the core's time goes to 100 (+1 of
  // access 1's own work: 101).
  EXPECT_EQ(w.charge(0, 0, Cycles(100)), Cycles(100));
  // Access 1 was issued at 0 + 1 x 1 = 1 on the second walker and ends at 101: nothing past
  // the core's time 101.
  EXPECT_EQ(w.charge(1, 101, Cycles(100)), Cycles(0));
  // Access 2, issued at 2: both walkers busy (until 100 and 101), it takes the first free
  // at 100 and ends at 200; the core is at 102: 98 cycles more.
  EXPECT_EQ(w.charge(2, 102, Cycles(100)), Cycles(98));
  // Access 20 is 20 accesses after the cluster's first, outside the window of 8: a new
  // cluster, charged whole.
  EXPECT_EQ(w.charge(20, 300, Cycles(100)), Cycles(100));
}

TEST(PageWalkers, OneWalkerOverlapsOnlyTheWorkBetweenWalks) {
  PageWalkers w(1, 8, Cycles(1));
  EXPECT_EQ(w.charge(0, 0, Cycles(100)), Cycles(100));
  // The one walker is busy until 100; access 1's walk runs from 100 to 200 while the core,
  // at 101, has charged one cycle of other work after the first walk: 99 more.
  EXPECT_EQ(w.charge(1, 101, Cycles(100)), Cycles(99));
}

TEST(PageWalkers, ASerialisingEventClosesTheCluster) {
  PageWalkers w(2, 8, Cycles(1));
  EXPECT_EQ(w.charge(0, 0, Cycles(100)), Cycles(100));
  w.serialise();  // a page fault, MOV CR3, INVLPG: everything older completes first
  EXPECT_EQ(w.charge(1, 101, Cycles(100)), Cycles(100));
}

TEST(PageWalkers, AWalkIssuedAfterTheCoresTimeIsAClusterOfItsOwn) {
  // Issue cost 50 cycles an access: access 3 issues at 150, past the core's time 120 after
  // the first walk of 100 (and 20 cycles of work): it cannot have overlapped anything.
  PageWalkers w(2, 8, Cycles(50));
  EXPECT_EQ(w.charge(0, 0, Cycles(100)), Cycles(100));
  EXPECT_EQ(w.charge(3, 120, Cycles(100)), Cycles(100));
}

TEST(PageWalkers, WalkersAreBetweenOneAndSixteen) {
  EXPECT_THROW(PageWalkers(0, 8, Cycles(1)), std::invalid_argument);
  EXPECT_THROW(PageWalkers(17, 8, Cycles(1)), std::invalid_argument);
}

}  // namespace
}  // namespace pagesim::walker
