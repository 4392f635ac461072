#include "models/mem/frame_allocator.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <string>

#include "base/hex.h"

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
  m_top = m_high_next;
  for (std::size_t q = r; q < m_ranges.size(); ++q) {
    m_total_bytes += m_ranges[q].second - std::max(m_ranges[q].first, m_low_next);
  }
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
    if (m_free_list_bytes != 0) {
      // No fresh frame left: a freed frame serves (as the kernel takes page-table pages
      // from the same free pool), counted as a table frame from then on.
      const Pa frame = allocate(PageSize::k4K);
      --m_frames[static_cast<int>(PageSize::k4K)];
      m_data_in_use_bytes -= k4K;
      ++m_table_frames;
      return frame;
    }
    out_of_memory("no fresh frame for a page table");
  }
  m_low_range = r;
  m_low_next = next + k4K;
  m_allocated_bytes += k4K;
  ++m_table_frames;
  return Pa(next);
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::allocate_slow(PageSize size) {
  const std::uint64_t bytes = page_bytes(size);
  // A fresh frame: the highest aligned one in the current range, else in each range below
  // it from its end, down to the range the table frames are in (whose floor is the next
  // table frame). `skipped` adds up what the descent leaves behind: the alignment gap above
  // the frame, and the bottom of each range it leaves (all of a range it jumps).
  std::uint64_t skipped = 0;
  std::size_t r = m_high_range;
  std::uint64_t top = m_high_next;
  for (;;) {
    const std::uint64_t floor = r == m_low_range ? m_low_next : m_ranges[r].first;
    if (top - floor >= bytes) {
      const std::uint64_t base = (top - bytes) & ~(bytes - 1);
      if (base >= floor) {
        skipped += top - (base + bytes);
        if (!m_segments.empty()) {
          m_segments.back().low = m_high_next;
        }
        m_segments.push_back({base + bytes, base, size});
        m_segment_size = size;
        m_high_range = r;
        m_high_begin = m_ranges[r].first;
        m_high_next = base;
        m_unusable_bytes += skipped;
        m_data_in_use_bytes += bytes;
        m_allocated_bytes += bytes;
        ++m_frames[static_cast<int>(size)];
        return Pa(base);
      }
    }
    if (r <= m_low_range) {
      break;
    }
    skipped += top - m_ranges[r].first;
    --r;
    top = m_ranges[r].second;
  }
  // No fresh frame of this size: a piece of the most recently freed bigger frame.
  if (size == PageSize::k4K && (m_free_sizes & page_size_bit(PageSize::k2M))) {
    return split(PageSize::k2M, PageSize::k4K);
  }
  if (size != PageSize::k1G && (m_free_sizes & page_size_bit(PageSize::k1G))) {
    return split(PageSize::k1G, size);
  }
  out_of_memory("no free " + std::string(page_size_name(size)) + " frame");
}

template <class Pa>
void BasicFrameAllocator<Pa>::out_of_memory(const std::string& what) const {
  std::uint64_t ram = 0;
  for (const auto& [begin, end] : m_ranges) {
    ram += end - begin;
  }
  // The RAM as the configuration spells sizes (64MiB, 3712KiB). A guest's memory map has
  // holes (the VGA hole, the PCI hole), so its RAM is vm.memory less what they hide.
  std::string size = std::to_string(ram) + " bytes";
  for (const auto& [shift, unit] :
       {std::pair{40u, "TiB"}, {30u, "GiB"}, {20u, "MiB"}, {10u, "KiB"}}) {
    if (ram != 0 && ram % (std::uint64_t{1} << shift) == 0) {
      size = std::to_string(ram >> shift) + unit;
      break;
    }
  }
  const bool holes = m_ranges.size() > 1 || m_ranges.front().first != 0;
  throw OutOfMemory(std::string(std::is_same_v<Pa, Gpa> ? "the guest is out of physical memory"
                                                        : "out of physical memory") +
                    ": " + what + " (" + m_memory_key + ": " + size + " of RAM" +
                    (holes ? " outside the holes of the memory map" : "") + ", " +
                    std::to_string(in_use_bytes() >> 20) + " MiB in use, " +
                    std::to_string(m_free_list_bytes >> 20) +
                    " MiB free in smaller frames): raise " + m_memory_key);
}

template <class Pa>
std::uint64_t BasicFrameAllocator<Pa>::pop_free(PageSize size) {
  const int index = static_cast<int>(size);
  std::vector<Run>& list = m_free[index];
  Run& run = list.back();
  const std::uint64_t base = run.base + (run.count - 1) * page_bytes(size);
  if (--run.count == 0) {
    list.pop_back();
    if (list.empty()) {
      m_free_sizes &= static_cast<std::uint8_t>(~page_size_bit(size));
    }
  }
  return base;
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::hand_out_free(std::uint64_t base, PageSize size) {
  const std::uint64_t bytes = page_bytes(size);
  mark_free(base, bytes, false);
  m_free_list_bytes -= bytes;
  m_data_in_use_bytes += bytes;
  m_allocated_bytes += bytes;
  ++m_frames[static_cast<int>(size)];
  return Pa(base);
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::reuse(PageSize size) {
  return hand_out_free(pop_free(size), size);
}

template <class Pa>
Pa BasicFrameAllocator<Pa>::split(PageSize from, PageSize to) {
  // The `to` list is empty here (allocate() took from it otherwise): the remainder is its
  // only run. The split frame's bits stay set but for the piece handed out.
  const std::uint64_t base = pop_free(from);
  if (from == PageSize::k1G) {
    m_split_1g.emplace(base, to);
  } else {
    m_split_2m.insert(base);
  }
  const std::uint64_t pieces = page_bytes(from) / page_bytes(to);
  m_free[static_cast<int>(to)].push_back({base, pieces - 1});
  m_free_sizes |= page_size_bit(to);
  return hand_out_free(base + (pieces - 1) * page_bytes(to), to);
}

template <class Pa>
bool BasicFrameAllocator<Pa>::handed_out_size(std::uint64_t address, PageSize& size) const {
  // The first segment (they descend) whose low end is at or below `address`.
  std::size_t lo = 0;
  std::size_t hi = m_segments.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::uint64_t low = mid + 1 == m_segments.size() ? m_high_next : m_segments[mid].low;
    if (low > address) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == m_segments.size() || address >= m_segments[lo].top) {
    return false;
  }
  size = m_segments[lo].size;
  if (size == PageSize::k1G) {
    const auto it = m_split_1g.find(address & ~(page_bytes(PageSize::k1G) - 1));
    if (it != m_split_1g.end()) {
      size = it->second;
    }
  }
  if (size == PageSize::k2M && m_split_2m.count(address & ~(page_bytes(PageSize::k2M) - 1))) {
    size = PageSize::k4K;
  }
  return true;
}

template <class Pa>
void BasicFrameAllocator<Pa>::free(Pa frame, PageSize size) {
  const std::uint64_t base = frame.value();
  const std::uint64_t bytes = page_bytes(size);
  const auto refuse = [&](const std::string& why) {
    throw std::logic_error("free(" + hex(base) + ", " + std::string(page_size_name(size)) +
                           "): " + why);
  };
  if ((base & (bytes - 1)) != 0) {
    refuse("not aligned to its size");
  }
  if (base < m_high_next || base >= m_top || m_top - base < bytes) {
    refuse("not a data frame handed out so far (data frames lie in [" + hex(m_high_next) + ", " +
           hex(m_top) + "))");
  }
  PageSize handed_out = size;
  if (!handed_out_size(base, handed_out)) {
    refuse("not a data frame handed out: a hole, or a gap the descent skipped");
  }
  if (handed_out != size) {
    refuse("that memory went out as " + std::string(page_size_name(handed_out)) + " frames");
  }
  if (free_bit(base)) {
    refuse("double free: the frame is already free");
  }
  mark_free(base, bytes, true);
  m_free[static_cast<int>(size)].push_back({base, 1});
  m_free_sizes |= page_size_bit(size);
  m_free_list_bytes += bytes;
  m_data_in_use_bytes -= bytes;
  ++m_freed[static_cast<int>(size)];
}

template <class Pa>
void BasicFrameAllocator<Pa>::split_in_use(Pa frame) {
  const std::uint64_t base = frame.value();
  const auto refuse = [&](const std::string& why) {
    throw std::logic_error("split_in_use(" + hex(base) + "): " + why);
  };
  PageSize handed_out = PageSize::k4K;
  if ((base & (page_bytes(PageSize::k2M) - 1)) != 0 || base < m_high_next || base >= m_top ||
      !handed_out_size(base, handed_out) || handed_out != PageSize::k2M) {
    refuse("not a 2 MiB data frame handed out");
  }
  if (free_bit(base)) {
    refuse("the frame is free");
  }
  m_split_2m.insert(base);
}

template <class Pa>
void BasicFrameAllocator<Pa>::mark_free(std::uint64_t base, std::uint64_t bytes, bool free) {
  // Bits of [base, base + bytes): from the index of its highest 4 KiB frame up.
  const std::uint64_t first = bit_index(base + bytes - kTableBytes);
  const std::uint64_t end = first + bytes / kTableBytes;
  if (free && m_free_bits.size() * 64 < end) {
    m_free_bits.resize((end + 63) / 64);
  }
  for (std::uint64_t i = first; i < end;) {
    const std::uint64_t bit = i % 64;
    const std::uint64_t n = std::min<std::uint64_t>(64 - bit, end - i);
    const std::uint64_t mask = (n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1) << bit;
    if (free) {
      m_free_bits[i / 64] |= mask;
    } else {
      m_free_bits[i / 64] &= ~mask;
    }
    i += n;
  }
}

template <class Pa>
bool BasicFrameAllocator<Pa>::is_free(Pa frame) const {
  const std::uint64_t address = frame.value() & ~(kTableBytes - 1);
  if (address >= m_high_next) {  // the data region: free if on a free list
    return address < m_top && free_bit(address);
  }
  if (address < m_low_next) {  // table frames, and RAM below first_byte
    return false;
  }
  // Between the regions: fresh if it is RAM.
  const auto above =
      std::upper_bound(m_ranges.begin(), m_ranges.end(), address,
                       [](std::uint64_t a, const RamRange& range) { return a < range.first; });
  return above != m_ranges.begin() && address < std::prev(above)->second;
}

template <class Pa>
std::uint64_t BasicFrameAllocator<Pa>::fresh_bytes() const {
  if (m_low_range == m_high_range) {
    return m_high_next - m_low_next;
  }
  std::uint64_t bytes = m_ranges[m_low_range].second - m_low_next;
  for (std::size_t q = m_low_range + 1; q < m_high_range; ++q) {
    bytes += m_ranges[q].second - m_ranges[q].first;
  }
  return bytes + (m_high_next - m_high_begin);
}

template <class Pa>
bool BasicFrameAllocator<Pa>::accounting_balances() const {
  std::uint64_t listed = 0;
  for (int s = 0; s < kPageSizeCount; ++s) {
    for (const Run& run : m_free[s]) {
      listed += run.count * page_bytes(static_cast<PageSize>(s));
    }
    if (m_free[s].empty() == ((m_free_sizes & page_size_bit(static_cast<PageSize>(s))) != 0)) {
      return false;
    }
  }
  std::uint64_t marked = 0;
  for (const std::uint64_t word : m_free_bits) {
    marked += static_cast<std::uint64_t>(std::popcount(word)) * kTableBytes;
  }
  return listed == m_free_list_bytes && marked == m_free_list_bytes &&
         in_use_bytes() + free_bytes() + unusable_bytes() == total_bytes();
}

template class BasicFrameAllocator<Hpa>;
template class BasicFrameAllocator<Gpa>;

}  // namespace pagesim::mem
