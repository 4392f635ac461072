// sim.check's comparison: each way a cached translation can be stale is caught, and the
// legitimate differences (a splintered page, a clean entry over a dirty leaf) are not.
#include "base/translation_check.h"

#include <gtest/gtest.h>

namespace pagesim {
namespace {

constexpr Gva kGva{0x7f0000201234};

Translation two_meg() {
  return Translation{.page_base = Hpa(0x40000000), .size = PageSize::k2M, .dirty = true};
}

TEST(TranslationCheck, AgreesWithItselfAndWithASplinter) {
  const Translation t = two_meg();
  EXPECT_TRUE(translations_agree(kGva, t, t));
  // The 4 KiB piece of the 2 MiB page holding kGva, as a TLB holds it splintered.
  Translation piece = t;
  piece.size = PageSize::k4K;
  piece.page_base = Hpa(t.hpa_of(kGva.value()).value() & ~0xfffULL);
  EXPECT_TRUE(translations_agree(kGva, piece, t));
  // A clean cached entry over a dirty leaf: the next store walks, nothing is wrong.
  piece.dirty = false;
  EXPECT_TRUE(translations_agree(kGva, piece, t));
}

TEST(TranslationCheck, EveryStaleFieldIsCaught) {
  const Translation want = two_meg();
  Translation got = want;
  got.page_base = Hpa(0x80000000);  // another frame
  EXPECT_FALSE(translations_agree(kGva, got, want));
  got = want;
  got.writable = false;  // rights changed
  EXPECT_FALSE(translations_agree(kGva, got, want));
  got = want;
  got.executable = false;
  EXPECT_FALSE(translations_agree(kGva, got, want));
  got = want;
  got.user = false;
  EXPECT_FALSE(translations_agree(kGva, got, want));
  // Larger than the tables' page: a 1 GiB entry over a 2 MiB leaf.
  got = want;
  got.size = PageSize::k1G;
  got.page_base = Hpa(0x40000000);
  EXPECT_FALSE(translations_agree(kGva, got, want));
  // Dirty in the TLB, clean in the tables.
  Translation clean = want;
  clean.dirty = false;
  EXPECT_FALSE(translations_agree(kGva, want, clean));
  // Unmapped in the tables.
  EXPECT_FALSE(translations_agree(kGva, want, std::nullopt));
}

TEST(TranslationCheck, ShadowLeavesMayBeNarrowerButNeverWiderOrElsewhere) {
  Translation want = two_meg();
  want.dirty = false;  // the truth from the guest tables carries no shadow dirty flag
  Translation got = want;
  got.size = PageSize::k4K;  // a guest 2 MiB page on small host pages: small shadow leaves
  got.page_base = Hpa(want.hpa_of(kGva.value()).value() & ~0xfffULL);
  got.writable = false;  // read-only until the guest PTE is dirty
  EXPECT_TRUE(translations_agree(kGva, got, want, true));
  got.writable = true;
  got.dirty = true;
  EXPECT_TRUE(translations_agree(kGva, got, want, true));
  // Wider than the guest allows: stale.
  Translation ro = want;
  ro.writable = false;
  EXPECT_FALSE(translations_agree(kGva, got, ro, true));
  // Another page: stale.
  got.page_base = Hpa(0x90000000);
  EXPECT_FALSE(translations_agree(kGva, got, want, true));
}

TEST(TranslationCheck, TheMessageNamesRecordAccessBothAnswersAndStructure) {
  Translation got = two_meg();
  got.page_base = Hpa(0x80000000);
  const std::string m =
      translation_mismatch(42, AccessKind::kWrite, kGva, 3, got, two_meg(), "TLB STLB");
  EXPECT_NE(m.find("trace record 42"), std::string::npos) << m;
  EXPECT_NE(m.find("W 0x7f0000201234, PCID 3"), std::string::npos) << m;
  EXPECT_NE(m.find("the TLB STLB gives HPA 0x80001234"), std::string::npos) << m;
  EXPECT_NE(m.find("gives HPA 0x40001234"), std::string::npos) << m;
  EXPECT_NE(m.find("stale"), std::string::npos) << m;
  const std::string none =
      translation_mismatch(1, AccessKind::kRead, kGva, 0, got, std::nullopt, "page walk");
  EXPECT_NE(none.find("no translation"), std::string::npos) << none;
}

// The window between a !ptewrite and its INVLPG (sim.interleave=time): the translation
// from before the change is accepted while it is open, and only that one, only for its
// page and address space; once the INVLPG (or a flush of the address space) closes it, the
// same translation is stale again: a missed flush. A window that is never closed would fail
// the EXPECT_FALSEs after each close.
TEST(StaleWindows, AcceptTheOldTranslationOnlyUntilTheFlush) {
  StaleWindows w;
  Translation old{.page_base = Hpa(0x5000), .size = PageSize::k4K, .writable = true, .dirty = true};
  Translation other = old;
  other.page_base = Hpa(0x9000);
  const Gva page(0x7f0000003000);
  w.open(5, page.value(), 4096, 10);
  w.add(page, old);
  EXPECT_TRUE(w.accepts(page + 8, 5, old, false, 11, 1));
  EXPECT_FALSE(w.accepts(page + 8, 5, other, false, 12, 1));   // not the one from before
  EXPECT_FALSE(w.accepts(page + 8, 6, old, false, 12, 1));     // another address space
  EXPECT_FALSE(w.accepts(page + 4096, 5, old, false, 12, 1));  // another page
  EXPECT_NE(w.unflushed_use(), "");                            // used, not yet flushed
  w.close_page(6, page);                                       // another PCID's INVLPG
  EXPECT_TRUE(w.accepts(page, 5, old, false, 13, 0));
  w.close_page(5, page + 100);  // an INVLPG of an address in the page
  EXPECT_FALSE(w.accepts(page + 8, 5, old, false, 14, 1));
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.unflushed_use(), "");
  // Closed by a flush of the address space, or of everything.
  w.open(5, page.value(), 4096, 20);
  w.add(page, old);
  w.close_pcid(5);
  EXPECT_FALSE(w.accepts(page, 5, old, false, 21, 0));
  w.open(5, page.value(), 4096, 22);
  w.add(page, old);
  w.close_all();
  EXPECT_FALSE(w.accepts(page, 5, old, false, 23, 0));
}

TEST(StaleWindows, AUsedWindowNeverClosedIsAMissedFlush) {
  StaleWindows w;
  // A 2 MiB page under 4 KiB pieces (a guest's large page over 4 KiB EPT pages): each
  // piece's own translation from before.
  Translation piece{.page_base = Hpa(0x40000000), .size = PageSize::k4K};
  Translation other = piece;
  other.page_base = Hpa(0x50000000);
  const Gva in_page(0x7f0000212345);  // in the 2 MiB page 0x7f0000200000
  w.open(3, 0x7f0000200000, 2 << 20, 7);
  w.add(Gva(0x7f0000212000), piece);
  w.add(Gva(0x7f0000213000), other);
  const Translation& old = piece;
  EXPECT_FALSE(w.accepts(in_page, 3, other, false, 8, 1));  // the next piece's
  EXPECT_EQ(w.unflushed_use(), "");                         // not used: nothing went stale
  // Used by a record the trace puts before the change (run after it): accepted, and no
  // stale use whether a flush comes or not.
  EXPECT_TRUE(w.accepts(in_page, 3, old, false, 6, 2));
  EXPECT_EQ(w.unflushed_use(), "");
  EXPECT_TRUE(w.accepts(in_page, 3, old, false, 9, 1));
  EXPECT_EQ(w.unflushed_use(),
            "check failed: the !ptewrite at trace record 7 changed the PTE of 0x7f0000200000 "
            "(PCID 3) and no INVLPG of the page followed, but CPU 1 used the translation from "
            "before it at trace record 9 (1 uses in all): a missed flush");
  w.close_page(3, Gva(0x7f00003ff000));  // an INVLPG of any address in the 2 MiB page
  EXPECT_TRUE(w.empty());
}

}  // namespace
}  // namespace pagesim
