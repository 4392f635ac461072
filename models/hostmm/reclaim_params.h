// Parameters of the host kernel's memory manager under pressure: watermarks, swap, the
// reclaimer's batch and the cost of the TLB shootdowns its invalidations send.
//
//   host.swap                     swap space (bytes; 0: none, anonymous pages can only be
//                                 dropped if a swap copy is still valid, which needs swap)
//   host.swap_in_latency          cycles of reading one 4 KiB page back (a refault)
//   host.swap_out_latency         cycles of writing one 4 KiB page, charged when the vCPU
//                                 waits for it (direct reclaim)
//   host.watermarks.min|low|high  free-memory watermarks (bytes; 0: Linux's default for
//                                 host.memory, see Watermarks)
//   host.reclaim_batch            pages one reclaim pass frees (SWAP_CLUSTER_MAX)
//   host.shootdown_latency        cycles one TLB shootdown costs the vCPU it interrupts
//   host.load                     bytes of anonymous memory another host process takes at
//                                 start (no secondary MMU; cold, reclaimed first)
//   host.thp_reclaim              what reclaim does to a huge host page: whole or split
//   host.zero_page                a read of fresh anonymous memory maps the shared zero page
//                                 (shadow mode; a later store copies it on write)
//   host.thp_zero_page            with host.zero_page and host.thp=2m: a read of a fresh
//                                 huge range maps the huge zero page
//                                 (transparent_hugepage/use_zero_page)
//   host.pt_reclaim               MADV_DONTNEED of a whole 2 MiB range frees its emptied page
//                                 table, so the next fault may map a huge page (PT_RECLAIM)
//   host.fault_around_bytes       a read fault of shared memory (a memfd) also maps the
//                                 page-cache pages of the aligned block of this many bytes
//                                 around it (fault_around_bytes, 64 KiB)
//
// Costs are core cycles of a ~2.6 GHz server core (the reference of os_params.h).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"
#include "base/page_size.h"

namespace pagesim::hostmm {

// Free-memory watermarks of the host (one zone). Linux (mm/page_alloc.c,
// calculate_min_free_kbytes and __setup_per_zone_wmarks) sets
//   min  = sqrt(16 * memory in KiB) KiB, clamped to [128 KiB, 256 MiB]
//   low  = min + max(min / 4, memory * watermark_scale_factor / 10000), scale factor 10
//   high = low + the same step
// A zero key takes that default; effective() returns the bytes used.
struct Watermarks {
  config::ByteSize min{0};
  config::ByteSize low{0};
  config::ByteSize high{0};
  void describe(config::Schema& s);

  struct Bytes {
    std::uint64_t min = 0;
    std::uint64_t low = 0;
    std::uint64_t high = 0;
  };
  // The watermarks for a host of `memory_bytes`, defaults filled in.
  Bytes effective(std::uint64_t memory_bytes) const;
};

// What reclaim does with a huge host page (THP): whole (the 2 MiB page is evicted and
// swapped as one, as with THP_SWAP; a refault brings the whole page back), or split
// (split_huge_page first, as shrink_folio_list does without THP_SWAP or when no huge swap
// cluster is free: the secondary MMU's huge leaf is zapped, the 512 small pages take the
// huge page's place on the LRU and go one by one; a refault brings back one 4 KiB page,
// and the range stays split).
enum class ThpReclaim : std::uint8_t { kWhole, kSplit };

struct ReclaimParams {
  config::ByteSize swap{64 * kGiB};
  // A 4 KiB random read from an NVMe SSD: ~10-20 us on datacenter drives (vendor specs of
  // 4K random-read latency), the order of a major fault's I/O: 20 us at 2.6 GHz. An estimate.
  Cycles swap_in_latency{52000};
  // Writing 4 KiB to the same device; asynchronous in Linux (the vCPU does not wait) except
  // when its own allocation does the reclaim (direct reclaim). The same estimate.
  Cycles swap_out_latency{52000};
  Watermarks watermarks;
  // SWAP_CLUSTER_MAX (include/linux/swap.h): the pages one shrink pass aims to free.
  std::uint32_t reclaim_batch = 32;
  // One TLB shootdown of a vCPU (kvm_flush_remote_tlbs: an IPI, the exit it causes and the
  // flush): a VM exit's round trip (vmexit.latency's ~1,200 cycles) plus IPI delivery of
  // the same order. An estimate.
  Cycles shootdown_latency{2600};
  config::ByteSize load{0};
  ThpReclaim thp_reclaim = ThpReclaim::kWhole;
  // do_anonymous_page: a read fault of anonymous memory never written maps the shared zero
  // page read-only (no allocation, no clearing); the first store then takes a copy-on-write
  // fault (wp_page_copy), whose mmu_notifier invalidation zaps the secondary MMU's read-only
  // entry. Linux's behaviour (MMF_HAS_PINNED aside); off keeps every first touch allocating.
  // Modelled in shadow mode, for 4 KiB host pages and, with thp_zero_page, huge ones.
  bool zero_page = false;
  // /sys/kernel/mm/transparent_hugepage/use_zero_page (Linux's default 1). With zero_page,
  // a read fault of a fresh range the host maps with a huge page maps the huge zero page
  // read-only, one PMD for the 2 MiB (do_huge_pmd_anonymous_page, mm_get_huge_zero_page);
  // the first store anywhere in it allocates the huge page (do_huge_pmd_wp_page ->
  // do_huge_zero_wp_pmd: one mmu_notifier invalidation over the 2 MiB). Off, such a read
  // allocates the huge page at once, as before.
  bool thp_zero_page = true;
  // fault_around_bytes (debugfs; Linux's default 64 KiB): a read fault of a file page,
  // here shared memory (a memfd's shmem), first maps the pages of the page cache in the
  // naturally aligned block of this many bytes around it, within the VMA and the page
  // table (do_read_fault -> do_fault_around -> filemap_map_pages), those not mapped yet;
  // they cost no fault of their own. A power of two, 4 KiB (no fault-around) to 2 MiB
  // (PTRS_PER_PTE pages). Anonymous memory has no fault-around, nor does a write fault
  // (do_shared_fault).
  config::ByteSize fault_around_bytes{64 * kKiB};
  // CONFIG_PT_RECLAIM (Linux 6.14 on, default y on x86-64): MADV_DONTNEED
  // (madvise_dontneed_single_vma: zap_details.reclaim_pt) of a range that covers a PMD's
  // whole 2 MiB frees its page table once every entry in it is none (zap_pte_range ->
  // try_to_free_pte; reclaim_pt_is_enabled needs end - start >= PMD_SIZE). The PMD is none
  // again, so the next fault there may map a huge page. Off (older kernels): the table
  // stays and faults there map 4 KiB pages.
  bool pt_reclaim = true;
  void describe(config::Schema& s);
};

}  // namespace pagesim::hostmm

template <>
struct pagesim::config::EnumNames<pagesim::hostmm::ThpReclaim> {
  static constexpr std::array<std::pair<std::string_view, pagesim::hostmm::ThpReclaim>, 2> kNames{
      {{"whole", pagesim::hostmm::ThpReclaim::kWhole},
       {"split", pagesim::hostmm::ThpReclaim::kSplit}}};
};
