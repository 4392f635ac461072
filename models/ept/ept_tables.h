// The GPA -> HPA tables of one VM (Intel EPT or AMD NPT), kept in host physical memory.
//
// What the hypervisor model writes and the 2D walker (models/walker/nested_walker.h) reads:
// a radix tree of 4 or 5 levels (EptParams::levels) of 512-entry tables, table frames from
// the host FrameAllocator (allocate_table()), entries in host PhysicalMemory, leaves of
// 4 KiB, 2 MiB or 1 GiB. KVM builds the same structure in kvm_tdp_mmu_map()
// (arch/x86/kvm/mmu/tdp_mmu.c) and zaps it in kvm_tdp_mmu_zap_leafs().
//
// Entries: non-leaves R/W/X = 1 (EPT) or P, R/W, U/S = 1 (NPT); leaves the rights map() is
// given (RWX by default; NPT: W -> R/W, X -> XD clear, U/S = 1), EPT memory type WB,
// A = D = 0 when installed (the walker sets them when ept.ad_bits is on; see ept_entry.h for
// the bit positions).
//
// Huge leaf over a table: as KVM's TDP MMU (kvm_tdp_mmu_map -> tdp_mmu_map_handle_target_level
// sets the huge SPTE over the non-leaf one; handle_changed_spte -> handle_removed_pt zaps and
// frees the child table), map() replaces a table at the leaf's level by the huge leaf when
// the table's whole subtree maps nothing (every entry not present, or a table that in turn
// maps nothing, as unmap() leaves them). The unlinked tables count in ept.tables_freed; their
// frames stay allocated, as the FrameAllocator has no free list yet (so ept.table_pages only
// grows). KVM would also zap a child that still maps pages; here that stays a programming
// error of the caller (std::logic_error), as does a smaller leaf under a huge leaf.
// unmap() zaps leaves and leaves the (possibly empty) tables in place.
//
// Not on the per-access path: map() and unmap() run on EPT violations and zaps.
// lookup_debug() is a software walk with no side effects.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "base/address.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/ept/ept_params.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/paging/ept_entry.h"

namespace pagesim::ept {

// Statistics: group "ept".
struct EptTableStats : stats::Group {
  explicit EptTableStats(stats::Group* parent) : Group(parent, "ept") {}
  stats::Counter installs_4k{*this, "installs.4k", "4 KiB leaves installed"};
  stats::Counter installs_2m{*this, "installs.2m", "2 MiB leaves installed"};
  stats::Counter installs_1g{*this, "installs.1g", "1 GiB leaves installed"};
  stats::Counter zaps{*this, "zaps", "leaves zapped by unmap (a huge leaf counts once)"};
  stats::Counter table_pages{*this, "table_pages",
                             "EPT/NPT table pages allocated, the root included"};
  stats::Counter access_tracked{*this, "access_tracked",
                                "leaves made not present by aging without A/D bits (KVM's "
                                "access tracking; they keep their frame until zapped)"};
  stats::Counter access_restored{*this, "access_restored",
                                 "access-tracked leaves restored by an EPT violation (KVM's "
                                 "fast_page_fault: no host fault)"};
  stats::Counter tables_freed{*this, "tables_freed",
                              "empty EPT/NPT tables unlinked when a huge leaf replaced them (their "
                              "frames stay allocated: no free list)"};
};

// One leaf as lookup_debug() finds it.
struct EptMapping {
  Hpa page_base;  // the host-physical base of the page (aligned to `size`)
  PageSize size = PageSize::k4K;
  bool read = false;     // NPT: present
  bool write = false;    // NPT: R/W
  bool execute = false;  // NPT: XD clear
  bool accessed = false;
  bool dirty = false;
  std::uint8_t memory_type = kMemoryTypeWb;  // EPT bits 5:3; NPT: WB (no such field)

  // The HPA of `gpa` inside this page.
  Hpa hpa_of(Gpa gpa) const { return Hpa(page_base.value() | gpa.page_offset(page_shift(size))); }
};

class EptTables {
 public:
  // Allocates the root table. `memory` and `frames` are the host's and must outlive this.
  // Statistics go to a group "ept" under `parent` (null: a root group of its own).
  // Throws std::invalid_argument for levels other than 4 or 5.
  EptTables(const EptParams& params, mem::PhysicalMemory& memory, mem::FrameAllocator& frames,
            stats::Group* parent);
  EptTables(const EptTables&) = delete;
  EptTables& operator=(const EptTables&) = delete;

  // The root table: the EPTP's PML4 (PML5) address, or nCR3 for NPT.
  Hpa root() const { return m_root; }
  // The EPTP value (memory type WB, walk length, A/D enable); for NPT, nCR3 (the root).
  std::uint64_t eptp() const;
  NestedFormat format() const { return m_format; }
  unsigned levels() const { return m_levels; }
  bool ad_bits() const { return m_ad_bits; }
  // GPAs below this bound are translatable: 2^48 with 4 levels, 2^57 with 5.
  std::uint64_t gpa_limit() const { return std::uint64_t{1} << (12 + 9 * m_levels); }

  // Maps the `size` page at `gpa` to the one at `hpa` (both aligned to `size`) with
  // `rights` (kRead | kWrite | kExecute of ept_entry.h), creating missing tables top-down.
  // An existing leaf of the same size is replaced. A table where the leaf goes is replaced
  // when it maps nothing (see the file comment; counted in stats().tables_freed). Throws
  // std::logic_error for a misaligned address, a GPA past gpa_limit(), rights without R or
  // with bits other than R/W/X, a huge leaf where a table still maps something, or a leaf
  // below an existing huge leaf.
  // Returns the number of tables the leaf replaced (0 or more): when not 0, the walker's
  // cached non-leaf entries may point into a table no longer linked, and the caller must
  // flush them and the TLBs, as KVM's tdp_mmu_map_handle_target_level does
  // (kvm_flush_remote_tlbs_gfn after a leaf replaced a non-leaf SPTE).
  std::uint64_t map(Gpa gpa, Hpa hpa, PageSize size, std::uint64_t rights = kRwx);

  // Whether any leaf maps a byte of [first, first + bytes) (a software walk, no side
  // effects). The hypervisor asks it before choosing a huge leaf over smaller ones.
  bool maps_any(Gpa first, std::uint64_t bytes) const;

  // Zaps (clears) every leaf that maps any byte of [first, first + bytes) and returns how
  // many. Splits nothing: a huge leaf only partly in the range is zapped whole, so more
  // than `bytes` may become unmapped. Tables stay. The caller flushes the walker's caches
  // and the TLBs (INVEPT), as KVM does after kvm_tdp_mmu_zap_leafs().
  // `dirty`, when given, is set if a zapped leaf was dirty: D set, or, without A/D bits,
  // writable (KVM's handle_changed_spte -> kvm_set_pfn_dirty on such an SPTE).
  std::uint64_t unmap(Gpa first, std::uint64_t bytes, bool* dirty = nullptr);

  // Aging for the host's reclaim (mmu_notifier test_young / clear_young, KVM's
  // kvm_tdp_mmu_test_age_gfn / kvm_tdp_mmu_age_gfn_range): whether a leaf mapping a byte of
  // [first, first + bytes) has its A flag set; with `clear`, the A flags found are cleared.
  // Without A/D bits a present leaf counts as young (is_accessed_spte) and an
  // access-tracked one as old; clearing marks the leaf for access tracking (KVM's
  // mark_spte_for_access_track): its R/W/X (NPT: P) bits move to bits 54-56 and bit 11
  // (KVM's SPTE_MMU_PRESENT) keeps it a leaf that still maps its frame. The hardware sees it
  // not present: the next access takes an EPT violation that restores it
  // (restore_access_tracked). Nothing is flushed (kvm_mmu_notifier_clear_young): TLB and
  // walker-cache entries of the leaf stay, and still reach a live frame, until an unmap()
  // zaps the leaf and the caller flushes. Counted in ept.access_tracked and `tracked`.
  struct Aging {
    bool young = false;
    std::uint64_t tracked = 0;
  };
  Aging age(Gpa first, std::uint64_t bytes, bool clear);

  // KVM's fast_page_fault on an access-tracked leaf (restore_acc_track_spte): the leaf
  // mapping `gpa` gets its saved bits back. Returns its mapping, or std::nullopt when no
  // access-tracked leaf maps gpa (then the violation takes the ordinary path).
  std::optional<EptMapping> restore_access_tracked(Gpa gpa);

  // Every leaf, in GPA order: f(Gpa base, const EptMapping&). For audits (--check).
  void for_each_leaf(const std::function<void(Gpa, const EptMapping&)>& f) const;

  // The leaf mapping `gpa`, by a software walk with no side effects (no statistics, no
  // A/D updates, no timing); std::nullopt when an entry on the way is not present. With
  // `access_tracked`, a leaf marked for access tracking is read with its saved rights (the
  // frame it still holds: what a TLB entry made before the aging may use, since KVM does
  // not flush then); without, it is not present, as the hardware sees it.
  std::optional<EptMapping> lookup_debug(Gpa gpa, bool access_tracked = false) const;

  const EptTableStats& stats() const { return m_stats; }

 private:
  bool present(std::uint64_t raw) const { return (raw & m_bits.present_mask) != 0; }
  static bool tracked(std::uint64_t raw) { return is_access_tracked(raw); }
  // A leaf or table KVM considers there (is_shadow_present_pte): present, or access-tracked.
  bool mapped(std::uint64_t raw) const { return present(raw) || tracked(raw); }
  std::uint64_t mark_tracked(std::uint64_t raw) const { return mark_access_tracked(raw, m_bits); }
  std::uint64_t restored(std::uint64_t raw) const {
    return ept::restore_access_tracked(raw, m_bits);
  }
  Hpa new_table();
  // Calls f(entry, raw, level) for each present leaf intersecting [lo, hi) under `table`
  // (entries at `level`, covering [base, ...)); f returns the new raw value to store, or
  // raw itself to leave it.
  template <class F>
  void visit_leaves(std::uint64_t table, unsigned level, std::uint64_t base, std::uint64_t lo,
                    std::uint64_t hi, F& f);
  // [lo, hi) clipped to the GPA limit; false when empty.
  bool clip(Gpa first, std::uint64_t bytes, std::uint64_t& lo, std::uint64_t& hi) const;
  EptMapping mapping_of(std::uint64_t raw, unsigned level) const;
  bool maps_in(std::uint64_t table, unsigned level, std::uint64_t base, std::uint64_t lo,
               std::uint64_t hi) const;
  // The number of tables in the subtree of `table` (entries at `level`), itself included,
  // or 0 when a leaf in it is present.
  std::uint64_t empty_subtree_tables(std::uint64_t table, unsigned level) const;
  std::uint64_t leaf_entry(Hpa hpa, PageSize size, std::uint64_t rights) const;

  NestedFormat m_format;
  unsigned m_levels;
  bool m_ad_bits;
  FormatBits m_bits;
  mem::PhysicalMemory& m_memory;
  mem::FrameAllocator& m_frames;
  EptTableStats m_stats;
  Hpa m_root;
};

}  // namespace pagesim::ept
