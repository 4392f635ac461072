#include "models/mem/frame_allocator.h"

#include <algorithm>
#include <string>

#include "sim/hex.h"

namespace pagesim::mem {

namespace {

constexpr std::uint64_t k4K = 4 * kKiB;

// Whole 4 KiB frames only (Linux: PFN_UP(begin), PFN_DOWN(end) of each E820 entry), empty
// ranges dropped, adjacent ranges merged.
std::vector<RamRange> normalised(const std::vector<RamRange>& ranges) {
  std::vector<RamRange> out;
  std::uint64_t previous_end = 0;
  for (const auto& [begin, end] : ranges) {
    if (end < begin || (!out.empty() && begin < previous_end)) {
      throw std::invalid_argument("RAM ranges must ascend without overlapping: [" + hex(begin) +
                                  ", " + hex(end) + ") follows one ending at " + hex(previous_end));
    }
    previous_end = end;
    const std::uint64_t first = (begin + (k4K - 1)) & ~(k4K - 1);
    const std::uint64_t last = end & ~(k4K - 1);
    if (first >= last) {
      continue;
    }
    if (!out.empty() && out.back().second == first) {
      out.back().second = last;
    } else {
      out.emplace_back(first, last);
    }
  }
  return out;
}

}  // namespace

template <class Pa>
BasicFrameAllocator<Pa>::BasicFrameAllocator(std::uint64_t memory_bytes, std::uint64_t first_byte)
    : BasicFrameAllocator(std::vector<RamRange>{{0, memory_bytes}}, first_byte) {}

template <class Pa>
BasicFrameAllocator<Pa>::BasicFrameAllocator(std::vector<RamRange> ranges, std::uint64_t first_byte)
    : m_ranges(normalised(ranges)) {
  if (first_byte % k4K != 0) {
    throw std::invalid_argument("first frame must be 4 KiB aligned and inside memory");
  }
  // The first table frame: first_byte itself, or the begin of the first range above it.
  std::size_t r = 0;
  while (r < m_ranges.size() && m_ranges[r].second <= first_byte) {
    ++r;
  }
  if (r == m_ranges.size()) {
    throw std::invalid_argument("first frame must be 4 KiB aligned and inside memory");
  }
  m_low_range = r;
  m_low_next = std::max(first_byte, m_ranges[r].first);
  m_high_range = m_ranges.size() - 1;
  m_high_begin = m_ranges.back().first;
  m_high_next = m_ranges.back().second;
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::allocate_table() {
  std::size_t r = m_low_range;
  std::uint64_t next = m_low_next;
  if (next + k4K > m_ranges[r].second) {  // this range is full: on above the hole
    ++r;
    next = r < m_ranges.size() ? m_ranges[r].first : 0;
  }
  if (r > m_high_range || (r == m_high_range && next + k4K > m_high_next)) {
    throw OutOfMemory("out of physical memory: no free frame for a page table (" +
                      std::to_string(m_allocated_bytes >> 20) + " MiB in use)");
  }
  m_low_range = r;
  m_low_next = next + k4K;
  m_allocated_bytes += k4K;
  ++m_table_frames;
  return Pa(next);
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::allocate_below(PageSize size) {
  const std::uint64_t bytes = page_bytes(size);
  // The current range is exhausted for this size; try each range below it, from its end,
  // down to the range the table frames are in (whose floor is the next table frame).
  for (std::size_t r = m_high_range; r > m_low_range;) {
    --r;
    const std::uint64_t floor = r == m_low_range ? m_low_next : m_ranges[r].first;
    const std::uint64_t top = m_ranges[r].second;
    if (top - floor >= bytes) {
      const std::uint64_t base = (top - bytes) & ~(bytes - 1);
      if (base >= floor) {
        return commit_data(r, base, size);
      }
    }
  }
  throw OutOfMemory("out of physical memory: no free " + std::string(page_size_name(size)) +
                    " frame (" + std::to_string(m_allocated_bytes >> 20) + " MiB in use)");
}

template class BasicFrameAllocator<Hpa>;
template class BasicFrameAllocator<Gpa>;

}  // namespace pagesim::mem
