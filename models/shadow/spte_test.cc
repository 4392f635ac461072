// spte.h directly: the bits of a shadow leaf, written out from the x86-64 entry format
// (Intel SDM Vol. 3A, Table 4-19 and 4-18: P bit 0, R/W 1, U/S 2, A 5, D 6, PS 7, XD 63)
// and KVM's rules (spte.c make_spte, mmu.c need_remote_flush, paging_tmpl.h
// protect_clean_gpte).
#include "models/shadow/spte.h"

#include "gtest/gtest.h"

namespace pagesim::shadow::spte {
namespace {

constexpr std::uint64_t kXd = std::uint64_t{1} << 63;

TEST(Spte, A4KLeafWithEveryRight) {
  // P | R/W | U/S | A | D = 0x67; execution allowed: no XD.
  EXPECT_EQ(make_spte(Hpa(0x12345000), 1, pte::kAllRights, true, true), 0x12345067u);
}

TEST(Spte, APrefetchedLeafHasNoAccessedBit) {
  // A prefetched (speculative) SPTE: P | R/W | U/S | D = 0x47.
  EXPECT_EQ(make_spte(Hpa(0x12345000), 1, pte::kAllRights, true, false), 0x12345047u);
}

TEST(Spte, A2MLeafMasksItsFrameAndSetsPs) {
  // Level 2: the frame to 2 MiB (0x40000000 of 0x40012345 with the low 21 bits cleared),
  // P | U/S | A | PS = 0xa5; read-only (no R/W, no D); no execution: XD.
  EXPECT_EQ(make_spte(Hpa(0x40012345), 2, pte::kAllowUser, false, true), 0x400000a5u | kXd);
  // A kernel page (no U/S), read-only, executable: P | A | PS = 0xa1.
  EXPECT_EQ(make_spte(Hpa(0x40000000), 2, pte::kAllowExecute, false, true), 0x400000a1u);
}

TEST(Spte, RemoteFlushWhenAPresentEntryLosesSomething) {
  const std::uint64_t rw = make_spte(Hpa(0x1000), 1, pte::kAllRights, true, true);
  const std::uint64_t ro =
      make_spte(Hpa(0x1000), 1, pte::kAllowUser | pte::kAllowExecute, false, true);
  EXPECT_FALSE(need_remote_flush(0, rw));  // nothing was there to cache
  EXPECT_TRUE(need_remote_flush(rw, 0));   // gone
  EXPECT_TRUE(need_remote_flush(rw, make_spte(Hpa(0x2000), 1, pte::kAllRights, true, true)));
  EXPECT_TRUE(need_remote_flush(rw, ro));         // lost W
  EXPECT_FALSE(need_remote_flush(ro, rw));        // gained W: a stale entry only faults again
  EXPECT_TRUE(need_remote_flush(rw, rw | kXd));   // lost execution
  EXPECT_FALSE(need_remote_flush(rw | kXd, rw));  // gained it
  EXPECT_FALSE(need_remote_flush(rw, rw & ~pte::kAccessed));  // A alone: no flush
}

TEST(Spte, ACleanGuestLeafGivesNoWrite) {
  const std::uint64_t clean = 0x5000 | pte::kPresent | pte::kRw;
  EXPECT_EQ(protect_clean_gpte(pte::kAllRights, clean), pte::kAllowUser | pte::kAllowExecute);
  EXPECT_EQ(protect_clean_gpte(pte::kAllRights, clean | pte::kDirty), pte::kAllRights);
}

TEST(Spte, PagesPerLevel) {
  EXPECT_EQ(pages_per_hpage(1), 1u);
  EXPECT_EQ(pages_per_hpage(2), 512u);
  EXPECT_EQ(pages_per_hpage(3), 512u * 512u);
}

}  // namespace
}  // namespace pagesim::shadow::spte
