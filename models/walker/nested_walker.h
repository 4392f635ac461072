// The two-dimensional (nested) page walker: GVA -> GPA through the guest's page tables,
// every GPA it meets -> HPA through the EPT (Intel) or NPT (AMD).
//
// Intel SDM Vol. 3C, "VMX Support for Address Translation" ("EPT Translation Mechanism",
// "Accessed and Dirty Flags for EPT", "Caching Translation Information"); AMD APM Vol. 2,
// 15.25 "Nested Paging"; Bhargava et al., "Accelerating Two-Dimensional Page Walks for
// Virtualized Systems", ASPLOS 2008 (the 2D walk and its 24 references).
//
// The walk, as the manual reads (guest level loop; cell (g, h) names each reference):
//
//   table_gpa = guest CR3
//   for g = n .. 1:
//     table_hpa = EPT(table_gpa)            cells (g, m..leaf): the EPT walk of the table
//     entry = read(table_hpa + index_g(va)) cell (g, 0): the guest entry itself
//     not present: guest page fault at level g; leaf: stop
//     table_gpa = entry.address
//   hpa = EPT(data gpa)                     cells (0, m..leaf): the EPT walk of the data GPA
//
// With every cache off and 4 KiB leaves on both sides a walk makes n(m+1) + m =
// (n+1)(m+1) - 1 references: 24 for 4+4, 29 for 4+5 and 5+4, 35 for 5+5. A guest leaf at
// level Lg ends the guest loop Lg - 1 levels early ((n - Lg + 1)(m + 1) guest-side
// references); an EPT leaf at level Lh makes that EPT walk m - Lh + 1 references. 2 MiB on
// both sides with 4+4: 3 * (3 + 1) + 3 = 15. Each reference costs timing.access(hpa, false).
//
// Outcomes: kOk (a Translation GVA -> HPA whose size is the smaller of the guest leaf and
// the EPT leaf of the data GPA: a 2 MiB guest page on 4 KiB EPT pages splinters to 4 KiB);
// kGuestPageFault (a guest entry with P = 0, its level); kEptViolation (an EPT entry not
// present: the faulting GPA, the EPT level, and whether the GPA was a guest paging-structure
// entry's, at which guest level, or the data's). Rights: guest R/W, U/S, XD ANDed over the
// guest levels, then ANDed with the EPT leaf's W and X for the data GPA. Protection faults
// and EPT misconfigurations are not modelled (the rights come back for the caller).
//
// Accessed and dirty flags (SDM Vol. 3A 4.8, Vol. 3C "Accessed and Dirty Flags for EPT"):
// - guest: A in every present guest entry used, D in the guest leaf on a write the combined
//   guest rights allow. These are writes to guest memory at the HPA just read.
// - EPT, when ept.ad_bits is on: A in every EPT entry used; D in the EPT leaf of the data GPA
//   on a write, and in the EPT leaf of every guest page-table GPA walked: the SDM treats
//   processor accesses to guest paging structures as writes for EPT A/D purposes, whether
//   or not a guest flag changes. (NPT: the same rules, with x86 A/D bits.)
// Each entry whose flags change is written once and counted in walker.ad_updates; the
// locked update is charged no cycles (as the native walker).
//
// Caches, each off by its parameters, each counting hits, misses and refs_saved (the
// references a walk with every cache off would have made for the part skipped; so
// refs + the sum of all refs_saved of a walk = that walk's cache-off count, for the same
// tables). What each can skip, and what none can:
// - Guest paging-structure caches (Intel combined PSCs; walker.pwc, WalkerParams): entries
//   of guest levels L = 2..n tagged (VPID, PCID, VA bits above level L's index), holding the
//   HPA of the level L-1 guest table and the guest rights above. Probed deepest first; a hit
//   at L skips the guest reads at levels n..L and the EPT walks of the tables at levels
//   n..L-1. Filled with each level's table once its GPA is translated.
// - EPT paging-structure caches (walker.ept_pwc): EPT entries of levels 2..m tagged (EPT
//   root, GPA bits above the level's index), holding the next EPT table's HPA. A hit at
//   level l skips the EPT reads at levels m..l of that GPA's walk. Used for every GPA.
// - Nested TLB (walker.ntlb): GPA 4 KiB page -> HPA frame, tagged by EPT root, filled and
//   used for guest page-table GPAs only (Bhargava et al.): a hit skips that GPA's whole EPT
//   walk. Never used for the data GPA (the final GVA -> HPA goes to the TLB instead).
// - Page-walk cache by HPA (walker.pte_cache, AMD style): non-leaf guest and EPT entries by
//   the HPA they live at; a hit returns the entry with no memory reference. Leaves are
//   never cached (AMD's PWC keeps upper-level entries only: Barr et al., ISCA 2010).
// Minimum per walk: none of the caches holds a guest leaf or an EPT leaf or a not-present
// entry, and none skips the data GPA's EPT leaf. So a kOk walk always reads the guest leaf
// entry (cell (Lg, 0)) and the EPT leaf of the data GPA (cell (0, Lh)): at least 2
// references; a faulting walk reads at least the not-present entry: at least 1.
//
// Invalidation (SDM Vol. 3C "Invalidating Cached Translation Information"; EPTP tagging is
// approximated as in docs/design-nested.md): invlpg / invalidate_pcid drop the guest PSC
// entries of that (VPID, PCID) and the page-walk cache's guest entries; invvpid drops those
// of a VPID; invept drops everything derived from that EPT (its EPT PSC and nested-TLB
// entries, every guest PSC entry, the whole page-walk cache); flush_all drops everything.
// After unmapping EPT entries or changing guest tables other than turning not-present
// entries present, the caller must invalidate (as the hypervisor and guest OS do).
//
// Hot path: walk() allocates nothing; flat arrays; no maps, no std::function; a direct call
// per reference to the cache model (ReferenceTiming), a virtual one to any other MemoryTiming.
// walk() has two instantiations, nested TLB and page-walk cache both off (the default) or
// not, each with its EPT walks and its references inline; a PSC level that a walk looked up
// and missed is filled without a second tag scan (WalkCache::fill_absent: the same victim).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/translation.h"
#include "models/cache/reference_timing.h"
#include "models/ept/ept_params.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/paging/ept_entry.h"
#include "models/paging/pte.h"
#include "models/walker/nested_walker_params.h"
#include "models/walker/nested_walker_stats.h"
#include "models/walker/page_walk_cache.h"
#include "models/walker/walker_params.h"

namespace pagesim::walker {

namespace pte = paging::pte;  // the x86-64 entry format (models/paging/pte.h)

struct NestedWalkRequest {
  Gpa guest_root;  // the guest's CR3 bits 51:12: a guest-physical address
  Hpa ept_root;    // the EPTP's (or nCR3's) bits 51:12
  Gva gva;
  AccessKind kind = AccessKind::kRead;
  std::uint16_t pcid = 0;  // guest PCID (12 bits used)
  std::uint16_t vpid = 0;  // VPID (Intel) / ASID (AMD)
};

struct NestedWalkResult {
  enum class Outcome : std::uint8_t { kOk, kGuestPageFault, kEptViolation };
  Outcome outcome = Outcome::kOk;
  // kOk: the GVA -> HPA translation (size = min(guest_size, ept_size)), combined rights,
  // dirty = the guest leaf's D and, with ept.ad_bits, the EPT leaf's D after this walk.
  Translation translation;
  PageSize guest_size = PageSize::k4K;  // kOk: the guest leaf's page size
  PageSize ept_size = PageSize::k4K;    // kOk: the EPT leaf's page size for the data GPA
  // kOk: the data GPA of the gva. kEptViolation: the GPA whose translation failed (for a
  // guest table: the GPA of the guest entry to be read).
  Gpa gpa;
  // kGuestPageFault: the guest level (1..n) of the entry with P = 0. kEptViolation: the EPT
  // level (1..m) of the entry not present. 0 when the walk succeeded.
  unsigned fault_level = 0;
  // kEptViolation: true when the GPA was a guest paging-structure entry's (the guest table
  // at violation_guest_level), false when it was the data GPA.
  bool violation_on_guest_table = false;
  unsigned violation_guest_level = 0;
  unsigned refs = 0;        // memory references made
  unsigned guest_refs = 0;  // of which guest entries (h = 0)
  unsigned host_refs = 0;   // of which EPT entries
  Cycles cycles;            // their summed latencies
  std::uint64_t cells = 0;  // bit cell_index(g, h) set for each reference made

  bool cell(unsigned g, unsigned h) const { return ((cells >> cell_index(g, h)) & 1) != 0; }
};

class NestedWalker {
 public:
  // `guest` sizes the guest paging-structure caches (walker.pwc); `nested` the EPT PSCs,
  // nested TLB and page-walk cache; `guest_levels` is 4 or 5 (guest CR4.LA57); `ept` gives
  // the format, m and ad_bits. Throws std::invalid_argument for other levels or a cache
  // geometry the schema rejects. Statistics go to a group "walker" under `parent` (null: a
  // root of its own). `memory` and `timing` must outlive the walker.
  NestedWalker(const WalkerParams& guest, const NestedWalkerParams& nested, unsigned guest_levels,
               const ept::EptParams& ept, mem::PhysicalMemory& memory, mem::MemoryTiming& timing,
               stats::Group* parent);
  NestedWalker(const NestedWalker&) = delete;
  NestedWalker& operator=(const NestedWalker&) = delete;

  // One walk for a TLB miss: see the file comment. The result in `res`, which must be a
  // default NestedWalkResult (walk() sets only what the walk finds), or returned.
  void walk(const NestedWalkRequest& r, NestedWalkResult& res) {
    if (m_hpa_caches) {
      walk<true>(r, res);
    } else {
      walk<false>(r, res);
    }
  }
  NestedWalkResult walk(const NestedWalkRequest& r) {
    NestedWalkResult res;
    walk(r, res);
    return res;
  }

  // A hint that walks of `next` and then `after` come soon, in the address space of the
  // last walk: host loads only, no effect on the model (no cache, statistic or entry
  // changes). A walk's cold loads are the guest's leaf entry and the EPT leaf entry of the
  // data GPA (and their sets in the cache model), which depend on each other: `after`'s
  // guest leaf entry starts loading, and `next`'s, which the hint before started, is read
  // to start its data GPA's EPT leaf entry. The tables holding them come from the last
  // walks through the same 2 MiB of linear and guest-physical space (m_guest_pt_memo,
  // m_ept_pt_memo): a hint with no such walk, or a stale one (the tables changed since),
  // loads nothing or the wrong lines, which costs time and changes nothing.
  void prefetch(Gva next, Gva after) const;

  // The same walk from scratch with no side effects: no caches, no statistics, no A/D
  // updates, no timing calls (cycles stay 0). refs, cells and the attribution fields are
  // those a walk with every cache off makes; translation.dirty is as in memory. For
  // --check, tests and debugging.
  // With `access_tracked`, an EPT leaf that KVM marked for access tracking is read with its
  // saved bits (it still maps its frame, and KVM did not flush when it marked it): what a
  // cached translation made before the marking may still give (--check).
  NestedWalkResult translate_debug(const NestedWalkRequest& r, bool access_tracked = false) const;

  // INVLPG in the guest (and INVPCID type 0): every guest PSC entry of (vpid, pcid), whatever
  // the address (SDM 4.10.4.1), and the guest entries of the page-walk cache. `gva` is kept
  // for the caller's TLB, which drops only that page.
  void invlpg(Gva gva, std::uint16_t pcid, std::uint16_t vpid);
  // MOV to CR3 with PCID, INVPCID type 1: the guest PSC entries of (vpid, pcid) and the
  // guest entries of the page-walk cache.
  void invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid);
  // INVVPID (single context): every guest PSC entry of the VPID, the page-walk cache's
  // guest entries.
  void invvpid(std::uint16_t vpid);
  // INVEPT (single context): everything derived from the EPT at `ept_root`.
  void invept(Hpa ept_root);
  // INVEPT all-context, VMXON/VMXOFF: every cache empty.
  void flush_all();

  unsigned guest_levels() const { return m_n; }
  unsigned ept_levels() const { return m_m; }
  ept::NestedFormat format() const { return m_format; }
  const NestedWalkerStats& stats() const { return m_stats; }

  // The caches, for tests: guest PSC and EPT PSC of `level` (2..5), nested TLB, PWC.
  const WalkCache& guest_psc(unsigned level) const { return m_guest_psc[level - 2]; }
  const WalkCache& ept_psc(unsigned level) const { return m_ept_psc[level - 2]; }
  const WalkCache& ntlb() const { return m_ntlb; }
  const WalkCache& pte_cache() const { return m_pte_cache; }

  // Every host-physical frame a valid entry of any cache refers to, for --check's audit
  // that no cache still refers to a freed host frame after an invalidation. Calls
  // f(Hpa frame, const char* structure) once per HPA an entry holds, in no particular order;
  // every frame is a 4 KiB frame base:
  //   "guest PSC PDE" .. "guest PSC PML5E"  the guest table the entry points to (one each)
  //   "EPT PWC PDE" .. "EPT PWC PML5E"      the EPT table the entry points to (one each)
  //   "nTLB"                                the 4 KiB host frame of the guest table page
  //   "PTE cache"                           the table frame the cached entry lives in (guest
  //                                         or EPT), whose contents a hit stands in for
  //   "PTE cache next EPT table"            and, for a cached EPT entry, the EPT table it
  //                                         points to (a cached guest entry holds a GPA)
  // Not reported: the EPT root frames that tag EPT PWC and nTLB entries (a tag, never read
  // through). Read-only: no LRU update, no statistics; O(entries), off the hot path.
  // Every CPU's caches (set_cpus).
  template <class F>
  void for_each_cached_hpa(F&& f) const {
    each_cached_hpa(m_guest_psc, m_ept_psc, m_ntlb, m_pte_cache, f);
    for (std::size_t cpu = 0; cpu < m_parked.size(); ++cpu) {
      if (cpu != m_cpu) {
        const CpuCaches& c = m_parked[cpu];
        each_cached_hpa(c.guest_psc, c.ept_psc, c.ntlb, c.pte_cache, f);
      }
    }
  }

  // Several vCPUs: each has its own caches (guest PSCs, EPT PSCs, nested TLB, page-walk
  // cache: per logical processor, SDM Vol. 3A 4.10.3 and 29.4). The current vCPU's sit in
  // the walker, the others' are parked and swapped in by switch_cpu: a walk pays nothing
  // for them. invlpg, invalidate_pcid and invvpid above are the current vCPU's (they run on
  // one vCPU); invept and flush_all reach every vCPU's caches (KVM's remote TLB flush makes
  // each vCPU flush before its next entry). One vCPU until set_cpus.
  void set_cpus(unsigned cpus);
  void switch_cpu(unsigned cpu);
  unsigned cpus() const { return static_cast<unsigned>(m_parked.size()); }
  // Every vCPU's guest entries of (vpid, pcid): an address space torn down.
  void invalidate_pcid_every_cpu(std::uint16_t pcid, std::uint16_t vpid);

 private:
  // Page-walk-cache contexts: which kind of entry is cached at that HPA.
  static constexpr std::uint64_t kGuestEntry = 0;
  static constexpr std::uint64_t kEptEntry = 1;

  // The result of translating one GPA through the EPT.
  struct EptStep {
    bool ok = false;
    unsigned level = 0;       // the leaf's level, or the not-present entry's
    unsigned off_refs = 0;    // references this EPT walk makes with every cache off
    std::uint64_t hpa = 0;    // the HPA of the GPA (leaf base | offset)
    pte::Rights rights = 0;   // W/X of the EPT entries used
    bool leaf_dirty = false;  // the leaf's dirty flag after this walk
  };

  // One GPA through the nested TLB (kGuestTable: a guest table's GPA), the EPT PSCs and the
  // EPT. A guest table's leaf gets D set with A/D bits on, as the data's on a `write`.
  template <bool kGuestTable, bool kHpaCaches>
  EptStep ept_translate(std::uint64_t gpa, std::uint64_t ept_root, unsigned g, bool write,
                        NestedWalkResult& res);
  EptStep ept_translate_debug(std::uint64_t gpa, std::uint64_t ept_root, unsigned g,
                              NestedWalkResult& res, bool access_tracked = false) const;
  // One page-table entry (kGuest: a guest entry, else an EPT entry), through the page-walk
  // cache for non-leaf entries: a miss reads memory, times the reference and counts it in
  // cell (g, h). Inline at its two call sites (the guest loop, the EPT loop).
  template <bool kGuest, bool kHpaCaches>
  std::uint64_t reference(std::uint64_t hpa, unsigned g, unsigned h, bool& from_cache,
                          NestedWalkResult& res);
  // walk() for the nested TLB or page-walk cache on (kHpaCaches) or both off: those two
  // need a check per reference and per guest table only when on (m_hpa_caches).
  template <bool kHpaCaches>
  void walk(const NestedWalkRequest& r, NestedWalkResult& res);
  // The GVA -> HPA translation from the guest leaf, the rights over both dimensions, and
  // the EPT step of the final data GPA.
  void complete_translation(std::uint64_t guest_leaf, pte::Rights rights, const EptStep& data,
                            NestedWalkResult& res) const;
  // res.refs (guest_refs + host_refs) and the walk's statistics.
  void finish(NestedWalkResult& res);

  unsigned m_n;
  unsigned m_m;
  ept::NestedFormat m_format;
  ept::FormatBits m_bits;
  bool m_ad;
  std::uint64_t m_guest_va_mask;  // the linear-address bits: 48 or 57
  std::uint64_t m_gpa_mask;       // the GPA bits the EPT translates: 48 or 57
  mem::PhysicalMemory& m_memory;
  cache::ReferenceTiming m_timing;
  NestedWalkerStats m_stats;
  bool m_guest_psc_on;
  bool m_ept_psc_on;
  // By level - 2: PDE, PDPTE, PML4E, PML5E caches.
  std::array<WalkCache, 4> m_guest_psc;
  std::array<WalkCache, 4> m_ept_psc;
  WalkCache m_ntlb;
  WalkCache m_pte_cache;
  bool m_hpa_caches;  // m_ntlb or m_pte_cache on (every vCPU's have the same geometry)
  std::array<WalkCacheStats*, 4> m_guest_psc_stats;
  std::array<WalkCacheStats*, 4> m_ept_psc_stats;
  // One vCPU's caches while another vCPU is current (the current vCPU's slot holds an empty
  // set, swapped out).
  struct CpuCaches {
    std::array<WalkCache, 4> guest_psc;
    std::array<WalkCache, 4> ept_psc;
    WalkCache ntlb;
    WalkCache pte_cache;
  };
  std::vector<CpuCaches> m_parked;
  unsigned m_cpu = 0;
  // prefetch()'s use of the memos: the HPA of the guest leaf entry of `va`, or 0.
  std::uint64_t memo_guest_leaf_hpa(std::uint64_t va) const;

  // prefetch()'s memory of the last walks, host-side only (nothing in the model reads it):
  // by 2 MiB region of guest linear address, the HPA of the guest page table that maps it;
  // by 2 MiB region of data GPA, the HPA of the EPT page table that maps it. Direct-mapped,
  // written by the walks that reach those tables.
  struct TableMemo {
    std::uint64_t region = ~std::uint64_t{0};  // address >> 21; all ones: empty
    std::uint64_t table_hpa = 0;
  };
  static constexpr std::size_t kMemoSlots = 4096;  // 8 GiB of each space at 2 MiB
  static constexpr unsigned kRegionShift = 21;
  static std::size_t memo_slot(std::uint64_t region) { return region & (kMemoSlots - 1); }
  std::vector<TableMemo> m_guest_pt_memo;
  std::vector<TableMemo> m_ept_pt_memo;
  void swap_with(CpuCaches& c);
  void invept_current(Hpa ept_root);
  void flush_all_current();
  template <class F>
  static void each_cached_hpa(const std::array<WalkCache, 4>& guest_psc,
                              const std::array<WalkCache, 4>& ept_psc, const WalkCache& ntlb,
                              const WalkCache& pte_cache, F& f) {
    static constexpr const char* kGuestPsc[] = {"guest PSC PDE", "guest PSC PDPTE",
                                                "guest PSC PML4E", "guest PSC PML5E"};
    static constexpr const char* kEptPsc[] = {"EPT PWC PDE", "EPT PWC PDPTE", "EPT PWC PML4E",
                                              "EPT PWC PML5E"};
    for (std::size_t i = 0; i < guest_psc.size(); ++i) {
      guest_psc[i].for_each_entry(
          [&](std::uint64_t, std::uint64_t, std::uint64_t table) { f(Hpa(table), kGuestPsc[i]); });
    }
    for (std::size_t i = 0; i < ept_psc.size(); ++i) {
      ept_psc[i].for_each_entry(
          [&](std::uint64_t, std::uint64_t, std::uint64_t table) { f(Hpa(table), kEptPsc[i]); });
    }
    ntlb.for_each_entry(
        [&](std::uint64_t, std::uint64_t, std::uint64_t frame) { f(Hpa(frame), "nTLB"); });
    pte_cache.for_each_entry([&](std::uint64_t key, std::uint64_t context, std::uint64_t raw) {
      f(Hpa((key << 3) & pte::kAddressMask), "PTE cache");  // key: the entry's HPA >> 3
      if (context == kEptEntry) {
        f(Hpa(raw & ept::kAddressMask), "PTE cache next EPT table");
      }
    });
  }
};

}  // namespace pagesim::walker
