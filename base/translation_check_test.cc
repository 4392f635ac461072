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

}  // namespace
}  // namespace pagesim
