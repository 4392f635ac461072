#include "models/mem/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace pagesim::mem {
namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }

void* map_aligned(std::size_t bytes, int extra_flags, std::size_t huge_bytes) {
  // Over-map by one huge page and trim, so the mapping starts on a 2 MiB boundary.
  const std::size_t want = round_up(bytes);
  const std::size_t span = want + kHugePage;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (raw == MAP_FAILED) {
    throw std::bad_alloc();
  }
  auto start = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (start + kHugePage - 1) & ~(std::uintptr_t{kHugePage} - 1);
  if (aligned > start) {
    ::munmap(raw, aligned - start);
  }
  std::size_t tail = (start + span) - (aligned + want);
  if (tail > 0) {
    ::munmap(reinterpret_cast<void*>(aligned + want), tail);
  }
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  const std::size_t advised = std::min(want, round_up(huge_bytes));
  if (advised > 0) {
    ::madvise(p, advised, MADV_HUGEPAGE);  // advice only: without THP the memory still works
  }
#endif
  return p;
}
}  // namespace

void* map_huge(std::size_t bytes) { return map_aligned(bytes, 0, bytes); }

void* reserve_huge(std::size_t bytes, std::size_t huge_bytes) {
  return map_aligned(bytes, MAP_NORESERVE, huge_bytes);
}

void unmap_huge(void* p, std::size_t bytes) { ::munmap(p, round_up(bytes)); }

}  // namespace pagesim::mem
