// Hands out physical frames in a fixed, documented order so runs are reproducible.
//
// The allocator works in one physical space, `Pa`: Hpa for the machine (native mode, the
// host of a VM), Gpa for a guest's own RAM. The RAM is a list of ranges [begin, end) with
// holes between them (a guest's E820 map: the 640 KiB - 1 MiB VGA/ROM hole, the PCI hole
// below 4 GiB); a machine's memory is the single range [0, memory_bytes).
//
// Order (tests and users rely on it):
// - Page-table frames (4 KiB) ascend densely from the first byte at or above `first_byte`
//   that lies inside a range (1 MiB on a PC: the legacy low megabyte stays unused), as if
//   the kernel kept its page-table pages in a pool of their own. At the end of a range they
//   continue at the begin of the next range up, skipping the hole.
// - Data frames of every size (4 KiB pages, 2 MiB and 1 GiB huge pages) descend from the
//   end of the highest range, each naturally aligned: a frame is the highest aligned frame
//   of its size that ends at or below the previous data frame (or the top) and lies wholly
//   inside the current range. A frame that does not fit in the rest of the current range
//   (it would straddle the hole below it) is taken from the next range down, at the highest
//   aligned position below that range's end, and the descent continues from there.
//   Alignment gaps and the unused bottom of a range left behind stay unused: the order is
//   fixed, not packed, and the descent never goes back up.
// - RAM below `first_byte` is never handed out. The two regions meet in the middle; a
//   request that would overlap the other region throws OutOfMemory and changes nothing
//   (a smaller request may still succeed).
// Ranges are rounded to whole 4 KiB frames as Linux rounds E820 entries (begin up, end
// down); adjacent ranges merge (no hole, so a huge frame may span them).
//
// Worked example: a 6 GiB guest as QEMU's pc machine lays it out, RAM [0, 640K),
// [1M, 3G), [4G, 7G), first_byte 1 MiB.
//   tables: 0x10'0000, 0x10'1000, ... up to 3G - 4K (0xbfff'f000), then 4G (0x1'0000'0000),
//           4G + 4K, ...; [0, 640K) is below first_byte and never used.
//   data:   allocate(4K) -> 7G - 4K (0x1'bfff'f000); allocate(4K) -> 7G - 8K;
//           allocate(2M) -> 7G - 2M - 2M = 0x1'bfc0'0000 (the highest 2 MiB frame below
//           7G - 8K; [7G - 2M, 7G - 8K) stays unused); allocate(1G) -> 5G (0x1'4000'0000,
//           [6G, 7G - 2M - 2M) unused); then 4K -> 5G - 4K, ...
//   Once the data frames reach 4G, the next 4 KiB frame is 3G - 4K (0xbfff'f000), the next
//   2 MiB frame 3G - 2M, the next 1 GiB frame [2G, 3G): none straddles the PCI hole. With
//   the data cursor at 4G + 1M, a 2 MiB request takes [3G - 2M, 3G) and [4G, 4G + 1M) stays
//   unused.
//
// Why tables apart from data: page-table frames are the only frames whose contents the
// model stores and reads on every walk; keeping them dense keeps PhysicalMemory's backing
// dense and the simulator fast. For the modelled caches a table line's position matters
// only through its set index, which is uniform either way.
// Frames are not freed yet (native mode never unmaps); reclaim adds a free list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "sim/address.h"
#include "sim/page_size.h"

namespace pagesim::mem {

class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One range of RAM, [begin, end) in bytes.
using RamRange = std::pair<std::uint64_t, std::uint64_t>;

template <class Pa>
class BasicFrameAllocator {
  static_assert(std::is_same_v<Pa, Hpa> || std::is_same_v<Pa, Gpa>,
                "frames are physical: BasicFrameAllocator<Hpa> or BasicFrameAllocator<Gpa>");

 public:
  // One range of RAM, [0, memory_bytes): a machine's physical memory. Throws
  // std::invalid_argument unless first_byte is 4 KiB aligned and below memory_bytes.
  BasicFrameAllocator(std::uint64_t memory_bytes, std::uint64_t first_byte);
  // RAM with holes: `ranges` ascending and not overlapping (else std::invalid_argument), as
  // (begin, end) byte pairs. Throws std::invalid_argument unless first_byte is 4 KiB aligned
  // and some RAM lies at or above it.
  explicit BasicFrameAllocator(std::vector<RamRange> ranges, std::uint64_t first_byte = kMiB);

  // A page-table frame: the next 4 KiB frame up (see the file comment).
  Pa allocate_table();
  // A data frame of the given size: the next naturally aligned one down from the top.
  Pa allocate(PageSize size) {
    const std::uint64_t bytes = page_bytes(size);
    // Fast path: the frame fits in the current range above its floor.
    const std::uint64_t floor = m_high_range == m_low_range ? m_low_next : m_high_begin;
    if (m_high_next - floor >= bytes) {
      const std::uint64_t base = (m_high_next - bytes) & ~(bytes - 1);
      if (base >= floor) {
        return commit_data(m_high_range, base, size);
      }
    }
    return allocate_below(size);
  }

  // The RAM ranges after rounding and merging, ascending.
  const std::vector<RamRange>& ranges() const { return m_ranges; }
  std::uint64_t allocated_bytes() const { return m_allocated_bytes; }
  std::uint64_t table_frames_allocated() const { return m_table_frames; }
  // Data frames of that size.
  std::uint64_t frames_allocated(PageSize size) const { return m_frames[static_cast<int>(size)]; }

 private:
  Pa commit_data(std::size_t range, std::uint64_t base, PageSize size) {
    m_high_range = range;
    m_high_begin = m_ranges[range].first;
    m_high_next = base;
    m_allocated_bytes += page_bytes(size);
    ++m_frames[static_cast<int>(size)];
    return Pa(base);
  }
  // The slow path of allocate(): the frame is in a lower range, or there is none.
  Pa allocate_below(PageSize size);

  std::vector<RamRange> m_ranges;
  std::size_t m_low_range = 0;     // range of the next page-table frame
  std::uint64_t m_low_next = 0;    // next page-table frame (ascending)
  std::size_t m_high_range = 0;    // range of the lowest data frame
  std::uint64_t m_high_begin = 0;  // m_ranges[m_high_range].first
  std::uint64_t m_high_next = 0;   // lowest byte handed out from the top (descending)
  std::uint64_t m_allocated_bytes = 0;
  std::uint64_t m_table_frames = 0;
  std::uint64_t m_frames[kPageSizeCount] = {};
};

extern template class BasicFrameAllocator<Hpa>;
extern template class BasicFrameAllocator<Gpa>;

// The machine's frames (native mode; the host of a VM).
using FrameAllocator = BasicFrameAllocator<Hpa>;
// A guest's frames, in its guest-physical RAM ranges.
using GuestFrameAllocator = BasicFrameAllocator<Gpa>;

}  // namespace pagesim::mem
