// The guest's own page tables, built by the VMM before the guest runs (x86-64 4-level
// paging, Intel SDM Vol. 3A 4.5). The guest in pagesim-validate has no kernel that maps
// pages on demand: every mapping it uses is written here, in guest-physical memory, and
// KVM's shadow MMU (or the EPT walker) reads these entries as a real guest's.
//
// Table pages come from a pool of guest-physical pages [pool_base, pool_end) handed out in
// ascending order; two builders (two CR3s) may share one pool and one subtree
// (share_pml4e).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "base/address.h"

namespace pagesim::validate {

// x86-64 page-table entry flags (SDM Vol. 3A, table 4-19 and 4-20).
inline constexpr std::uint64_t kPtePresent = 1ull << 0;
inline constexpr std::uint64_t kPteWritable = 1ull << 1;
inline constexpr std::uint64_t kPteUser = 1ull << 2;
inline constexpr std::uint64_t kPteAccessed = 1ull << 5;
inline constexpr std::uint64_t kPteDirty = 1ull << 6;
inline constexpr std::uint64_t kPteLarge = 1ull << 7;  // PS in a PDE or PDPTE
inline constexpr std::uint64_t kPteAddrMask = 0x000ffffffffff000ull;

// Resolves a guest-physical page to the VMM's view of it (nullptr: no memory there).
using GpaResolver = std::function<std::uint8_t*(Gpa)>;

class GuestPageTables {
 public:
  enum class Size { k4K, k2M };

  // pool: guest-physical table pages are taken from [pool.first, pool.second). Each
  // builder allocates its root (PML4) at construction.
  GuestPageTables(GpaResolver memory, Gpa* pool_next, Gpa pool_end);

  Gpa root() const { return m_root; }
  // Maps one page: gva and gpa aligned to the size; flags are added to P (leaf and the
  // tables above it get P, R/W, U/S, A; the leaf gets `leaf_flags`, PS for 2 MiB).
  void map(Gva gva, Gpa gpa, Size size, std::uint64_t leaf_flags);
  // The guest-physical address of the leaf entry that maps gva (nullopt: not mapped).
  std::optional<Gpa> leaf_entry(Gva gva) const;
  // A software walk: the GPA gva maps to, or nullopt.
  std::optional<Gpa> translate(Gva gva) const;
  // Makes this tree's PML4 entry for `gva` the same as `other`'s (the subtree is shared,
  // as Linux shares the kernel half between processes).
  void share_pml4e(const GuestPageTables& other, Gva gva);

  // Table pages allocated by this builder (root included).
  std::uint64_t table_pages() const { return m_table_pages; }
  // Table pages of each level this builder allocated, [0] = PT ... [3] = PML4.
  std::uint64_t table_pages_at(int level) const { return m_level_pages[level - 1]; }

  static unsigned index(Gva gva, int level) {
    return static_cast<unsigned>((gva.value() >> (12 + 9 * (level - 1))) & 511);
  }

 private:
  std::uint64_t* entry(Gpa table, unsigned index) const;
  Gpa alloc_table(int level);

  GpaResolver m_memory;
  Gpa* m_pool_next;
  Gpa m_pool_end;
  Gpa m_root;
  std::uint64_t m_table_pages = 0;
  std::uint64_t m_level_pages[4] = {0, 0, 0, 0};
};

}  // namespace pagesim::validate
