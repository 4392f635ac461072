#include "models/paging/ept_entry.h"

#include <gtest/gtest.h>

namespace pagesim::ept {
namespace {

// Bit positions from the SDM Vol. 3C tables, as Linux's vmx.h names them
// (VMX_EPT_READABLE_MASK 0x1, WRITABLE 0x2, EXECUTABLE 0x4, VMX_EPT_MT_EPTE_SHIFT 3,
// VMX_EPT_IPAT_BIT 1 << 6, VMX_EPT_ACCESS_BIT 1 << 8, VMX_EPT_DIRTY_BIT 1 << 9).
static_assert(kRead == 0x1 && kWrite == 0x2 && kExecute == 0x4);
static_assert(kMemoryTypeShift == 3 && kIgnorePat == 0x40 && kPs == 0x80);
static_assert(kAccessed == 0x100 && kDirty == 0x200);
// EPTP: VMX_EPTP_MT_WB 0x6, VMX_EPTP_PWL_4 0x18, VMX_EPTP_PWL_5 0x20, VMX_EPTP_AD_ENABLE_BIT.
static_assert(make_eptp(Hpa(0x1000), 4, false) == (0x1000 | 0x18 | 0x6));
static_assert(make_eptp(Hpa(0x1000), 5, true) == (0x1000 | 0x20 | 0x40 | 0x6));

TEST(EptEntry, Eptp) {
  const std::uint64_t eptp = make_eptp(Hpa(0x12345000), 4, true);
  EXPECT_EQ(eptp_root(eptp), Hpa(0x12345000));
  EXPECT_EQ(eptp_levels(eptp), 4u);
  EXPECT_TRUE(eptp_ad_enabled(eptp));
  EXPECT_EQ(eptp_memory_type(eptp), kMemoryTypeWb);
  EXPECT_EQ(eptp_levels(make_eptp(Hpa(0), 5, false)), 5u);
  EXPECT_FALSE(eptp_ad_enabled(make_eptp(Hpa(0), 5, false)));
}

TEST(EptEntry, LeavesAndTables) {
  const std::uint64_t leaf = make_leaf_entry(Hpa(0x40000000), PageSize::k1G);
  EXPECT_EQ(leaf, 0x40000000u | kRwx | (6u << 3) | kPs);
  const EptView v = decode(leaf, 3);
  EXPECT_TRUE(v.present && v.read && v.write && v.execute && v.leaf);
  EXPECT_EQ(v.size, PageSize::k1G);
  EXPECT_EQ(v.memory_type, kMemoryTypeWb);
  EXPECT_FALSE(v.accessed || v.dirty || v.ignore_pat);
  EXPECT_EQ(v.address, Hpa(0x40000000));
  // PS is reserved at level 4: a table reference there.
  EXPECT_FALSE(decode(leaf, 4).leaf);

  const std::uint64_t table = make_table_entry(Hpa(0x5000));
  EXPECT_EQ(table, 0x5000u | kRwx);
  EXPECT_FALSE(decode(table, 2).leaf);
  EXPECT_TRUE(decode(make_leaf_entry(Hpa(0x7000), PageSize::k4K), 1).leaf);
  EXPECT_EQ(decode(make_leaf_entry(Hpa(0x7000), PageSize::k4K) | kAccessed | kDirty, 1).dirty,
            true);

  // Present means any of R/W/X: execute-only is present, zero is not.
  EXPECT_TRUE(is_present(kExecute));
  EXPECT_FALSE(is_present(kAccessed | kDirty | 0x5000));
}

TEST(EptEntry, NptUsesX86Entries) {
  const std::uint64_t leaf = make_leaf_entry(Hpa(0x200000), PageSize::k2M, NestedFormat::kNpt);
  EXPECT_EQ(leaf, 0x200000u | paging::pte::kPresent | paging::pte::kRw | paging::pte::kUser |
                      paging::pte::kPs);
  const FormatBits npt = format_bits(NestedFormat::kNpt);
  EXPECT_EQ(npt.accessed, paging::pte::kAccessed);
  EXPECT_EQ(npt.dirty, paging::pte::kDirty);
  EXPECT_EQ(npt.present_mask, paging::pte::kPresent);
  const FormatBits e = format_bits(NestedFormat::kEpt);
  EXPECT_EQ(e.accessed, kAccessed);
  EXPECT_EQ(e.present_mask, kRwx);
  // Rights: EPT W/X bits; NPT R/W and XD.
  EXPECT_EQ(rights_of(kRead | kExecute, NestedFormat::kEpt),
            paging::pte::kAllowUser | paging::pte::kAllowExecute);
  EXPECT_EQ(rights_of(paging::pte::kPresent | paging::pte::kXd, NestedFormat::kNpt),
            paging::pte::kAllowUser);
}

}  // namespace
}  // namespace pagesim::ept
