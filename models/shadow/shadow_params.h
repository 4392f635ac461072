// Parameters of KVM's shadow MMU (mode=shadow), keys under `shadow.`:
//
//   shadow.wp_policy            emulate | unsync: a guest write to a write-protected last-level
//                               guest page table is emulated, or makes its shadow page unsync
//   shadow.cache_roots          keep shadow pages across CR3 writes (the caching MMU, design 2
//                               of seed 001) or drop them all at each CR3 write (design 1)
//   shadow.prefetch             KVM's PTE prefetch around a fixed last-level entry (8 entries)
//   shadow.memslot_zap          what a memslot delete or move zaps: all (KVM's default) or slot
//   shadow.max_pages            shadow pages the VM may have before the oldest are recycled
//   shadow.new_root_exit        a CR3 write that finds no cached root costs one more exit
//   shadow.recycle_unsync_children
//                               recycling a page zaps the unsync pages below it too
//   shadow.vcpu_root_copy       each vCPU walks its own copy of its root's top-level entries,
//                               refreshed by KVM's flush of every vCPU (kvm_pvm)
//   shadow.aging, shadow.aging_interval
//                               the clock of seed 001: sweep the shadow leaves, clearing A and
//                               dropping those not used since the last sweep
//   shadow.page_fault_latency, wp_write_latency, cr3_write_latency, invlpg_latency,
//   sync_page_latency           cycles of KVM's handling, beyond vmexit.latency
//
// The exit itself (vmexit.latency), MMIO emulation (vmexit.mmio_latency) and the host and
// guest kernels' faults (host.*, guest.*) are the keys nested mode uses (host_params.h).
// Costs are core cycles of the ~2.6 GHz reference core (os_params.h); each default says
// where its order of magnitude comes from and how sure it is.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"

namespace pagesim::shadow {

// What a guest write to a write-protected guest page-table page does (shadow_mmu.h).
//  kEmulate: every such write exits and is emulated (KVM's kvm_mmu_pte_write /
//    kvm_mmu_track_write zaps the shadow entries the old guest entry made): the shadow MMU
//    of KVM before 2.6.27 and of other hypervisors' "tracing" MMUs.
//  kUnsync: a write to a table that is shadowed only as a last-level table exits once,
//    marks its shadow pages unsync (mmu_try_to_unsync_pages -> kvm_unsync_page) and lets
//    the guest write the page freely; the shadow page is brought back in line at the next
//    CR3 write (kvm_mmu_sync_roots -> kvm_sync_page), and INVLPG refreshes the one entry it
//    names (kvm_mmu_invalidate_addr -> kvm_sync_spte). Upper-level tables are always emulated (KVM
//    write-tracks them: account_shadowed). KVM's behaviour since 2.6.27 ("KVM: MMU: unsync shadow
//    pages").
enum class WpPolicy : std::uint8_t { kEmulate, kUnsync };

// What deleting or moving a memslot zaps (kvm_arch_flush_shadow_memslot).
//  kAll: every shadow page (kvm_mmu_zap_all_fast, under KVM_X86_QUIRK_SLOT_ZAP_ALL, which
//    KVM enables by default); every translation refaults.
//  kSlot: what maps or shadows the slot's GPA range only (KVM without the quirk).
enum class MemslotZap : std::uint8_t { kAll, kSlot };

struct ShadowParams {
  WpPolicy wp_policy = WpPolicy::kUnsync;
  // true: shadow pages stay in KVM's hash (mmu_page_hash) across CR3 writes, so a CR3 the
  // guest returns to finds its shadow root and tables (kvm_mmu_get_page hits): KVM today.
  // false: every CR3 write zaps every shadow page and the new root is built afresh, then
  // each page refaults: the first KVM MMU (design 1 of seed 001).
  bool cache_roots = true;
  // After fixing a last-level fault, fill the other not-present entries of its aligned
  // group of 8 (PTE_PREFETCH_NUM) whose guest entries are present and accessed and whose
  // host pages are resident (FNAME(pte_prefetch), __direct_pte_prefetch). Off: they wait
  // for their own faults. (INVLPG prefetches nothing since Linux 6.4: kvm_sync_spte drops
  // a remapped entry, FNAME(invlpg)'s prefetch_gpte is gone.)
  bool prefetch = true;
  MemslotZap memslot_zap = MemslotZap::kAll;
  // The most shadow pages the VM may hold; creating one beyond it first zaps the oldest
  // (make_mmu_pages_available -> kvm_mmu_zap_oldest_mmu_pages). 0: KVM's default,
  // kvm_mmu_calculate_default_mmu_pages: 20 per 1000 guest pages of the memslots
  // (KVM_PERMILLE_MMU_PAGES), at least 64 (KVM_MIN_ALLOC_MMU_PAGES).
  std::uint64_t max_pages = 0;
  // A CR3 write whose root is neither the current one nor among the three prev_roots
  // (kvm_set_cr3 -> kvm_mmu_new_pgd: fast_pgd_switch finds no usable root and returns with
  // the vCPU rootless; kvm_mmu_reload -> kvm_mmu_load builds the root at the next VM entry)
  // costs one VM exit more (vmexits.root_load) before the guest runs on. On VMX and SVM
  // the CR3 write is an exit of its own and the entry after it builds the root: false, no
  // extra exit. On kvm_pvm, where KVM's emulator runs the guest's CPL 0 code
  // (handle_non_pvm_mode emulates instruction after instruction inside one exit), the root
  // is built between the MOV CR3 and the next emulated instruction (a trace shows
  // kvmmmu:kvm_mmu_get_page of the new root there) and stat exits counts one more: 2
  // instead of 1 in every run of pagesim-validate's two-cr3 preset and of 26 sampled
  // --two-cr3 scenarios, whether the root's creation flushed or not, and never for a CR3
  // write to a cached root or for the reload after a memslot change (docs/validation.md).
  // pagesim-validate sets it on a kvm_pvm host.
  bool new_root_exit = false;
  // Recycling (kvm_mmu_zap_oldest_mmu_pages) zaps a page with __kvm_mmu_prepare_zap_page,
  // which in Linux's source first zaps the unsync last-level pages below it
  // (mmu_zap_unsync_children), each counted toward the batch. On kvm_pvm the traces say
  // otherwise: kvmmmu:kvm_mmu_prepare_zap_page shows a PDPT and a PD with unsync page tables
  // below them zapped alone, the unsync page tables then zapped one by one as the list's
  // tail reaches them; with this key off the predicted counts of every recycling scenario
  // with unsync pages tried (stride2m over 100, 300, 1,000 and 96,300 pages after PTE
  // rewrites) equal the measured ones, and with it on none does. Why (a kvm_pvm change,
  // or unsync_child_bitmap bookkeeping the model does not follow) is not known.
  // pagesim-validate sets it off on a kvm_pvm host; other zaps (a flooded table, a memslot)
  // still zap the unsync children.
  bool recycle_unsync_children = true;
  // Each vCPU enters the guest on its own copy of its shadow root's top-level entries (the
  // table the hardware walks first), not on the root shadow page itself, one copy per root
  // the vCPU keeps (its root and prev_roots). A copy is taken when the vCPU loads a root
  // (kvm_mmu_get_page, a reload); a previous root it switches back to (fast_pgd_switch)
  // comes with the copy it kept, as it was. Copies are refreshed whole when KVM flushes
  // every vCPU's TLB (kvm_flush_remote_tlbs -> KVM_REQ_TLB_FLUSH, at the vCPU's next entry
  // on that root), and entry by entry at the vCPU's own page faults (the top-level entry
  // of the faulting address). So a top-level entry another vCPU's fault makes present, with
  // no flush since, is not present in this vCPU's copy: its first access through it
  // faults, KVM finds the shadow leaf already right (RET_PF_SPURIOUS, shadow.pf_spurious),
  // and the copy gets the entry. A guest-requested flush (MOV to CR3, INVLPG) does not
  // refresh the copy. Measured on
  // kvm_pvm with two vCPUs: the one extra fault of vCPU 1's first access to a region vCPU 0
  // mapped after vCPU 1 last ran, present exactly when no remote flush came in between, and
  // still there after vCPU 1's own INVLPG of the address or MOV to CR3; and with two CR3s,
  // vCPU 0's one extra fault back on its first root after vCPU 1 mapped the data there
  // (docs/validation.md, "Two vCPUs"). On VMX/SVM the hardware walks the root shadow page (upstream
  // KVM needs no flush when an entry becomes present): off. With one vCPU the copy equals the root
  // at every walk (its faults refresh their entry, zaps flush) and none is kept.
  bool vcpu_root_copy = false;
  // The clock of seed 001 (Avi Kivity, lkml 2006-10-27, "KVM: memory slot management"):
  // with cached translations the guest would pin host pages for good, so a sweep
  // periodically clears the accessed flag of every shadow leaf and drops the leaves whose
  // flag was still clear (not used since the previous sweep), letting the host reclaim
  // those pages. A sweep runs every aging_interval touches (TLB misses handed to the shadow
  // machine), and whenever the caller asks (ShadowMachine::age).
  bool aging = false;
  std::uint64_t aging_interval = 1 << 20;

  // KVM's shadow page fault beyond the exit: FNAME(page_fault) -> walk_addr (a software walk
  // reading each guest entry through its HVA), kvm_faultin_pfn (GUP; a host fault is
  // charged by host.page_fault_latency), FNAME(fetch) (shadow pages looked up or created,
  // the leaf installed). An estimate: somewhat more than the TDP fault's 3000
  // (vmexit.ept_violation_latency), for the guest walk; unsure within a factor of two.
  Cycles page_fault_latency{4000};
  // Emulating one guest store to a write-protected guest page-table page, beyond the exit:
  // the #PF handler finding the page write-tracked, x86_emulate_instruction (fetch, decode,
  // execute the store), kvm_mmu_pte_write zapping the shadow entries. An estimate of ~2 us;
  // emulation is the slow path of KVM's shadow MMU (Adams & Agesen, ASPLOS 2006, measure
  // page-table-write traps costing thousands of cycles each); unsure within a factor of two.
  Cycles wp_write_latency{5000};
  // A MOV to CR3 beyond the exit: handle_cr -> kvm_set_cr3 -> kvm_mmu_new_pgd (the cached
  // root looked up, or a new one built) and the TLB flush request. Syncing unsync pages
  // and zapping (cache_roots = false) are charged on top. An estimate; unsure within a
  // factor of two.
  Cycles cr3_write_latency{1500};
  // An INVLPG beyond the exit: handle_invlpg -> kvm_mmu_invlpg -> kvm_mmu_invalidate_addr (a
  // shadow walk, the one entry synced: kvm_sync_spte) and the VPID-tagged flush of that address. An
  // estimate.
  Cycles invlpg_latency{800};
  // Syncing one unsync shadow page (kvm_sync_page -> FNAME(sync_page)): 512 guest entries
  // read and compared, the present shadow entries updated or dropped. An estimate of
  // ~10 cycles per entry; unsure within a factor of two.
  Cycles sync_page_latency{5000};

  void describe(config::Schema& s);
};

}  // namespace pagesim::shadow

template <>
struct pagesim::config::EnumNames<pagesim::shadow::MemslotZap> {
  static constexpr std::array<std::pair<std::string_view, pagesim::shadow::MemslotZap>, 2> kNames{
      {{"all", pagesim::shadow::MemslotZap::kAll}, {"slot", pagesim::shadow::MemslotZap::kSlot}}};
};

template <>
struct pagesim::config::EnumNames<pagesim::shadow::WpPolicy> {
  static constexpr std::array<std::pair<std::string_view, pagesim::shadow::WpPolicy>, 2> kNames{
      {{"emulate", pagesim::shadow::WpPolicy::kEmulate},
       {"unsync", pagesim::shadow::WpPolicy::kUnsync}}};
};
