#include "models/mem/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace pagesim::mem {
namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }
}  // namespace

void* map_huge(std::size_t bytes) {
  // Over-map by one huge page and trim, so the mapping starts on a 2 MiB boundary.
  const std::size_t want = round_up(bytes);
  const std::size_t span = want + kHugePage;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
  ::madvise(p, want, MADV_HUGEPAGE);  // advice only: without THP the memory still works
#endif
  return p;
}

void unmap_huge(void* p, std::size_t bytes) { ::munmap(p, round_up(bytes)); }

BlockArena::BlockArena(std::size_t block_bytes, std::size_t region_bytes)
    : m_block_bytes(block_bytes), m_region_bytes(round_up(region_bytes)) {}

BlockArena::~BlockArena() {
  for (void* r : m_regions) {
    unmap_huge(r, m_region_bytes);
  }
}

void* BlockArena::allocate() {
  if (m_next == m_end) {
    auto* region = static_cast<char*>(map_huge(m_region_bytes));
    m_regions.push_back(region);
    m_next = region;
    m_end = region + (m_region_bytes / m_block_bytes) * m_block_bytes;
  }
  void* block = m_next;
  m_next += m_block_bytes;
  return block;
}

}  // namespace pagesim::mem
