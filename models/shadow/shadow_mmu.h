// KVM's shadow MMU (arch/x86/kvm/mmu/mmu.c and paging_tmpl.h, the shadow paths; tdp_mmu off):
// the shadow page tables that map GVA -> HPA for the hardware, built from the guest's own
// tables, and everything that keeps them in line with those tables.
//
// One class, defined over the files KVM keeps the same code in: shadow_mmu.cc (guest
// memory, roots, CR3 writes, audit), shadow_paging_tmpl.cc (the guest walk, the shadow page
// fault, prefetch, a page's sync, INVLPG), shadow_pages.cc (a shadow page's lifetime,
// mmu_set_spte, mmu_sync_children, the page limit), shadow_page_track.cc (write
// protection, unsync pages, the guest's table writes), shadow_zap.cc (zaps of many pages),
// shadow_mmu_notifier.cc (aging, invalidation); the SPTE's bits are spte.h's.
//
// Shadow pages (struct kvm_mmu_page). Each is one 4 KiB table of ordinary x86-64 entries in
// host PhysicalMemory (the hardware walker reads it), keyed by (gfn, role):
//  - indirect (role.direct = 0): it shadows the guest page-table page at `gfn`, at `level`
//    (the guest table's own level), with `access` = the rights the guest entries above
//    grant (KVM's role.access: pt_access of the walk). A guest table used at two levels,
//    or reached with two different rights, has one shadow page per role.
//  - direct (role.direct = 1): it maps guest-physical memory [gfn, gfn + 512^level pages)
//    with no guest table behind it: KVM's way to map a guest huge page with smaller
//    leaves when the host backs it with smaller pages (FNAME(fetch)'s second loop; role
//    access = the guest leaf's rights, so a clean huge page (no W) and a dirty one get two
//    direct pages, validate_direct_spte).
// kvm_mmu_get_page semantics: a lookup in the hash by (gfn, role) first; a hit is reused
// (synced first if unsync: __kvm_sync_page); a miss creates a zeroed page
// (shadow.pages_created). Shadow-page frames are host page-table frames (the host's dense
// table region); a zapped page's frame is kept for the next shadow page (KVM frees it to
// the kernel; the frame allocator here has no free list).
//
// Entries. A shadow non-leaf entry links a child shadow page with P, R/W, U/S, A: full
// rights (link_shadow_page); rights are enforced at the leaf. A leaf (make_spte) maps the
// host frame with P, U/S if the guest allows user access, XD if it forbids execution, PS
// above level 1, A unless installed speculatively (prefetch), and R/W + D only when the
// guest allows writes *and* the guest leaf is dirty *and* the memslot is writable: a clean
// guest page gets a read-only shadow leaf, so the first store faults and sets the guest's D
// (FNAME(protect_clean_gpte)).
//
// Shadow page fault (FNAME(page_fault)), for a trace access whose hardware walk of the
// shadow table found no leaf or a store found a read-only one:
//  1. exit (vmexits.total), software walk of the guest table (shadow.sw_walks;
//     FNAME(walk_addr_generic)): reads each guest entry through its HVA; a not-present
//     entry -> the fault is the guest's (shadow.pf_guest; returned as kGuestFault: the
//     caller runs the guest kernel's fault handler and retries). Else it sets the guest's
//     A flags on the way and D on the leaf for a store, as the hardware would have
//     (FNAME(update_accessed_dirty_bits); KVM writes them through the HVA: no write
//     protection applies).
//  2. the data gfn's memslot (none, or a store to a read-only slot: MMIO, vmexits.mmio),
//     its HVA, the VMM page (ShadowVmm::fault_in: a host fault if absent, host.page_faults;
//     a refault read back from swap if the host evicted it).
//  3. FNAME(fetch): down the shadow table from the root; a missing link at a level above
//     the guest leaf gets the indirect shadow page of the guest table there; from the
//     guest leaf's level down to the leaf size actually mapped (the smaller of the guest
//     page, the host page and what the slot's alignment allows) direct shadow pages; then
//     the leaf (mmu_set_spte), and with shadow.prefetch its group of 8 (FNAME(pte_prefetch)).
//     vmexits.page_fault, shadow.pf_fixed.
//
// Write protection. A guest table page with an indirect shadow page is write-protected:
// the guest kernel's stores to it (its fault handler filling entries, the trace's
// `!ptewrite` and `!exit`) come here through ShadowGuestMemory -> guest_table_write():
//  - if an upper-level shadow page exists for the gfn (KVM write-tracks those:
//    account_shadowed), or wp_policy = emulate: a VM exit (vmexits.wp_write), the store is
//    emulated (shadow.wp_writes) and every shadow entry made from the old guest entry is
//    zapped (kvm_mmu_pte_write / kvm_mmu_track_write; a present one makes the caller flush
//    every TLB entry, kvm_flush_remote_tlbs). Three such writes to an upper-level shadow
//    page with no fault passing through it in between zap the page (write flooding:
//    detect_write_flooding, shadow.flooded); last-level pages are exempt.
//  - else (wp_policy = unsync, shadowed only as a last-level table): unless every shadow page
//    of the gfn is unsync already, one VM exit (the #PF on the write-protected mapping,
//    vmexits.wp_write, charged as a shadow page fault) marks them unsync (shadow.unsync;
//    kvm_unsync_page) and the guest writes freely from then on: the shadow page may be
//    stale, as a TLB may be, until the guest flushes.
//  Sync points: a CR3 write syncs every unsync page reachable from the new root
//  (kvm_mmu_sync_roots -> kvm_sync_page: each present entry re-read from the guest table,
//  dropped if the guest entry is gone, not accessed, or maps another gfn, else its rights
//  updated; the page is write-protected again; shadow.sync). The re-reads are atomic
//  (kvm_vcpu_read_guest_atomic, under the MMU lock): when the guest table page is not
//  resident (the host evicted it) the read fails and the whole shadow page is zapped
//  instead (kvm_sync_page on a failed FNAME(sync_spte)), counted in shadow.sync and
//  shadow.zaps. INVLPG refreshes the one leaf
//  for its address if its page is unsync (__kvm_mmu_invalidate_addr -> kvm_sync_spte, Linux
//  6.4 on: the same per-entry sync, nothing prefetched; shadow.invlpg_syncs); the page
//  stays unsync until a CR3 write. kvm_mmu_get_page refreshes an unsync page it returns
//  and leaves it unsync (kvm_sync_page from kvm_mmu_find_shadow_page;
//  shadow.sync_kept_unsync).
//
// Zaps (kvm_mmu_prepare_zap_page, shadow.zaps): unlink the page from its parents, unlink its
// children (they stay in the hash: a later fault relinks them), zap the unsync pages below
// it (mmu_zap_unsync_children), free it. After any zap the caller flushes every TLB entry.
//
// The host's reclaim. KVM is the VMM process's secondary MMU: this class is the
// hostmm::MmuNotifier the host's reclaim and madvise call (hostmm/host_mm.h). An HVA range
// becomes gfn ranges through the memslots, and the rmap (shadow_rmap.h: for each leaf level
// and gfn, the leaves that map it; updated at every leaf install and zap, 8 bytes per gfn
// of the chunks touched) gives the leaves, in every shadow page, unsync ones included:
//  - test_young / clear_young (kvm_test_age_rmap / kvm_age_rmap): whether a leaf has A;
//    clear_young clears it (shadow.rmap_aged) without a flush, and the next hardware walk
//    through the leaf sets it again.
//  - invalidate_range (kvm_unmap_gfn_range -> kvm_zap_rmap): the leaves are zapped
//    (shadow.rmap_zaps), reported dirty if one had D or R/W, and a flush of every TLB entry
//    requested (take_flush; kvm_flush_remote_tlbs). Shadow pages stay, also those that
//    shadow a guest page-table page the host evicts: KVM tracks writes to the gfn, not to
//    the host page, and the page comes back with its contents (a refault reads it from
//    swap).
// KVM reads the guest's memory in two ways: the fault's walk and its A/D writes, and the
// guest kernel's own accesses, through ShadowVmm::fault_in (which may fault, refault and
// swap in, and, reserving memory, reclaim other pages: the notifier runs in the middle of
// the fault); syncs, INVLPG and prefetch atomically (ShadowVmm::resident: never faulting).
// A fault's invalidations all come before its data page is faulted in (nothing after that
// reserves host memory: the shadow pages come from the reserve's margin), so the leaf it
// installs maps a resident frame. Not modelled: KVM's retry of a fault that raced an
// invalidation (mmu_invalidate_retry_gfn: one more exit when the fault's own faultin
// reclaimed).
//
// Roots. A CR3 write to the current root only syncs; to one of the three previous roots
// (KVM's prev_roots, KVM_MMU_NUM_PREV_ROOTS) it switches with no lookup (fast_pgd_switch);
// to any other it looks the root up (kvm_mmu_get_page: shadow.get_page). The hash keeps
// every root alive, so a switch costs shadow.cr3_write_latency either way.
//
// Guest tables mapped as data (a guest image whose tables the guest can store to, as
// pagesim-validate's guest does; the guest kernel model never maps a table frame as data).
// A new indirect shadow page write-protects the leaves mapping its gfn (rmap_write_protect,
// shadow.write_protected, a flush). A leaf made for such a gfn is writable only if every
// shadow page of the gfn is last-level and may go unsync (mmu_try_to_unsync_pages; never
// for a prefetch, nor at a sync); else it stays read-only and a store through it is
// emulated (RET_PF_EMULATE: Fault::Outcome::kEmulated, vmexits.wp_write, shadow.wp_writes).
//
// The host's zero page (host.zero_page). A read of a VMM page never written maps the
// shared zero page: the leaf is read-only, and prefetch skips such pages (its atomic GUP
// asks for a writable page). A store then copies the page on write: the host's
// invalidation zaps the read-only leaf during KVM's fault, which KVM retries
// (mmu_invalidate_retry_gfn): one more exit and software walk (shadow.fault_retries).
// A fault that finds its leaf in place (through a missing link above it) is spurious
// (shadow.pf_spurious), not fixed.
//
// Not modelled: guest protection faults (the guest kernel maps every page R/W, user,
// executable: the software walk never finds a permission fault), the guest kernel's own
// mappings (its direct map) except as ShadowGuestMemory's exits, 32-bit and PAE guests
// (role.quadrant), MMIO sptes (each MMIO access takes the full fault path), write
// protection of huge leaves over a shadowed gfn and large-page disallowing over guest
// tables (kvm_mmu_gfn_disallow_lpage), KVM's zap of every shadow page when a memslot is
// deleted (kvm_mmu_zap_all_fast: here the slot's range is zapped).
//
// Several vCPUs (set_vcpus, vm.vcpus). Shadow pages, the hash, the rmap and the unsync pages
// are the VM's (struct kvm_arch): one set, whichever vCPU made them. Each vCPU has its own
// root (vcpu->arch.mmu->root), its previous roots (prev_roots) and the obsolete roots a
// zap_all_fast left it holding; the current vCPU's are the members below, the others' are
// parked and swapped in by switch_vcpu. Two vCPUs on one guest CR3 share its root shadow
// page (one kvm_mmu_get_page hit: shadow.roots_created counts it once). A root any vCPU
// holds (its root or a live prev_root: root_count > 0) is never recycled by the page limit;
// a root zapped otherwise (flooding, a memslot's range, an address space torn down) leaves
// every vCPU that held it without one, and each reloads it at its next entry
// (KVM_REQ_MMU_RELOAD per vCPU); the roots kvm_mmu_zap_all_fast only invalidates count
// toward the page limit until their last holder drops them. With shadow.vcpu_root_copy each
// vCPU walks its own copy of each kept root's top-level entries (shadow_params.h,
// hardware_root). CR3 writes, INVLPG and kvm_mmu_sync_roots act on the
// current vCPU's root; a sync is of the shared unsync pages, so it serves every vCPU. The
// flushes: kAll (kvm_flush_remote_tlbs, every vCPU: zaps, write protection, a leaf
// weakened) or the current vCPU's PCID or page (KVM_REQ_TLB_FLUSH_CURRENT of a CR3 write,
// INVLPG).
//
// Invariants (checked by audit() and audit_rmap()): every leaf in a shadow page that is not
// unsync, reachable from a root, maps what the guest tables and the VMM map for its GVA;
// the rmap holds exactly the present leaves; no leaf maps a frame the host has freed.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "base/tlb_flush.h"
#include "models/host/host_params.h"
#include "models/host/vmexit_stats.h"
#include "models/hostmm/mmu_notifier.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/paging/pte.h"
#include "models/shadow/shadow_params.h"
#include "models/shadow/shadow_rmap.h"
#include "models/shadow/shadow_stats.h"
#include "models/shadow/shadow_vmm.h"

namespace pagesim::shadow {

class ShadowMmu final : public hostmm::MmuNotifier {
 public:
  // One shadow page fault's outcome (page_fault()).
  struct Fault {
    enum class Outcome : std::uint8_t {
      kFixed,       // a shadow leaf now maps the GVA: walk again
      kGuestFault,  // the guest's table does not map it: the guest kernel must
      kMmio,        // the GPA is in no memslot (or a store to a read-only one): emulated
      kEmulated,    // a store to a guest table page KVM write-tracks: emulated, not mapped
    };
    Outcome outcome = Outcome::kFixed;
    Cycles cycles;                  // the exit and its handling, host fault included
    unsigned guest_level = 0;       // kGuestFault: level of the guest entry not present
    Gpa gpa;                        // kFixed, kMmio: the GPA of the GVA
    PageSize size = PageSize::k4K;  // kFixed: the shadow leaf's size
    bool host_fault = false;        // a VMM page was faulted in (data, or a guest table)
    unsigned pages_created = 0;     // shadow pages this fault created
  };

  // A leaf entry that disagrees with the truth (audit()).
  struct Mismatch {
    Gva gva;                   // the first GVA the leaf maps
    std::uint64_t spte;        // the leaf
    std::optional<Hpa> truth;  // what the guest tables and the VMM map there (nullopt: nothing)
  };

  // `levels`: the guest's paging levels (4 or 5), which the shadow tables copy. Every
  // reference must outlive the MMU. Statistics "shadow" go under `parent`; exits count in
  // `exit_stats`.
  ShadowMmu(const ShadowParams& params, const host::VmExitParams& exits, unsigned levels,
            ShadowVmm& vmm, mem::PhysicalMemory& memory, mem::FrameAllocator& frames,
            host::VmExitStats& exit_stats, stats::Group* parent);
  ShadowMmu(const ShadowMmu&) = delete;
  ShadowMmu& operator=(const ShadowMmu&) = delete;

  // ---- Several vCPUs (see the file comment). One until set_vcpus; set_vcpus before the
  // first root is loaded. switch_vcpu parks the current vCPU's roots and brings `vcpu`'s.
  void set_vcpus(unsigned vcpus);
  void switch_vcpu(unsigned vcpu);
  unsigned vcpus() const {
    return static_cast<unsigned>(std::max<std::size_t>(m_parked.size(), 1));
  }
  unsigned current_vcpu() const { return m_vcpu; }

  // ---- The current root (the shadow of the guest CR3 the current vCPU runs on).

  // Makes the shadow root of the guest table at `guest_root` current (mmu_alloc_shadow_roots
  // -> kvm_mmu_get_page of the root gfn): reused from the hash or created
  // (shadow.roots_created). Returns whether it was created. No exit, no cycles: the caller
  // charges the CR3 write that asks for it.
  bool load_root(Gpa guest_root);
  // Whether a root is current; a zap of the current root (flooding, memslot change,
  // teardown) unloads it, and the caller reloads it with load_root() before the next walk
  // (KVM_REQ_MMU_RELOAD at the next VM entry).
  bool root_loaded() const { return m_root != kNone; }
  // The current root's table (the root shadow page). Requires root_loaded().
  Hpa root_hpa() const { return m_pages[m_root].table; }
  // The table the current vCPU's hardware walk starts from: the root shadow page, or with
  // shadow.vcpu_root_copy (several vCPUs) the vCPU's own copy of its top-level entries.
  // Requires root_loaded().
  Hpa hardware_root() const { return m_root_copies ? m_root_copy : m_pages[m_root].table; }
  // The guest table the current root shadows (the last load_root's).
  Gpa guest_root() const { return m_guest_root; }
  // Cycles of syncs that load_root made outside an exit (an unsync page the hash returned);
  // resets them. page_fault() and cr3_write() include their own.
  Cycles take_pending_cycles() {
    const Cycles c = m_pending;
    m_pending = Cycles();
    return c;
  }

  // ---- Events, each returning its cycles; the TLB flushes they require accumulate for
  // take_flush().

  // A shadow page fault of a trace access to `gva` (the current root must be loaded): see
  // the file comment. Counts its exit.
  Fault page_fault(Gva gva, AccessKind kind);

  // The guest kernel's access to one of its page-table pages faulted the VMM page in
  // (`host_cycles`): the kernel's shadow page fault (ShadowGuestMemory). One exit
  // (vmexits.page_fault, shadow.kernel_faults); returns its cycles, host fault included.
  Cycles kernel_fault(Cycles host_cycles);

  // The guest kernel stored to its page-table entry at `gpa` (the store has landed): the
  // write protection of the file comment. 0 cycles when the page is not write-protected.
  Cycles guest_table_write(Gpa gpa);
  // The guest kernel zeroed the frame at `frame` for a new page table. A frame with shadow
  // pages would be a page table reused without being freed, which the guest kernel model
  // never does; it is handled as KVM handles a flood of writes (one emulated-write exit,
  // every shadow page of the gfn zapped: kvm_mmu_unprotect_page).
  Cycles guest_frame_zeroed(Gpa frame);

  // MOV to CR3 (handle_cr -> kvm_set_cr3 -> kvm_mmu_new_pgd): one exit (vmexits.cr3_write).
  // Without cache_roots every shadow page is zapped first. Then the root of `guest_root` is
  // loaded, and unless `noflush` (CR3 bit 63 with PCIDs) every unsync page it reaches is
  // synced. Flush: the PCID's entries (`pcid`), everything after any zap.
  Cycles cr3_write(Gpa guest_root, std::uint16_t pcid, bool noflush);
  // KVM_REQ_TLB_FLUSH_GUEST at the current vCPU's entry (kvm_vcpu_flush_tlb_guest without
  // TDP: a preempted vCPU the guest's PV TLB flush flagged): kvm_mmu_sync_roots (every
  // unsync page below the current root synced), kvm_mmu_sync_prev_roots (a previous root
  // that reaches an unsync page is freed from the vCPU's cache, "sync prev_roots by simply
  // freeing them"); the caller then flushes the vCPU's TLB in hardware. No exit of its own
  // (it runs at an entry the vCPU makes anyway). Flush: what the syncs flushed (every vCPU).
  Cycles flush_tlb_guest();
  // INVLPG `gva` in address space `pcid`, whose guest root table is `guest_root` (nullopt:
  // the address space has none yet): one exit (vmexits.invlpg); in the shadow root of
  // `guest_root`, if cached, the leaf for `gva` is refreshed when its page is unsync.
  // Flush: that page, everything if a present leaf was dropped.
  Cycles invlpg(Gva gva, std::uint16_t pcid, std::optional<Gpa> guest_root);

  // Zaps every shadow page of the guest table pages `tables` (an address space torn down).
  void zap_table_pages(std::span<const Gpa> tables);
  // Zaps what maps or shadows guest-physical [begin, end): the leaves mapping it, the
  // indirect pages of guest tables in it, the direct pages over it (a memslot deleted or
  // moved; KVM today zaps every page instead, kvm_mmu_zap_all_fast).
  void zap_gpa_range(Gpa begin, Gpa end);
  // Zaps every shadow page.
  void zap_all();
  // kvm_mmu_zap_all_fast (a memslot deleted or moved, shadow.memslot_zap = all): zap_all,
  // counted in shadow.zap_all; the root in use is only invalidated by KVM and freed at the
  // vCPU's next entry, where its second kvm_mmu_prepare_zap_page and flush are counted
  // (load_root).
  void zap_all_fast();
  // One aging sweep (shadow.aging): every present shadow leaf with A set has it cleared
  // (shadow.aged); every one without is dropped (shadow.aging_drops).
  void age();

  // ---- The host's mmu_notifier calls on the VMM's HVAs (hostmm/mmu_notifier.h; see the
  // file comment, "The host's reclaim"). The HVA range becomes gfn ranges through the
  // memslots, and the rmap gives the leaves mapping them, in every shadow page (unsync
  // ones included). No exit and no cycles here: the host charges the shootdowns.

  // kvm_test_age_gfn -> kvm_test_age_rmap: whether such a leaf has A set.
  bool test_young(Hva begin, Hva end) override;
  // kvm_age_gfn -> kvm_age_rmap: clears the A flags it finds (shadow.rmap_aged), no flush.
  bool clear_young(Hva begin, Hva end) override;
  // kvm_unmap_gfn_range -> kvm_zap_rmap: zaps those leaves (shadow.rmap_zaps; shadow pages
  // stay), reports them dirty if one had D or R/W set, and requests a flush of every TLB
  // entry (take_flush) when one was zapped (kvm_flush_remote_tlbs). First the VMM copies
  // the range's contents for inspection (ShadowVmm::save_contents).
  hostmm::InvalidateResult invalidate_range(Hva begin, Hva end) override;

  // kvm_flush_remote_tlbs reached every vCPU (KVM_REQ_TLB_FLUSH, whoever asked: a zap, a
  // write protection, the host's invalidation). With shadow.vcpu_root_copy the current
  // vCPU's copy of its top-level entries is refreshed now (its next entry) and every other
  // vCPU's at its next entry (switch_vcpu). The caller flushes the TLBs and walker caches.
  void tlb_flush_every_vcpu();

  // The TLB flushes required since the last call; resets them.
  TlbFlush take_flush() {
    const TlbFlush f = m_flush;
    m_flush = TlbFlush::none();
    return f;
  }

  // ---- Inspection (tests, --check).

  // The leaves reachable from the shadow root of `guest_root` (if it has one) in pages that
  // are not unsync, compared with `truth(gva)`: the HPA that the guest tables and the VMM
  // map `gva` to. Returns the leaves that disagree (empty: consistent).
  template <class Truth>
  std::vector<Mismatch> audit(Gpa guest_root, Truth&& truth) const;

  // A present shadow leaf (for_each_leaf).
  struct Leaf {
    Hpa page;                       // the host page it maps (its base)
    PageSize size = PageSize::k4K;  // the leaf's size
    std::uint64_t gfn = 0;          // the first gfn it maps
    std::uint64_t spte = 0;
    unsigned level = 0;
    bool unsync = false;  // its shadow page is unsync
  };
  // Every present leaf of every shadow page, unsync pages included, in page-number order.
  // A software scan with no side effects (audits only).
  void for_each_leaf(const std::function<void(const Leaf&)>& f) const;
  // The rmap holds exactly the present leaves, each under its gfn and level: "" if so,
  // else the first disagreement. O(shadow pages * 512): tests and --check.
  std::string audit_rmap() const;
  // Host memory the rmap takes (ShadowRmap::bytes).
  std::uint64_t rmap_bytes() const { return m_rmap.bytes(); }

  // The shadow root table of `guest_root` if the hash has one (no side effects).
  std::optional<Hpa> find_root(Gpa guest_root) const;
  // For --check: whether the shadow path of `gva` under the root of `guest_root` passes
  // through a shadow page of a guest table whose contents the host discarded behind KVM's
  // back (ShadowVmm::contents_lost): that page's entries are what the guest wrote before,
  // which a walk of the guest's tables from scratch no longer finds.
  bool shadows_lost_table(Gpa guest_root, Gva gva) const;
  std::uint64_t live_pages() const { return m_live; }
  // Shadow pages unsync now (KVM's mmu_unsync stat).
  std::uint64_t unsync_pages() const { return m_unsync.size(); }
  std::uint64_t max_pages() const { return m_max_pages; }
  unsigned levels() const { return m_levels; }
  const ShadowStats& stats() const { return m_stats; }

 private:
  // Calls f(sp, index, spte) for each present leaf of every live shadow page (levels 4 and
  // 5 hold no leaves), in page-number order. f may zap or rewrite the entry it is given.
  template <class F>
  void for_each_present_leaf(F&& f) const;

  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  static constexpr unsigned kEntries = paging::pte::kEntriesPerTable;
  static constexpr unsigned kPrefetchEntries = 8;  // PTE_PREFETCH_NUM
  static constexpr std::size_t kPrevRoots = 3;     // KVM_MMU_NUM_PREV_ROOTS

  struct Link {
    std::uint32_t page;   // the parent shadow page
    std::uint16_t index;  // its entry that links the child
  };

  struct ShadowPage {
    Hpa table;               // the shadow table's host frame
    std::uint64_t gfn = 0;   // indirect: the guest table's; direct: the first gfn mapped
    std::uint8_t level = 0;  // 1 = PT .. 5
    bool direct = false;
    paging::pte::Rights access = 0;  // role.access
    bool live = false;
    bool unsync = false;
    std::uint8_t write_flooding = 0;
    std::uint64_t serial = 0;         // creation order (recycling zaps the oldest)
    std::vector<Link> parents;        // KVM's parent_ptes
    std::vector<std::uint64_t> gfns;  // levels 1-3: the gfn each leaf entry maps
  };

  // The result of the software walk of the guest table (KVM's struct guest_walker).
  // Arrays are indexed by level (1 = PT .. 5).
  struct GuestWalk {
    bool ok = false;
    unsigned level = 0;  // ok: the guest leaf's level; else the not-present entry's
    std::array<std::uint64_t, 6> table_gfn{};        // the guest table read at each level
    std::array<paging::pte::Rights, 6> pt_access{};  // rights granted by the entries above
    paging::pte::Rights pte_access = 0;              // the leaf's combined rights
    std::uint64_t gfn = 0;                           // the 4 KiB gfn of the GVA
  };

  static std::uint64_t key(std::uint64_t gfn, unsigned level, bool direct,
                           paging::pte::Rights access) {
    return (gfn << 8) | (std::uint64_t{level} << 4) | (direct ? 8u : 0u) | access;
  }
  Hpa entry_hpa(std::uint32_t sp, unsigned index) const {
    return Hpa(m_pages[sp].table.value() + std::uint64_t{index} * 8);
  }
  std::uint64_t read_spte(std::uint32_t sp, unsigned index) const {
    return m_memory.read_u64(entry_hpa(sp, index));
  }
  void write_spte(std::uint32_t sp, unsigned index, std::uint64_t v) {
    m_memory.write_u64(entry_hpa(sp, index), v);
  }
  std::uint32_t child_of(std::uint64_t spte) const;
  void flush_all() { m_flush.merge(TlbFlush::all()); }
  // Counts one exit of `reason` costing `cycles`.
  void count_exit(stats::Counter& reason, Cycles cycles);

  // KVM's own reads and writes of guest memory, through the HVA (faulting the VMM page in).
  std::uint64_t read_guest(Gpa gpa, Cycles& cycles, bool& host_fault);
  void write_guest(Gpa gpa, std::uint64_t value, Cycles& cycles, bool& host_fault);

  GuestWalk walk_guest(Gva gva, AccessKind kind, Cycles& cycles, bool& host_fault);
  // FNAME(page_fault) itself (page_fault() adds the vCPU's root copy).
  Fault handle_page_fault(Gva gva, AccessKind kind);
  // shadow.vcpu_root_copy. use_root_copy: the current vCPU now runs on m_root: with
  // `fresh` (a root loaded: kvm_mmu_get_page, a reload) its copy of that root is taken anew,
  // else (a previous root come back, fast_pgd_switch) the copy the vCPU kept of it is used
  // as it was, unless a flush of every vCPU came since. refresh_root_copy: the current
  // copy, whole; refresh_root_copy_entry: its one entry translating `gva` (a fault).
  void use_root_copy(bool fresh);
  void refresh_root_copy();
  void refresh_root_copy_entry(Gva gva);
  // Returns false when the leaf was left read-only for a store because KVM write-tracks the
  // gfn (set_spte).
  bool fetch(const GuestWalk& gw, Gva gva, const ShadowVmm::Backing& backing, Fault& f);
  // kvm_mmu_new_pgd for a CR3 write to another root: a root among the previous three
  // (prev_roots) comes back as it is (fast_pgd_switch, no kvm_mmu_get_page); any other is
  // loaded (load_root), and the current root joins the previous ones.
  void switch_root(Gpa guest_root);
  // kvm_mmu_get_page: the page of (gfn, role), reused or created. `created` is set.
  std::uint32_t get_page(std::uint64_t gfn, unsigned level, bool direct, paging::pte::Rights access,
                         bool& created);
  void link(std::uint32_t parent, unsigned index, std::uint32_t child);
  // mmu_set_spte + make_spte: the leaf at `index` of `sp`. A writable leaf for a gfn that
  // shadow pages shadow (a guest table page the guest maps as data) is allowed only if they
  // can go unsync (mmu_try_to_unsync_pages): returns false when it was made read-only for
  // that reason.
  bool set_spte(std::uint32_t sp, unsigned index, unsigned level, paging::pte::Rights access,
                std::uint64_t gfn, Hpa page, bool host_writable, bool speculative);
  // FNAME(prefetch_gpte): the leaf at `index` of indirect last-level page `sp` from the guest
  // entry `gpte`, if present, accessed and resident. Returns whether it installed one.
  bool prefetch_gpte(std::uint32_t sp, unsigned index, std::uint64_t gpte);
  void pte_prefetch(std::uint32_t sp, unsigned index);
  // mmu_page_zap_pte: clears the entry (unlinking a child, or dropping a leaf from the
  // rmap). Returns whether it was present.
  bool zap_spte(std::uint32_t sp, unsigned index);
  // The rmap's leaves mapping any gfn of the HVA range, into m_rmap_scratch.
  void collect_leaves(Hva begin, Hva end);
  void unlink_parent(std::uint32_t child, std::uint32_t parent, unsigned index);
  // `unsync_children`: zap the unsync pages below it first (mmu_zap_unsync_children).
  void zap_page(std::uint32_t sp, bool unsync_children = true);
  void zap_unsync_children(std::uint32_t sp);
  void free_page(std::uint32_t sp);
  void make_unsync(std::uint32_t sp);
  // mmu_try_to_unsync_pages: whether a writable leaf may map `gfn`; marks its last-level
  // shadow pages unsync (never for a prefetch). False while an upper-level page shadows it,
  // with wp_policy = emulate, or for a prefetch while any is in sync.
  bool try_to_unsync(std::uint64_t gfn, bool speculative);
  // rmap_write_protect: the leaves mapping `gfn` (4 KiB) made read-only, a flush of every
  // TLB entry if one was writable (a new indirect shadow page write-protects its gfn),
  // counted as a flush request unless `count_flush` is false (the caller batches it).
  // Returns whether a leaf lost R/W.
  bool write_protect_gfn(std::uint64_t gfn, bool count_flush = true);
  // kvm_sync_page (__kvm_sync_page) alone, its cycles added to `cost`: 1 if a leaf was
  // dropped or lost a right (a flush is due), 0 if not, -1 if the page was zapped (the
  // guest entries are read atomically, never faulting: a guest table page that is not
  // resident cannot be read). The caller counts the flush.
  int sync_page_entries(std::uint32_t sp, Cycles& cost);
  // FNAME(sync_spte) of the present leaf `i` of `sp`: -1 when the guest entry cannot be
  // read (its table page not resident), 1 when the leaf was dropped or lost a right (a
  // flush is due), 0 otherwise.
  int sync_spte(std::uint32_t sp, unsigned i);
  // sync_spte of every present leaf of `sp` (__kvm_sync_page's loop): -1 at the first entry
  // that cannot be read (the caller zaps the page), else 1 if any leaf was dropped or lost
  // a right, 0 if none. The page's unsync state is the caller's.
  int sync_entries(std::uint32_t sp);
  // mmu_sync_children from `root` (kvm_mmu_sync_roots): the unsync pages below it synced in
  // rounds of KVM_PAGE_ARRAY_NR, one flush per round that write-protected a leaf and one
  // at the end; returns the cycles.
  Cycles sync_children(std::uint32_t root);
  // The way down from `root` to `sp` through the parent links, smallest in index order:
  // entry index, page, entry index, page, ..., ending with sp (empty for sp == root).
  // False when sp is not below root. `memo` keeps each page's answer for one root.
  using PathMemo = std::unordered_map<std::uint32_t, std::pair<bool, std::vector<std::uint32_t>>>;
  bool first_path(std::uint32_t sp, std::uint32_t root, std::vector<std::uint32_t>& path,
                  PathMemo& memo) const;
  // make_mmu_pages_available: zaps the oldest pages (none holding a root_count) when fewer
  // than KVM_MIN_FREE_MMU_PAGES are left, until KVM_REFILL_PAGES are.
  void make_pages_available();
  // The obsolete roots some vCPU still holds (zap_all_fast's), each once: pages KVM has
  // not freed yet.
  std::uint64_t held_obsolete_pages() const;
  // Whether KVM holds a root_count on `sp`: a vCPU's current root, or a root cached in a
  // vCPU's prev_roots (kvm_mmu_zap_oldest_mmu_pages skips those).
  bool holds_root_count(std::uint32_t sp) const;
  // The serials of the roots a vCPU holds (its root, its live prev_roots): what
  // zap_all_fast leaves it holding, obsolete.
  std::vector<std::uint64_t> held_roots(std::uint32_t root,
                                        const std::vector<std::uint64_t>& prev_roots) const;
  // The indirect shadow pages of `gfn` (empty if none).
  const std::vector<std::uint32_t>* shadowed(std::uint64_t gfn) const {
    const auto it = m_shadowed.find(gfn);
    return it == m_shadowed.end() ? nullptr : &it->second;
  }
  template <class Truth>
  void audit_page(std::uint32_t sp, std::uint64_t va_base, Truth& truth,
                  std::vector<Mismatch>& out) const;

  ShadowParams m_params;
  host::VmExitParams m_exit_params;
  unsigned m_levels;
  ShadowVmm& m_vmm;
  mem::PhysicalMemory& m_memory;
  mem::FrameAllocator& m_frames;
  host::VmExitStats& m_exits;
  std::uint64_t m_max_pages;
  std::uint64_t m_live = 0;
  ShadowStats m_stats;

  std::vector<ShadowPage> m_pages;                          // indexed by shadow-page number
  std::vector<std::uint32_t> m_free_pages;                  // numbers of zapped pages, reused first
  std::vector<Hpa> m_free_frames;                           // their frames
  std::unordered_map<std::uint64_t, std::uint32_t> m_hash;  // key(gfn, role) -> page
  std::unordered_map<std::uint64_t, std::uint32_t> m_by_frame;  // table frame number -> page
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> m_shadowed;  // gfn -> indirect
  std::vector<std::uint32_t> m_unsync;                                       // unsync pages
  ShadowRmap m_rmap;                                             // gfn -> the leaves mapping it
  std::vector<ShadowRmap::Entry> m_rmap_scratch;                 // collect_leaves's result
  std::deque<std::pair<std::uint64_t, std::uint32_t>> m_active;  // (serial, page), oldest first
  std::uint64_t m_serial = 0;
  std::uint32_t m_root = kNone;
  Gpa m_guest_root;
  std::vector<std::uint64_t> m_prev_roots;  // guest root GPAs, most recent first
  bool m_last_spte_spurious = false;        // set_spte wrote the leaf that was there
  // zap_all took roots KVM holds (the one in use and the cached prev_roots): KVM only
  // invalidated them, and frees them at the vCPU's next entry (kvm_mmu_free_obsolete_roots):
  // their serials.
  std::vector<std::uint64_t> m_obsolete_roots;
  // Another vCPU's roots while it is parked (the current vCPU's slot is unused).
  struct VcpuRoots {
    std::uint32_t root = kNone;
    Gpa guest_root;
    std::vector<std::uint64_t> prev_roots;
    std::vector<std::uint64_t> obsolete_roots;
    // shadow.vcpu_root_copy: this vCPU's copies of the top-level entries of the roots it
    // runs on and keeps (its root and prev_roots: one frame each), kept here for every
    // vCPU, the current one's too. `stale`: a flush of every vCPU came since the copy was
    // last refreshed (it is, when the vCPU next runs on that root).
    struct RootCopy {
      std::uint64_t guest_root = ~std::uint64_t{0};  // the guest CR3 it is of (none: ~0)
      Hpa frame;
      bool stale = false;
    };
    std::array<RootCopy, 1 + kPrevRoots> root_copies{};
  };
  std::vector<VcpuRoots> m_parked;   // empty: one vCPU
  bool m_root_copies = false;        // shadow.vcpu_root_copy with several vCPUs
  Hpa m_root_copy;                   // the current vCPU's copy of its root (m_root_copies)
  std::size_t m_root_copy_slot = 0;  // its index in the vCPU's root_copies
  unsigned m_vcpu = 0;
  TlbFlush m_flush;
  Cycles m_pending;  // syncs inside get_page, until an exit takes them
};

template <class F>
void ShadowMmu::for_each_present_leaf(F&& f) const {
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    const ShadowPage& p = m_pages[sp];
    if (!p.live || p.level > paging::pte::kPdpt) {
      continue;
    }
    for (unsigned i = 0; i < kEntries; ++i) {
      const std::uint64_t spte = read_spte(sp, i);
      if ((spte & paging::pte::kPresent) != 0 && paging::pte::is_leaf(spte, p.level)) {
        f(sp, i, spte);
      }
    }
  }
}

template <class Truth>
std::vector<ShadowMmu::Mismatch> ShadowMmu::audit(Gpa guest_root, Truth&& truth) const {
  std::vector<Mismatch> out;
  const auto it =
      m_hash.find(key(guest_root.value() >> 12, m_levels, false, paging::pte::kAllRights));
  if (it != m_hash.end()) {
    audit_page(it->second, 0, truth, out);
  }
  return out;
}

template <class Truth>
void ShadowMmu::audit_page(std::uint32_t sp, std::uint64_t va_base, Truth& truth,
                           std::vector<Mismatch>& out) const {
  namespace pte = paging::pte;
  const ShadowPage& page = m_pages[sp];
  const unsigned level = page.level;
  for (unsigned i = 0; i < kEntries; ++i) {
    const std::uint64_t spte = read_spte(sp, i);
    if ((spte & pte::kPresent) == 0) {
      continue;
    }
    std::uint64_t va = va_base | (std::uint64_t{i} << pte::index_shift(level));
    if (level == 5 || (level == 4 && m_levels == 4)) {
      // Sign-extend bit 56 (5-level) or 47 (4-level): canonical addresses.
      const unsigned top = m_levels == 5 ? 56 : 47;
      if ((va >> top) & 1) {
        va |= ~((std::uint64_t{1} << top) - 1);
      }
    }
    if (pte::is_leaf(spte, level)) {
      if (page.unsync) {
        continue;  // allowed to be stale until the next sync point
      }
      const PageSize size = pte::leaf_page_size(level);
      const Hpa mapped(spte & pte::page_address_mask(size));
      const std::optional<Hpa> want = truth(Gva(va));
      if (!want || *want != mapped) {
        out.push_back({Gva(va), spte, want});
      }
    } else {
      audit_page(child_of(spte), va, truth, out);
    }
  }
}

}  // namespace pagesim::shadow
