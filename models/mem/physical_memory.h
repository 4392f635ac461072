// Simulated physical memory: the contents of every frame, reached by one load.
//
// The whole simulated physical address space is one reservation of host virtual memory
// (MAP_NORESERVE: see huge_pages.h). The host backs it only where it is written, so
// resident memory grows with the frames that hold page tables (the only frames the models
// write: data frames are numbers handed out by the FrameAllocator). The FrameAllocator
// keeps the kernel's page-table frames dense at the bottom of memory, and that bottom
// part (`huge_bytes`) is advised for transparent huge pages, so those frames share host
// huge pages; above it, host pages are 4 KiB, so a page-table page that lies among data
// frames (a guest's page table, which is guest data to the host) costs 4 KiB, not 2 MiB. A read of
// a frame never written returns 0 (the host's zero page). An entry read is `base[hpa / 8]`: no
// lookup table and no dependent miss on the walk's path.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sim/address.h"

namespace pagesim::mem {

class PhysicalMemory {
 public:
  static constexpr unsigned kFrameShift = 12;
  static constexpr std::uint64_t kFrameBytes = std::uint64_t{1} << kFrameShift;

  // `size_bytes` bounds valid addresses; it must be a non-zero multiple of 4 KiB. The first
  // `huge_bytes` (all of it by default) are backed by huge pages where the host grants
  // them. Throws std::runtime_error naming the memory keys when the host cannot reserve
  // that much address space.
  explicit PhysicalMemory(std::uint64_t size_bytes, std::uint64_t huge_bytes = ~std::uint64_t{0});
  PhysicalMemory(const PhysicalMemory&) = delete;
  PhysicalMemory& operator=(const PhysicalMemory&) = delete;
  ~PhysicalMemory();

  std::uint64_t size_bytes() const { return m_size_bytes; }

  // 8-byte aligned reads and writes (page-table entries). Addresses past size_bytes() are
  // a programming error of the caller.
  std::uint64_t read_u64(Hpa hpa) const { return m_words[hpa.value() >> 3]; }
  void write_u64(Hpa hpa, std::uint64_t value) { m_words[hpa.value() >> 3] = value; }

  // Zeroes the 4 KiB frame at `frame_base` (4 KiB aligned): a fresh page-table page.
  void zero_frame(Hpa frame_base) {
    std::fill_n(&m_words[frame_base.value() >> 3], kFrameBytes / 8, std::uint64_t{0});
  }

  // The frame's 512 entries (the DMI pointer of the SystemC shell).
  std::uint64_t* frame(std::uint64_t frame_number) {
    return &m_words[frame_number << (kFrameShift - 3)];
  }

  // Host-side hint: the entry at hpa is about to be read. No simulated effect.
  void prefetch(Hpa hpa) const { __builtin_prefetch(&m_words[hpa.value() >> 3]); }

 private:
  std::uint64_t m_size_bytes;
  std::uint64_t* m_words;
};

}  // namespace pagesim::mem
