// KVM's rmap (arch/x86/kvm/mmu/mmu.c: gfn_to_rmap, pte_list_add, pte_list_remove,
// for_each_rmap_spte): for each leaf level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) and each
// level-aligned guest frame number, the shadow leaves that map it. The host's mmu_notifier
// calls (ShadowMmu::test_young, clear_young, invalidate_range) find the leaves of an HVA
// range through it (kvm_test_age_rmap, kvm_age_rmap, kvm_zap_rmap) instead of scanning
// every shadow page.
//
// Layout, as KVM's slot->arch.rmap[level][index]: one 8-byte head per level-aligned gfn,
// in chunks of 4096 heads (a chunk covers 16 MiB of guest-physical memory at level 1),
// allocated when a leaf first maps a gfn of the chunk and kept afterwards. A head is 0
// (no leaf), one leaf inline (the common case: a guest page mapped by one GVA), or, with
// the top bit set, the index of an overflow list (KVM's pte_list_desc: several shadow
// pages map the gfn, e.g. two roles of one guest table, or a clean and a dirty direct
// page). Memory: 8 bytes per gfn of every chunk touched, plus 8 per leaf beyond a gfn's
// first and 24 per overflow list. No statistics; no timing (the MMU charges its cost).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace pagesim::shadow {

class ShadowRmap {
 public:
  // A leaf: entry `index` of shadow page `page` (ShadowMmu's page number).
  struct Entry {
    std::uint32_t page = 0;
    std::uint16_t index = 0;
    bool operator==(const Entry&) const = default;
  };

  static constexpr unsigned kLevels = 3;  // leaves exist at levels 1..3

  // Records that `e` maps the level-`level` page starting at `gfn` (aligned to the level).
  void add(unsigned level, std::uint64_t gfn, Entry e);
  // Forgets it. Throws std::logic_error (naming the gfn and the entry) when it is not there.
  void remove(unsigned level, std::uint64_t gfn, Entry e);
  bool contains(unsigned level, std::uint64_t gfn, Entry e) const;
  // Appends to `out` the leaves at `level` that map any gfn of [first, last] (inclusive;
  // a huge leaf once when the range touches it).
  void collect(unsigned level, std::uint64_t first, std::uint64_t last,
               std::vector<Entry>& out) const;
  // Forgets every leaf (every shadow page zapped at once); the chunks stay allocated.
  void clear();

  // Leaves recorded.
  std::uint64_t entries() const { return m_entries; }
  // Host memory the rmap takes: chunks, overflow lists (their capacity).
  std::uint64_t bytes() const;

 private:
  static constexpr unsigned kChunkBits = 12;
  static constexpr std::uint64_t kChunkHeads = std::uint64_t{1} << kChunkBits;
  static constexpr std::uint64_t kList = std::uint64_t{1} << 63;
  using Chunk = std::unique_ptr<std::uint64_t[]>;

  static std::uint64_t encode(Entry e) {
    return ((std::uint64_t{e.page} << 9) | e.index) + 1;  // never 0, top bit clear
  }
  static Entry decode(std::uint64_t v) {
    --v;
    return Entry{static_cast<std::uint32_t>(v >> 9), static_cast<std::uint16_t>(v & 511)};
  }
  static std::uint64_t slot_of(unsigned level, std::uint64_t gfn) {
    return gfn >> (9 * (level - 1));
  }
  // The head of `slot` at `level`; null when its chunk was never allocated.
  std::uint64_t* head(unsigned level, std::uint64_t slot);
  const std::uint64_t* head(unsigned level, std::uint64_t slot) const;
  std::uint64_t& head_for_add(unsigned level, std::uint64_t slot);
  void append(std::uint64_t h, std::vector<Entry>& out) const;

  std::array<std::unordered_map<std::uint64_t, Chunk>, kLevels> m_chunks;
  std::vector<std::vector<std::uint64_t>> m_lists;  // overflow lists (encoded entries)
  std::vector<std::uint32_t> m_free_lists;          // indexes of unused overflow lists
  std::uint64_t m_entries = 0;
};

}  // namespace pagesim::shadow
