#include "models/paging/pte.h"

#include <gtest/gtest.h>

namespace pagesim::paging::pte {
namespace {

TEST(Pte, FlagBitsAreTheSdmPositions) {
  // Intel SDM Vol. 3A, tables 4-15..4-20: P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6,
  // PS 7, G 8, XD 63.
  EXPECT_EQ(kPresent, 1ull << 0);
  EXPECT_EQ(kRw, 1ull << 1);
  EXPECT_EQ(kUser, 1ull << 2);
  EXPECT_EQ(kPwt, 1ull << 3);
  EXPECT_EQ(kPcd, 1ull << 4);
  EXPECT_EQ(kAccessed, 1ull << 5);
  EXPECT_EQ(kDirty, 1ull << 6);
  EXPECT_EQ(kPs, 1ull << 7);
  EXPECT_EQ(kGlobal, 1ull << 8);
  EXPECT_EQ(kXd, 1ull << 63);
}

TEST(Pte, AddressMasksCoverBits51Down) {
  // Bits 51:12 (40 bits), 51:21 (31 bits), 51:30 (22 bits).
  EXPECT_EQ(kAddressMask, ((1ull << 52) - 1) & ~((1ull << 12) - 1));
  EXPECT_EQ(kAddressMask2M, ((1ull << 52) - 1) & ~((1ull << 21) - 1));
  EXPECT_EQ(kAddressMask1G, ((1ull << 52) - 1) & ~((1ull << 30) - 1));
  EXPECT_EQ(__builtin_popcountll(kAddressMask), 40);
}

TEST(Pte, IndexBitsPerLevel) {
  // PT 20:12, PD 29:21, PDPT 38:30, PML4 47:39, PML5 56:48.
  EXPECT_EQ(index_shift(kPt), 12u);
  EXPECT_EQ(index_shift(kPd), 21u);
  EXPECT_EQ(index_shift(kPdpt), 30u);
  EXPECT_EQ(index_shift(kPml4), 39u);
  EXPECT_EQ(index_shift(kPml5), 48u);
  const std::uint64_t va = (std::uint64_t{7} << 48) | (std::uint64_t{5} << 39) |
                           (std::uint64_t{4} << 30) | (std::uint64_t{3} << 21) |
                           (std::uint64_t{2} << 12) | 0xabc;
  EXPECT_EQ(table_index(va, kPml5), 7u);
  EXPECT_EQ(table_index(va, kPml4), 5u);
  EXPECT_EQ(table_index(va, kPdpt), 4u);
  EXPECT_EQ(table_index(va, kPd), 3u);
  EXPECT_EQ(table_index(va, kPt), 2u);
  EXPECT_EQ(entry_offset(va, kPt), 2u * 8);  // 8-byte entries
  EXPECT_EQ(table_index(0x1ff000, kPt), 511u);
}

TEST(Pte, DecodeTableEntry) {
  const std::uint64_t raw = make_table_entry(Hpa(0x12345000), kRw | kUser) | kAccessed;
  const PteView v = decode(raw, kPd);
  EXPECT_TRUE(v.present);
  EXPECT_TRUE(v.writable);
  EXPECT_TRUE(v.user);
  EXPECT_TRUE(v.accessed);
  EXPECT_FALSE(v.leaf);  // PS = 0 in a PDE: references a page table
  EXPECT_EQ(v.address, Hpa(0x12345000));
}

TEST(Pte, DecodeHugeLeaves) {
  const std::uint64_t pde = make_leaf_entry(Hpa(0x40200000), PageSize::k2M, kRw) | kDirty;
  EXPECT_NE(pde & kPs, 0u);
  PteView v = decode(pde, kPd);
  EXPECT_TRUE(v.leaf);
  EXPECT_TRUE(v.dirty);
  EXPECT_EQ(v.size, PageSize::k2M);
  EXPECT_EQ(v.address, Hpa(0x40200000));

  const std::uint64_t pdpte = make_leaf_entry(Hpa(0x80000000), PageSize::k1G, 0) | kXd;
  v = decode(pdpte, kPdpt);
  EXPECT_TRUE(v.leaf);
  EXPECT_TRUE(v.execute_disable);
  EXPECT_FALSE(v.writable);
  EXPECT_EQ(v.size, PageSize::k1G);
  EXPECT_EQ(v.address, Hpa(0x80000000));
}

TEST(Pte, Bit7MeansPatInAPteAndIsIgnoredInAPml4e) {
  // In a PTE bit 7 is PAT: still a 4 KiB leaf with a 51:12 address.
  const std::uint64_t pte = make_leaf_entry(Hpa(0x3000), PageSize::k4K, 0) | kPs;
  PteView v = decode(pte, kPt);
  EXPECT_TRUE(v.leaf);
  EXPECT_EQ(v.size, PageSize::k4K);
  EXPECT_EQ(v.address, Hpa(0x3000));
  // In a PML4E bit 7 is reserved: never a leaf here.
  EXPECT_FALSE(is_leaf(make_table_entry(Hpa(0x5000), 0) | kPs, kPml4));
}

TEST(Pte, RightsCombineByAnd) {
  EXPECT_EQ(rights_of(kPresent | kRw | kUser), kAllRights);
  EXPECT_EQ(rights_of(kPresent | kUser), kAllowUser | kAllowExecute);
  EXPECT_EQ(rights_of(kPresent | kRw | kUser | kXd), kAllowWrite | kAllowUser);
}

}  // namespace
}  // namespace pagesim::paging::pte
