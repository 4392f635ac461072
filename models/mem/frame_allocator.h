// Hands out physical frames in a fixed, documented order so runs are reproducible:
//
// - 4 KiB frames (page-table pages and 4 KiB data pages) ascend from `first_byte`
//   (1 MiB by default: the legacy low megabyte stays unused, as on a PC).
// - 2 MiB and 1 GiB frames descend from the top of memory, each naturally aligned, so
//   huge pages never fragment the small-frame region.
// The two regions meet in the middle; allocation past that point throws OutOfMemory.
// Frames are not freed in step 1 (native mode never unmaps); reclaim adds a free list.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "sim/address.h"
#include "sim/page_size.h"

namespace pagesim::mem {

class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FrameAllocator {
 public:
  FrameAllocator(std::uint64_t memory_bytes, std::uint64_t first_byte);

  // Base address of a new, naturally aligned frame of the given size.
  Hpa allocate(PageSize size);

  std::uint64_t allocated_bytes() const { return m_allocated_bytes; }
  std::uint64_t frames_allocated(PageSize size) const {
    return m_frames[static_cast<int>(size)];
  }

 private:
  std::uint64_t m_low_next;   // next 4 KiB frame (ascending)
  std::uint64_t m_high_next;  // lowest byte handed out from the top (descending)
  std::uint64_t m_allocated_bytes = 0;
  std::uint64_t m_frames[kPageSizeCount] = {};
};

}  // namespace pagesim::mem
