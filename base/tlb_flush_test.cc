// TlbFlush::merge: the smallest scope covering both requests.
#include "base/tlb_flush.h"

#include <gtest/gtest.h>

namespace pagesim {
namespace {

TEST(TlbFlush, MergeWidensToTheSmallestCoveringScope) {
  const Gva a(0x1000);
  const Gva b(0x2000);
  // Nothing is the identity, everything absorbs.
  EXPECT_EQ(TlbFlush::none().merge(TlbFlush::page(a, 3)), TlbFlush::page(a, 3));
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::none()), TlbFlush::page(a, 3));
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::all()), TlbFlush::all());
  EXPECT_EQ(TlbFlush::all().merge(TlbFlush::one_pcid(3)), TlbFlush::all());
  // One page twice stays one page; two pages of a PCID make the PCID.
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::page(a, 3)), TlbFlush::page(a, 3));
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::page(b, 3)), TlbFlush::one_pcid(3));
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::one_pcid(3)), TlbFlush::one_pcid(3));
  EXPECT_EQ(TlbFlush::one_pcid(3).merge(TlbFlush::page(b, 3)), TlbFlush::one_pcid(3));
  // Two PCIDs make everything.
  EXPECT_EQ(TlbFlush::page(a, 3).merge(TlbFlush::page(a, 4)), TlbFlush::all());
  EXPECT_EQ(TlbFlush::one_pcid(3).merge(TlbFlush::one_pcid(4)), TlbFlush::all());
}

}  // namespace
}  // namespace pagesim
