// Hands out physical frames in a fixed, documented order so runs are reproducible:
//
// - Page-table frames (4 KiB) ascend from `first_byte` (1 MiB by default: the legacy low
//   megabyte stays unused, as on a PC), densely, as if the kernel kept its page-table
//   pages in a pool of their own.
// - Data frames of every size (4 KiB pages, 2 MiB and 1 GiB huge pages) descend from the
//   top of memory, each naturally aligned; alignment gaps stay unused (the order is
//   fixed, not packed).
// The two regions meet in the middle; allocation past that point throws OutOfMemory.
//
// Why tables apart from data: page-table frames are the only frames whose contents the
// model stores and reads on every walk; keeping them dense keeps PhysicalMemory's lookup
// tables dense and the simulator fast. For the modelled caches a table line's position
// matters only through its set index, which is uniform either way.
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

  // A page-table frame: the next 4 KiB frame up from first_byte.
  Hpa allocate_table();
  // A data frame of the given size: the next naturally aligned one down from the top.
  Hpa allocate(PageSize size);

  std::uint64_t allocated_bytes() const { return m_allocated_bytes; }
  std::uint64_t table_frames_allocated() const { return m_table_frames; }
  // Data frames of that size.
  std::uint64_t frames_allocated(PageSize size) const { return m_frames[static_cast<int>(size)]; }

 private:
  std::uint64_t m_low_next;   // next page-table frame (ascending)
  std::uint64_t m_high_next;  // lowest byte handed out from the top (descending)
  std::uint64_t m_allocated_bytes = 0;
  std::uint64_t m_table_frames = 0;
  std::uint64_t m_frames[kPageSizeCount] = {};
};

}  // namespace pagesim::mem
