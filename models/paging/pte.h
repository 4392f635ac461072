// The x86-64 paging-structure entry format, as pure constants and functions.
//
// Intel SDM Vol. 3A, 4.5 "4-Level Paging and 5-Level Paging" (tables 4-15 to 4-20 give the
// formats of PML5Es, PML4Es, PDPTEs, PDEs and PTEs). Every level's entry is 8 bytes and a
// table is one 4 KiB frame of 512 entries. The names follow the SDM and, in brackets,
// Linux's arch/x86/include/asm/pgtable_types.h:
//
//   bit  0  P    present               (_PAGE_PRESENT)
//   bit  1  R/W  writes allowed        (_PAGE_RW)
//   bit  2  U/S  user-mode allowed     (_PAGE_USER)
//   bit  3  PWT  page write-through    (_PAGE_PWT)
//   bit  4  PCD  page cache disable    (_PAGE_PCD)
//   bit  5  A    accessed              (_PAGE_ACCESSED)
//   bit  6  D    dirty (leaves only)   (_PAGE_DIRTY)
//   bit  7  PS   page size: in a PDPTE maps a 1 GiB page, in a PDE a 2 MiB page (_PAGE_PSE);
//                in a PTE this bit is PAT, in a PML4E/PML5E it is reserved
//   bit  8  G    global (leaves only)  (_PAGE_GLOBAL)
//   bits 51:12   physical address of the next table or of a 4 KiB page (PTE_PFN_MASK);
//                51:21 for a 2 MiB page, 51:30 for a 1 GiB page
//   bit 63  XD   execute-disable       (_PAGE_NX)
//
// Levels are numbered as the SDM's walk reads them from the leaf up: 1 = PT (VA 20:12),
// 2 = PD (29:21), 3 = PDPT (38:30), 4 = PML4 (47:39), 5 = PML5 (56:48, LA57 only).
// MAXPHYADDR is taken as 52 (the architectural maximum); reserved-bit checks are not
// modelled.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "base/address.h"
#include "base/page_size.h"

namespace pagesim::paging::pte {

inline constexpr std::uint64_t kPresent = std::uint64_t{1} << 0;
inline constexpr std::uint64_t kRw = std::uint64_t{1} << 1;
inline constexpr std::uint64_t kUser = std::uint64_t{1} << 2;
inline constexpr std::uint64_t kPwt = std::uint64_t{1} << 3;
inline constexpr std::uint64_t kPcd = std::uint64_t{1} << 4;
inline constexpr std::uint64_t kAccessed = std::uint64_t{1} << 5;
inline constexpr std::uint64_t kDirty = std::uint64_t{1} << 6;
inline constexpr std::uint64_t kPs = std::uint64_t{1} << 7;
inline constexpr std::uint64_t kGlobal = std::uint64_t{1} << 8;
inline constexpr std::uint64_t kXd = std::uint64_t{1} << 63;

// Bits 51:12: a table's or a 4 KiB page's physical address.
inline constexpr std::uint64_t kAddressMask = 0x000f'ffff'ffff'f000;
// Bits 51:21 and 51:30: the physical address of a 2 MiB or 1 GiB page.
inline constexpr std::uint64_t kAddressMask2M = 0x000f'ffff'ffe0'0000;
inline constexpr std::uint64_t kAddressMask1G = 0x000f'ffff'c000'0000;

inline constexpr unsigned kEntriesPerTable = 512;
inline constexpr unsigned kPt = 1;
inline constexpr unsigned kPd = 2;
inline constexpr unsigned kPdpt = 3;
inline constexpr unsigned kPml4 = 4;
inline constexpr unsigned kPml5 = 5;

// The lowest VA bit of the index that selects an entry at `level`: 12, 21, 30, 39, 48.
constexpr unsigned index_shift(unsigned level) { return 12 + 9 * (level - 1); }

// The 9-bit index into the table at `level` for a linear address.
constexpr unsigned table_index(std::uint64_t va, unsigned level) {
  return static_cast<unsigned>((va >> index_shift(level)) & (kEntriesPerTable - 1));
}

// Byte offset of the entry for `va` inside the table at `level` (index * 8).
constexpr std::uint64_t entry_offset(std::uint64_t va, unsigned level) {
  return std::uint64_t{table_index(va, level)} << 3;
}

// Whether a present entry at `level` maps a page (rather than referencing a table): every
// PTE; a PDE or PDPTE with PS = 1. PS in a PML4E or PML5E is reserved and ignored here.
constexpr bool is_leaf(std::uint64_t raw, unsigned level) {
  return level == kPt || ((level == kPd || level == kPdpt) && (raw & kPs) != 0);
}

// The page size mapped by a leaf at `level` (1, 2 or 3).
constexpr PageSize leaf_page_size(unsigned level) {
  return level == kPt ? PageSize::k4K : level == kPd ? PageSize::k2M : PageSize::k1G;
}

constexpr std::uint64_t page_address_mask(PageSize size) {
  return size == PageSize::k4K   ? kAddressMask
         : size == PageSize::k2M ? kAddressMask2M
                                 : kAddressMask1G;
}

// Access rights as the SDM combines them over the levels of a walk (4.6): a write is
// allowed only if R/W is 1 at every level, a user access only if U/S is 1 at every level,
// an instruction fetch only if XD is 0 at every level. As a mask of what is allowed, the
// combination over levels is a bitwise AND. (CR0.WP, SMEP/SMAP and protection keys are
// not modelled.)
using Rights = std::uint8_t;
inline constexpr Rights kAllowWrite = 1;
inline constexpr Rights kAllowUser = 2;
inline constexpr Rights kAllowExecute = 4;
inline constexpr Rights kAllRights = kAllowWrite | kAllowUser | kAllowExecute;

constexpr Rights rights_of(std::uint64_t raw) {
  return static_cast<Rights>(((raw & kRw) != 0 ? kAllowWrite : 0) |
                             ((raw & kUser) != 0 ? kAllowUser : 0) |
                             ((raw & kXd) == 0 ? kAllowExecute : 0));
}

// One entry, decoded. `address` is the next table's physical address for a non-leaf, the
// page's base for a leaf (masked at the leaf's size).
struct PteView {
  bool present = false;
  bool writable = false;
  bool user = false;
  bool pwt = false;
  bool pcd = false;
  bool accessed = false;
  bool dirty = false;   // meaningful for leaves only
  bool leaf = false;    // maps a page (see is_leaf)
  bool global = false;  // meaningful for leaves only
  bool execute_disable = false;
  PageSize size = PageSize::k4K;  // the page size, for leaves
  Hpa address;
};

// Decodes the entry `raw` read at `level` (the level decides what PS means).
constexpr PteView decode(std::uint64_t raw, unsigned level) {
  PteView v;
  v.present = (raw & kPresent) != 0;
  v.writable = (raw & kRw) != 0;
  v.user = (raw & kUser) != 0;
  v.pwt = (raw & kPwt) != 0;
  v.pcd = (raw & kPcd) != 0;
  v.accessed = (raw & kAccessed) != 0;
  v.dirty = (raw & kDirty) != 0;
  v.leaf = is_leaf(raw, level);
  v.global = (raw & kGlobal) != 0;
  v.execute_disable = (raw & kXd) != 0;
  v.size = v.leaf ? leaf_page_size(level) : PageSize::k4K;
  v.address = Hpa(raw & (v.leaf ? page_address_mask(v.size) : kAddressMask));
  return v;
}

// An entry referencing the table at `table` (4 KiB aligned), with the given flag bits.
constexpr std::uint64_t make_table_entry(Hpa table, std::uint64_t flags) {
  return (table.value() & kAddressMask) | flags | kPresent;
}

// A leaf entry mapping the page at `page` (aligned to `size`); sets PS for huge pages.
constexpr std::uint64_t make_leaf_entry(Hpa page, PageSize size, std::uint64_t flags) {
  return (page.value() & page_address_mask(size)) | flags | kPresent |
         (size == PageSize::k4K ? 0 : kPs);
}

// The number of paging levels, checked: 4, or 5 with LA57 (SDM 4.5). `what` names the
// setting in the error ("paging.levels", "guest.levels").
inline unsigned checked_levels(unsigned levels, std::string_view what) {
  if (levels != 4 && levels != 5) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(levels) +
                                " is not 4 or 5 (4-level paging or LA57)");
  }
  return levels;
}

}  // namespace pagesim::paging::pte
