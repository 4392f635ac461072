// Host memory for the simulator's own large tables, backed by transparent huge pages.
//
// The simulator's state is touched at random (page-table frames, cache tag arrays): with
// 4 KiB host pages nearly every such touch is also a host TLB miss, which on a virtual
// machine is itself a two-dimensional walk. Mappings here are 2 MiB-aligned and advised
// MADV_HUGEPAGE (Linux; honoured when /sys/kernel/mm/transparent_hugepage/enabled is
// "always" or "madvise"), so 512 times fewer host TLB entries cover the same state.
// Memory comes from mmap, so it is zeroed; resident memory still grows only as pages are
// touched (in 2 MiB steps where huge pages are granted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace pagesim::mem {

// A 2 MiB-aligned anonymous mapping of at least `bytes`, advised MADV_HUGEPAGE; zeroed.
// Throws std::bad_alloc when the host refuses.
void* map_huge(std::size_t bytes);
// 2 MiB-aligned address space only (MAP_NORESERVE): no swap or commit accounting, so it
// may be far larger than the host's memory; pages are backed as they are written. Huge
// pages are advised for the first `huge_bytes` only: beyond that, 4 KiB host pages, so
// scattered writes cost 4 KiB of resident memory each rather than 2 MiB.
void* reserve_huge(std::size_t bytes, std::size_t huge_bytes);
void unmap_huge(void* p, std::size_t bytes);

// A std::allocator for large tables: allocations of 1 MiB or more are huge-page
// mappings, smaller ones come from operator new; either way 64-byte (host cache line)
// aligned. Elements are value-initialised by the container as usual.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr std::size_t kThreshold = std::size_t{1} << 20;
  static constexpr std::align_val_t kAlign{alignof(T) > 64 ? alignof(T) : 64};

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}

  T* allocate(std::size_t n) {
    std::size_t bytes = n * sizeof(T);
    if (bytes >= kThreshold) {
      return static_cast<T*>(map_huge(bytes));
    }
    return static_cast<T*>(::operator new(bytes, kAlign));
  }
  void deallocate(T* p, std::size_t n) {
    std::size_t bytes = n * sizeof(T);
    if (bytes >= kThreshold) {
      unmap_huge(p, bytes);
    } else {
      ::operator delete(p, kAlign);
    }
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace pagesim::mem
