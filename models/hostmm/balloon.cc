#include "models/hostmm/balloon.h"

#include <algorithm>

namespace pagesim::hostmm {

std::uint64_t Balloon::inflate(std::uint64_t pages, mem::GuestFrameAllocator& guest, VmmMemory& vmm,
                               const GpaToHva& to_hva, PageSize host_page) {
  std::uint64_t discarded = 0;
  const std::uint64_t host_bytes = page_bytes(host_page);
  for (std::uint64_t i = 0; i < pages; ++i) {
    const Gpa gpa = guest.allocate(PageSize::k4K);  // throws OutOfMemory when none is left
    m_pages.push_back(gpa);
    const std::optional<Hva> hva = to_hva(gpa);
    if (!hva) {
      continue;
    }
    Hva begin = *hva;
    // Shared memory is mapped with 4 KiB pages whatever host.thp says (VmmMemory: shmem
    // pages are small), so each of its pages is discarded on its own.
    if (host_bytes > 4 * kKiB && !vmm.shmem(begin)) {
      const std::uint64_t base = hva->value() & ~(host_bytes - 1);
      if (++m_partial[base] < host_bytes / (4 * kKiB)) {
        continue;  // part of a huge host page: kept until all of it is ballooned
      }
      m_partial.erase(base);
      begin = Hva(base);
    }
    const Hva end = begin + (vmm.shmem(begin) ? 4 * kKiB : std::max(host_bytes, 4 * kKiB));
    if (vmm.shmem(begin)) {
      // ram_block_discard_range of a memfd: the hole punched (fallocate), then the
      // mapping dropped (MADV_DONTNEED, which finds nothing left).
      discarded += vmm.madvise(VmmMemory::Advice::kRemove, begin, end);
    }
    discarded += vmm.madvise(VmmMemory::Advice::kDontneed, begin, end);
  }
  return discarded;
}

std::uint64_t Balloon::deflate(std::uint64_t pages, mem::GuestFrameAllocator& guest) {
  std::uint64_t given = 0;
  while (given < pages && !m_pages.empty()) {
    guest.free(m_pages.back(), PageSize::k4K);
    m_pages.pop_back();
    ++given;
  }
  return given;
}

}  // namespace pagesim::hostmm
