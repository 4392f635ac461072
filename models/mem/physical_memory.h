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

#include "base/address.h"

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

  // Data stores. The models keep no data, only the page-table words above; where a model
  // must tell a zero-filled frame from one holding data (the split of a huge page maps
  // its zero-filled pieces to the shared zero page: try_to_map_unused_to_zeropage), the
  // machine turns store tracking on, and every store to a frame sets its bit here (any
  // store counts as data: a trace carries no values). Off by default: note_store() is then
  // never called. One bit per 4 KiB frame, in address space reserved like the words:
  // only the parts written are backed.
  void track_stores();
  bool tracks_stores() const { return m_stored != nullptr; }
  void note_store(Hpa hpa) {
    const std::uint64_t frame = hpa.value() >> kFrameShift;
    m_stored[frame >> 6] |= std::uint64_t{1} << (frame & 63);
  }
  // A page's frames hold nothing stored from now on (clear_page of a fresh page). A
  // no-op without tracking.
  void forget_stores(Hpa base, std::uint64_t frames);
  // Every frame of [base, base + frames * 4 KiB) stored to (a page read back from swap).
  void note_stores(Hpa base, std::uint64_t frames);
  // No store reached the 4 KiB frame since it was last cleared, and its words are zero:
  // pages_identical(page, ZERO_PAGE(0)). Without tracking, only the words tell.
  bool zero_filled(Hpa frame_base) const;

 private:
  std::uint64_t stored_bytes() const;

  std::uint64_t m_size_bytes;
  std::uint64_t* m_words;
  std::uint64_t* m_stored = nullptr;
};

}  // namespace pagesim::mem
