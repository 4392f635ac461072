// Statistics of the shadow MMU: group "shadow". Beside them, the exits go to "vmexits"
// (models/host/vmexit_stats.h: page_fault, wp_write, cr3_write, invlpg, mmio, total,
// cycles), the guest kernel's faults to "guest", the VMM's host faults to "host", the
// hardware walks of the shadow tables to "walker".
//
// What each counts, and the Linux KVM tracepoint (perf: kvmmmu:*, kvm:*) or KVM statistic
// (debugfs /sys/kernel/debug/kvm/*, or the binary stats fd) it corresponds to, for step 5's
// comparison with a real host running shadow paging (tdp_mmu off, ept=0 / npt=0):
//
//   page_faults    shadow page faults of the trace's accesses: the hardware walk of the
//                  shadow table met no leaf, or a store met a read-only one. Each is a #PF
//                  VM exit (vmexits.page_fault, or vmexits.mmio when it ends in MMIO).
//                  kvm:kvm_page_fault; stat pf_taken. On a real host both also count the
//                  guest kernel's own faults (kernel_faults, vmexits.wp_write).
//   pf_fixed       of those, faults that installed a shadow leaf. Stat pf_fixed.
//   pf_guest       of those, faults the guest's own tables did not map: reflected to the
//                  guest as a #PF (its kernel then maps the page). Stat pf_guest.
//   sw_walks       software walks of the guest table, one per page fault
//                  (FNAME(walk_addr)). kvmmmu:kvm_mmu_pagetable_walk. A real host walks
//                  also for wp_write exits (the faulting kernel address) and in the x86
//                  emulator (the store's operand): compare with sw_walks + 1 or more per
//                  vmexits.wp_write.
//   kernel_faults  shadow page faults of the guest kernel's own accesses to its page-table
//                  pages whose host pages were not resident (the host faults them in):
//                  one exit each, in vmexits.page_fault. The kernel's shadow mappings are not
//                  modelled otherwise. kvm:kvm_page_fault.
//   pages_created  shadow pages created (kvm_mmu_get_page found none for the gfn and role;
//                  roots included). kvmmmu:kvm_mmu_get_page with created=1; stat
//                  mmu_cache_miss.
//   roots_created  of those, roots (a guest CR3 whose shadow root was not cached).
//   wp_writes      guest writes to write-protected guest page-table pages that were
//                  emulated (kvm_mmu_pte_write, today kvm_mmu_track_write). Stat mmu_pte_write.
//   unsync         shadow pages marked unsync (a write to a last-level table with
//                  wp_policy = unsync). kvmmmu:kvm_mmu_unsync_page.
//   sync           unsync shadow pages synced with their guest table and write-protected
//                  again (mmu_sync_children, at a CR3 write). kvmmmu:kvm_mmu_sync_page, with
//                  unsync_zapped (both call kvm_unlink_unsync_page).
//   sync_kept_unsync  unsync pages kvm_mmu_get_page found and refreshed, left unsync
//                  (kvm_sync_page from kvm_mmu_find_shadow_page): no tracepoint.
//   unsync_zapped  shadow pages zapped while unsync.
//   invlpg_syncs   entries of unsync pages refreshed by INVLPG (kvm_sync_spte): no tracepoint
//                  of its own (stat invlpg counts the exits: vmexits.invlpg).
//   zaps           shadow pages zapped (emulated writes flooding a table, memslot changes,
//                  address-space teardown, CR3 writes without cache_roots, recycling).
//                  kvmmmu:kvm_mmu_prepare_zap_page; stat mmu_shadow_zapped.
//   flooded        of those, zapped for write flooding (3 emulated writes to an upper-level
//                  table without a fault using it: detect_write_flooding). Stat mmu_flooded.
//   recycled       of those, zapped as the oldest to stay within shadow.max_pages
//                  (kvm_mmu_zap_oldest_mmu_pages). Stat mmu_recycled.
//   prefetches     shadow leaves installed speculatively around a fixed fault
//                  (FNAME(pte_prefetch)) or at INVLPG; each is a kvmmmu:kvm_mmu_set_spte.
//   aged           aging sweeps' accessed flags cleared in shadow leaves (the clock of seed
//                  001; on Linux, mmu_notifier clear_young -> kvm_age_gfn -> kvm_age_rmap).
//   aging_drops    shadow leaves the sweeps dropped, unused since the previous sweep.
//   rmap_zaps      shadow leaves zapped by the host's mmu_notifier invalidate_range (a VMM
//                  page evicted, discarded or paged out: kvm_unmap_gfn_range ->
//                  kvm_zap_rmap); the shadow pages stay (zaps counts pages, not these).
//                  No tracepoint of its own (kvm:kvm_unmap_hva_range per call).
//   rmap_aged      accessed flags of shadow leaves cleared by the host's mmu_notifier
//                  clear_young (reclaim aging: kvm_age_gfn -> kvm_age_rmap; kvm:kvm_age_hva
//                  per call).
//   pages          shadow pages alive now (KVM's n_used_mmu_pages; a formula).
#pragma once

#include <functional>

#include "base/stats/stats.h"

namespace pagesim::shadow {

struct ShadowStats : stats::Group {
  // `live_pages` is read when statistics are collected.
  ShadowStats(stats::Group* parent, std::function<double()> live_pages)
      : Group(parent, "shadow"),
        pages{*this, "pages", "shadow pages alive (KVM's n_used_mmu_pages)",
              std::move(live_pages)} {}

  stats::Counter page_faults{*this, "page_faults",
                             "shadow page faults of the trace's accesses (no shadow leaf, or a "
                             "store through a read-only one)"};
  stats::Counter pf_fixed{*this, "pf_fixed", "shadow page faults that installed a shadow leaf"};
  stats::Counter pf_spurious{*this, "pf_spurious",
                             "shadow page faults that found the leaf in place (RET_PF_SPURIOUS: "
                             "the fault came through a missing link above it)"};
  stats::Counter pf_guest{*this, "pf_guest",
                          "shadow page faults reflected to the guest (its table had no entry)"};
  stats::Counter sw_walks{*this, "sw_walks",
                          "software walks of the guest page table (kvm_mmu_pagetable_walk)"};
  stats::Counter kernel_faults{*this, "kernel_faults",
                               "shadow page faults of the guest kernel's accesses to its "
                               "page-table pages that faulted the host page in"};
  stats::Counter get_page{*this, "get_page",
                          "shadow pages looked up for a link or a root (kvm_mmu_get_page: "
                          "found or created)"};
  stats::Counter fault_retries{*this, "fault_retries",
                               "shadow page faults taken again because the host invalidated "
                               "the page during the fault (mmu_invalidate_retry_gfn: the zero "
                               "page copied on write)"};
  stats::Counter write_protected{*this, "write_protected",
                                 "shadow leaves made read-only because a new shadow page "
                                 "shadows the guest table page they map (rmap_write_protect)"};
  stats::Counter pages_created{*this, "pages_created",
                               "shadow pages created (kvm_mmu_get_page, created=1), roots "
                               "included"};
  stats::Counter roots_created{*this, "roots_created", "shadow roots created"};
  stats::Counter wp_writes{*this, "wp_writes",
                           "emulated guest writes to write-protected guest page-table pages"};
  stats::Counter unsync{*this, "unsync", "shadow pages marked unsync"};
  stats::Counter sync{*this, "sync", "unsync shadow pages synced with their guest table"};
  stats::Counter sync_kept_unsync{*this, "sync_kept_unsync",
                                  "unsync shadow pages a lookup found and refreshed from "
                                  "their guest table, left unsync (kvm_sync_page from "
                                  "kvm_mmu_find_shadow_page)"};
  stats::Counter unsync_zapped{*this, "unsync_zapped",
                               "shadow pages zapped while unsync (kvm_unlink_unsync_page "
                               "from __kvm_mmu_prepare_zap_page)"};
  stats::Counter invlpg_syncs{*this, "invlpg_syncs",
                              "entries of unsync shadow pages refreshed by INVLPG"};
  stats::Counter zaps{*this, "zaps", "shadow pages zapped (kvm_mmu_prepare_zap_page)"};
  stats::Counter flooded{*this, "flooded", "shadow pages zapped for write flooding"};
  stats::Counter recycled{*this, "recycled",
                          "shadow pages zapped as the oldest to stay within shadow.max_pages"};
  stats::Counter sptes_set{*this, "sptes_set",
                           "shadow leaves written new or changed, prefetches included "
                           "(mmu_set_spte, kvmmmu:kvm_mmu_set_spte)"};
  stats::Counter flush_requests{*this, "flush_requests",
                                "requests to flush every vCPU's TLBs (kvm_flush_remote_tlbs "
                                "and its variants): one per KVM operation that zapped or "
                                "weakened a shadow entry"};
  stats::Counter zap_all{*this, "zap_all",
                         "zaps of every shadow page for a memslot deleted or moved "
                         "(kvm_mmu_zap_all_fast; shadow.memslot_zap = all)"};
  stats::Counter prefetches{*this, "prefetches", "shadow leaves installed speculatively"};
  stats::Counter aged{*this, "aged", "accessed flags of shadow leaves cleared by aging sweeps"};
  stats::Counter aging_drops{*this, "aging_drops",
                             "shadow leaves dropped by aging sweeps (unused since the previous "
                             "sweep)"};
  stats::Counter rmap_zaps{*this, "rmap_zaps",
                           "shadow leaves zapped by the host's mmu_notifier invalidations "
                           "(kvm_zap_rmap; their shadow pages stay)"};
  stats::Counter rmap_aged{*this, "rmap_aged",
                           "accessed flags of shadow leaves cleared by the host's "
                           "mmu_notifier clear_young (kvm_age_rmap)"};
  stats::Formula pages;
};

}  // namespace pagesim::shadow
