#include "models/hostmm/reclaim_params.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

namespace pagesim::hostmm {

void Watermarks::describe(config::Schema& s) {
  s.field("min", min,
          "free memory below which an allocation reclaims itself (direct reclaim); 0: Linux's "
          "default, sqrt(16 * host.memory in KiB) KiB within [128 KiB, 256 MiB]");
  s.field("low", low,
          "free memory below which kswapd is woken; 0: min + max(min / 4, host.memory / 1000)");
  s.field("high", high,
          "free memory kswapd reclaims up to; 0: low + max(min / 4, host.memory / 1000)");
}

Watermarks::Bytes Watermarks::effective(std::uint64_t memory_bytes) const {
  const std::uint64_t kib = memory_bytes / kKiB;
  auto min_kib = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(kib) * 16.0));
  min_kib = std::clamp<std::uint64_t>(min_kib, 128, 256 * 1024);
  const std::uint64_t def_min = min_kib * kKiB;
  // watermark_scale_factor = 10: a step of memory * 10 / 10000, at least min / 4.
  const std::uint64_t step = std::max(def_min / 4, memory_bytes / 1000);
  Bytes b;
  b.min = min.bytes != 0 ? min.bytes : def_min;
  b.low = low.bytes != 0 ? low.bytes : b.min + step;
  b.high = high.bytes != 0 ? high.bytes : b.low + step;
  return b;
}

void ReclaimParams::describe(config::Schema& s) {
  s.field("swap", swap,
          "swap space of the host; 0: none (an anonymous page without a valid swap copy "
          "cannot be reclaimed)");
  s.field("swap_in_latency", swap_in_latency,
          "cycles of reading one 4 KiB page back from swap (a refault of a swapped page; a "
          "huge page pays it per 4 KiB)")
      .note("~20 us, an NVMe SSD's 4K random read, at 2.6 GHz (an estimate)");
  s.field("swap_out_latency", swap_out_latency,
          "cycles of writing one 4 KiB page to swap, charged only when the faulting vCPU "
          "reclaims itself (direct reclaim); kswapd writes in the background")
      .note("the same estimate as swap_in_latency");
  s.group("watermarks", watermarks);
  s.field("reclaim_batch", reclaim_batch,
          "pages one reclaim pass frees (SWAP_CLUSTER_MAX, include/linux/swap.h)")
      .positive();
  s.field("shootdown_latency", shootdown_latency,
          "cycles a TLB shootdown (kvm_flush_remote_tlbs' IPI, exit and flush) costs the "
          "vCPU it interrupts")
      .note("a VM exit round trip plus IPI delivery, ~1 us at 2.6 GHz (an estimate)");
  s.field("load", load,
          "anonymous memory another host process takes at start (no secondary MMU, never "
          "touched again: reclaimed before the VMs' pages)")
      .check([this]() {
        std::optional<std::string> err;
        if (load.bytes % (4 * kKiB) != 0) {
          err = "must be a multiple of 4 KiB";
        }
        return err;
      });
  s.field("thp_reclaim", thp_reclaim,
          "what reclaim does to a huge host page: whole (evicted and swapped as one page, "
          "THP_SWAP) or split (split into 4 KiB pages first, each reclaimed on its own; a "
          "refault brings back 4 KiB)");
  s.field("zero_page", zero_page,
          "a read of anonymous memory never written maps the shared zero page read-only "
          "(do_anonymous_page); the first store copies it (wp_page_copy: an mmu_notifier "
          "invalidation, and KVM's fault retried). Shadow mode; huge host pages with "
          "host.thp_zero_page; off: every first touch allocates a page");
  s.field("fault_around_bytes", fault_around_bytes,
          "fault_around_bytes: a read fault of shared memory (a memfd) also maps the pages "
          "the page cache holds in the aligned block of this many bytes around it "
          "(do_fault_around -> filemap_map_pages), at no fault of their own; 4 KiB: none")
      .check([this]() {
        std::optional<std::string> err;
        const std::uint64_t b = fault_around_bytes.bytes;
        if (b < 4 * kKiB || b > 2 * kMiB || (b & (b - 1)) != 0) {
          err = "must be a power of two from 4 KiB to 2 MiB (PTRS_PER_PTE pages)";
        }
        return err;
      });
  s.field("pt_reclaim", pt_reclaim,
          "CONFIG_PT_RECLAIM (Linux 6.14 on): MADV_DONTNEED of a whole 2 MiB range frees its "
          "page table once every entry is none, so the next fault there may map a huge page; "
          "off: the table stays, faults there map 4 KiB pages")
      .note("madvise_dontneed_single_vma -> zap_pte_range -> try_to_free_pte, mm/pt_reclaim.c");
  s.field("thp_zero_page", thp_zero_page,
          "transparent_hugepage/use_zero_page: with host.zero_page, a read of a fresh range "
          "host.thp maps with a 2 MiB page maps the huge zero page read-only "
          "(do_huge_pmd_anonymous_page); the first store in the 2 MiB allocates the huge "
          "page (do_huge_zero_wp_pmd: one invalidation over the 2 MiB). Off: such a read "
          "allocates the huge page");
}

}  // namespace pagesim::hostmm
