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
//
// Freeing (host memory reclaim: the frames of evicted pages go back and are reused):
// - free(frame, size) returns a data frame that allocate(size) handed out, with that size.
//   Page-table frames are never freed; they come from fresh space while there is some, so
//   they stay dense. Once the regions have met, allocate_table() takes a freed frame as
//   allocate(4K) would (counted as a table frame; free() cannot tell it from a data frame,
//   so never free one), as a kernel takes its page-table pages from the one free pool;
//   OutOfMemory only when nothing is free.
// - allocate(size) takes, in this order:
//   1. the most recently freed frame of that size (LIFO), if that size's free list is not
//      empty;
//   2. a fresh frame, in the order above (the descent is not affected by freeing);
//   3. only when no fresh frame of that size is left: a freed bigger frame, split. A 4 KiB
//      request splits the most recently freed 2 MiB frame, or if there is none the most
//      recently freed 1 GiB frame, into 4 KiB frames; a 2 MiB request splits the most
//      recently freed 1 GiB frame into 2 MiB frames. The request gets the highest piece; the
//      rest go on that size's free list as if freed in ascending order, so they are handed
//      out descending (frames freed later go first, LIFO). A 1 GiB request splits nothing.
//   Otherwise OutOfMemory, which changes nothing.
// - split_in_use(frame): a 2 MiB frame in use becomes 512 4 KiB frames in use (the host
//   splitting a transparent huge page before reclaiming it), each then freed as 4 KiB.
// - No coalescing: freed 4 KiB frames never merge back into a 2 MiB frame (nor 2 MiB frames
//   into a 1 GiB one), and a split frame stays split. Memory fragments as in a kernel
//   without compaction: a 2 MiB request can fail with 2 MiB and more free in 4 KiB frames.
//
// Worked example: a 6 MiB machine, first_byte 2 MiB (the managed RAM is [2M, 6M), 4 MiB).
//   allocate(2M) -> 4M (0x40'0000); allocate(2M) -> 2M: the regions meet, nothing is fresh.
//   free(4M, 2M): the 2 MiB free list is {4M}.
//   allocate(4K): no free 4 KiB frame, no fresh space: split 4M into 512 4 KiB frames, hand
//     out the highest, 6M - 4K (0x5f'f000); the 4 KiB list holds the rest, 4M ... 6M - 8K.
//   allocate(4K) -> 6M - 8K (the next piece down); free(6M - 4K, 4K);
//   allocate(4K) -> 6M - 4K (LIFO: the most recently freed); allocate(4K) -> 6M - 12K.
//   allocate(2M) -> OutOfMemory: nothing fresh, no free 2 MiB frame, and the 2M - 12K free
//     in 4 KiB frames never merge back. allocate_table() -> 6M - 16K (a freed frame).
//   Then in_use_bytes() = 2M + 16K, free_bytes() = 2M - 16K, unusable_bytes() = 0.
//
// Accounting, in bytes of the managed RAM (total_bytes(): the RAM at or above the first
// table frame): in_use_bytes() + free_bytes() + unusable_bytes() == total_bytes() at all
// times (accounting_balances()). In use: table frames, and data frames handed out and not
// freed. Free: the fresh space between the two regions, and the frames on the free lists.
// Unusable: the alignment gaps, range bottoms and whole ranges the descent skipped, which
// stay unused. allocated_bytes(), frames_allocated() and table_frames_allocated() count
// traffic instead: every frame ever handed out, reused ones included; they never decrease.
//
// Bookkeeping (free() and is_free() are exact; the inline fast path, a fresh frame of the
// last fresh size, writes only the cursor and counters, and tests the free lists once):
// - Segments: the descent's frames as maximal runs of one size handed out back to back; a
//   fresh frame of another size, or one after a skipped gap, starts a segment. With the
//   record of split frames (a few, made only when memory ran out) they give the size every
//   handed-out data byte went out as, so free() rejects a frame of the wrong size, an
//   alignment gap, a hole, fresh space and table frames. Lookup: binary search, O(log n).
// - A bitmap over 4 KiB frames indexed down from the top of RAM (bit 0: the highest 4 KiB
//   frame), one bit set per 4 KiB on a free list, grown as frees reach lower: at most
//   1 bit per 4 KiB of the data region (32 MiB per TiB). Double frees and is_free() test it.
// - Free lists: per size, a stack of runs [base, base + count * size): a freed frame is a run
//   of one, a split's remainder a single run (a split 1 GiB frame is one entry).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/address.h"
#include "base/page_size.h"

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

  // A page-table frame: the next 4 KiB frame up (see the file comment). Never a freed frame.
  Pa allocate_table();
  // A data frame of the given size: the most recently freed one of that size, else the next
  // naturally aligned one down from the top, else a piece of a freed bigger frame (see the
  // file comment). Throws OutOfMemory, changing nothing, when there is none.
  Pa allocate(PageSize size) {
    const unsigned index = static_cast<unsigned>(size);
    // The one extra test for freeing: a predictable not-taken branch while nothing of this
    // size is free.
    if (m_free_sizes & page_size_bit(size)) [[unlikely]] {
      return reuse(size);
    }
    // Fast path: the size of the last fresh frame (so the cursor is aligned for it and the
    // segment continues), and the frame fits in the current range above its floor.
    const std::uint64_t bytes = page_bytes(size);
    const std::uint64_t floor = m_high_range == m_low_range ? m_low_next : m_high_begin;
    if (size == m_segment_size && m_high_next - floor >= bytes) {
      m_high_next -= bytes;
      m_data_in_use_bytes += bytes;
      m_allocated_bytes += bytes;
      ++m_frames[index];
      return Pa(m_high_next);
    }
    return allocate_slow(size);
  }

  // Returns a data frame that allocate(size) handed out (the frame's base, the same size),
  // to the free list of that size. Throws std::logic_error, naming the frame (hex) and the
  // size and changing nothing, when `frame` is not aligned to `size`, is not a data frame
  // handed out so far (fresh space, a table frame, a gap or hole the descent skipped, above
  // the RAM), was handed out as another size, or is already free (double free).
  void free(Pa frame, PageSize size);

  // A 2 MiB data frame in use becomes 512 4 KiB frames in use (split_huge_page: a compound
  // page into order-0 pages), each freed on its own from then on; the split is recorded as
  // allocate()'s splits are and never undone. Nothing changes in the accounting. Throws
  // std::logic_error, naming the frame, changing nothing, when `frame` is not a 2 MiB data
  // frame in use.
  void split_in_use(Pa frame);

  // Whether the 4 KiB frame holding `frame` is free: fresh (between the two regions) or on a
  // free list. False for table frames, data frames in use, unusable gaps, holes and RAM below
  // first_byte. O(log ranges).
  bool is_free(Pa frame) const;

  // The RAM ranges after rounding and merging, ascending.
  const std::vector<RamRange>& ranges() const { return m_ranges; }

  // Accounting (see the file comment): in_use + free + unusable == total.
  // The RAM at or above the first table frame.
  std::uint64_t total_bytes() const { return m_total_bytes; }
  // Table frames and data frames handed out and not freed.
  std::uint64_t in_use_bytes() const { return m_table_frames * kTableBytes + m_data_in_use_bytes; }
  // The fresh space between the two regions, and the frames on the free lists.
  std::uint64_t free_bytes() const { return fresh_bytes() + m_free_list_bytes; }
  // The fresh space alone: RAM from the next table frame up to the lowest fresh data frame.
  std::uint64_t fresh_bytes() const;
  // Alignment gaps, range bottoms and ranges the data descent skipped: they stay unused.
  std::uint64_t unusable_bytes() const { return m_unusable_bytes; }
  // in_use + free + unusable == total, and the free lists, the free bitmap and their byte
  // count agree. O(free-list runs + bitmap words): for tests and audits.
  bool accounting_balances() const;

  // Traffic, never decreasing: every frame handed out (table and data, reused ones
  // included), in bytes.
  std::uint64_t allocated_bytes() const { return m_allocated_bytes; }
  std::uint64_t table_frames_allocated() const { return m_table_frames; }
  // Data frames of that size handed out (fresh, reused and split pieces).
  std::uint64_t frames_allocated(PageSize size) const { return m_frames[static_cast<int>(size)]; }
  // Data frames of that size freed.
  std::uint64_t frames_freed(PageSize size) const { return m_freed[static_cast<int>(size)]; }

  // The configuration key that sizes this memory, which OutOfMemory's message names with
  // the RAM it gave ("... (vm.memory: 3712KiB of RAM ...): raise vm.memory"): "vm.memory"
  // for a guest's frames, "os.memory" for a machine's; the host of a VM sets "host.memory".
  // Text only: allocation does not depend on it.
  void set_memory_key(const char* key) { m_memory_key = key; }

 private:
  static constexpr std::uint64_t kTableBytes = 4 * kKiB;
  // m_segment_size before the first fresh data frame: no size continues a segment.
  static constexpr PageSize kNoSegment = static_cast<PageSize>(kPageSizeCount);

  // Frames [base, base + count * bytes of the list's size) on a free list; the highest goes
  // first.
  struct Run {
    std::uint64_t base;
    std::uint64_t count;
  };
  // Fresh data frames of one size handed out back to back: [low, top). The last segment's
  // `low` is stale: it is m_high_next (the fast path moves only the cursor).
  struct Segment {
    std::uint64_t top;
    std::uint64_t low;
    PageSize size;
  };

  // allocate() when the fast path does not apply: a fresh frame after a size change, in a
  // lower range, or a split.
  Pa allocate_slow(PageSize size);
  // The next frame of a non-empty free list.
  Pa reuse(PageSize size);
  // Takes the next frame of the `from` list apart into frames of `to`: hands out the highest.
  Pa split(PageSize from, PageSize to);
  // Takes the next frame off the free list of `size` (non-empty); bits and counts unchanged.
  std::uint64_t pop_free(PageSize size);
  // Counts a data frame of `size` going out from a free list (bits [base, base + size)
  // cleared) and returns it.
  Pa hand_out_free(std::uint64_t base, PageSize size);
  // The size the data byte at `address` (in the data region) was handed out as, after
  // splits; false when it lies in no segment (an alignment gap, a range bottom, a hole).
  bool handed_out_size(std::uint64_t address, PageSize& size) const;

  // OutOfMemory for `what` ("no free 2 MiB frame"), naming m_memory_key and its value.
  [[noreturn]] void out_of_memory(const std::string& what) const;

  // The free bitmap. Bit i: the 4 KiB frame [m_top - (i + 1) * 4K, m_top - i * 4K).
  std::uint64_t bit_index(std::uint64_t address) const {
    return (m_top - address) / kTableBytes - 1;
  }
  bool free_bit(std::uint64_t address) const {
    const std::uint64_t i = bit_index(address);
    return i / 64 < m_free_bits.size() && ((m_free_bits[i / 64] >> (i % 64)) & 1) != 0;
  }
  // Sets or clears the bits of the frame [base, base + bytes).
  void mark_free(std::uint64_t base, std::uint64_t bytes, bool free);

  std::vector<RamRange> m_ranges;
  std::uint64_t m_top = 0;  // m_ranges.back().second: the first data byte's end
  std::uint64_t m_total_bytes = 0;
  std::size_t m_low_range = 0;           // range of the next page-table frame
  std::uint64_t m_low_next = 0;          // next page-table frame (ascending)
  std::size_t m_high_range = 0;          // range of the lowest data frame
  std::uint64_t m_high_begin = 0;        // m_ranges[m_high_range].first
  std::uint64_t m_high_next = 0;         // lowest byte handed out from the top (descending)
  PageSize m_segment_size = kNoSegment;  // size of the last fresh data frame
  std::uint8_t m_free_sizes = 0;         // page_size_bit(s) set: the list of s is not empty
  std::uint64_t m_data_in_use_bytes = 0;
  std::uint64_t m_free_list_bytes = 0;
  std::uint64_t m_unusable_bytes = 0;
  std::uint64_t m_allocated_bytes = 0;
  std::uint64_t m_table_frames = 0;
  std::uint64_t m_frames[kPageSizeCount] = {};
  std::uint64_t m_freed[kPageSizeCount] = {};
  std::vector<Segment> m_segments;               // descending
  std::vector<Run> m_free[kPageSizeCount];       // stacks: back() goes first
  std::vector<std::uint64_t> m_free_bits;        // see bit_index()
  std::map<std::uint64_t, PageSize> m_split_1g;  // base of a split 1 GiB frame -> piece size
  std::set<std::uint64_t> m_split_2m;            // bases of 2 MiB frames split into 4 KiB
  const char* m_memory_key = std::is_same_v<Pa, Gpa> ? "vm.memory" : "os.memory";
};

extern template class BasicFrameAllocator<Hpa>;
extern template class BasicFrameAllocator<Gpa>;

// The machine's frames (native mode; the host of a VM).
using FrameAllocator = BasicFrameAllocator<Hpa>;
// A guest's frames, in its guest-physical RAM ranges.
using GuestFrameAllocator = BasicFrameAllocator<Gpa>;

}  // namespace pagesim::mem
