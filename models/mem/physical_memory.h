// Simulated physical memory: sparse, one 4 KiB frame at a time.
//
// Only frames that hold page tables get storage (a zeroed 4 KiB block made on the first
// write, from a huge-page arena: see huge_pages.h); data frames are numbers handed out by
// the FrameAllocator and never read. Lookup is a two-level radix table indexed by frame
// number: no hashing on the walk's path.
// The pointer returned by frame() stays valid for the memory's lifetime (the DMI pointer
// of the SystemC shell).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "models/mem/huge_pages.h"
#include "sim/address.h"

namespace pagesim::mem {

class PhysicalMemory {
 public:
  static constexpr unsigned kFrameShift = 12;
  static constexpr std::uint64_t kFrameBytes = std::uint64_t{1} << kFrameShift;

  // `size_bytes` bounds valid addresses; it must be a multiple of 4 KiB.
  explicit PhysicalMemory(std::uint64_t size_bytes);

  std::uint64_t size_bytes() const { return m_size_bytes; }

  // 8-byte aligned reads and writes (page-table entries). A read of a frame that was never
  // written returns 0. Addresses past size_bytes() are a programming error (asserted).
  std::uint64_t read_u64(Hpa hpa) const {
    const std::uint64_t* f = frame_if_present(hpa.value() >> kFrameShift);
    return f == nullptr ? 0 : f[(hpa.value() & (kFrameBytes - 1)) >> 3];
  }
  void write_u64(Hpa hpa, std::uint64_t value) {
    frame(hpa.value() >> kFrameShift)[(hpa.value() & (kFrameBytes - 1)) >> 3] = value;
  }

  // The frame's 512 entries, created zeroed on first use.
  std::uint64_t* frame(std::uint64_t frame_number);
  const std::uint64_t* frame_if_present(std::uint64_t frame_number) const {
    std::uint64_t chunk = frame_number >> kChunkShift;
    if (chunk >= m_chunks.size() || !m_chunks[chunk]) {
      return nullptr;
    }
    return (*m_chunks[chunk])[frame_number & (kChunkFrames - 1)];
  }

  // Frames that hold storage (page-table frames), and their bytes.
  std::uint64_t stored_frames() const { return m_stored_frames; }

 private:
  static constexpr unsigned kChunkShift = 9;  // 512 frames = 2 MiB per chunk
  static constexpr std::uint64_t kChunkFrames = std::uint64_t{1} << kChunkShift;
  using Chunk = std::array<std::uint64_t*, kChunkFrames>;  // null: no storage yet

  std::uint64_t m_size_bytes;
  std::vector<std::unique_ptr<Chunk>> m_chunks;
  BlockArena m_arena{kFrameBytes, 64 << 20};  // frames' storage, 64 MiB at a time
  std::uint64_t m_stored_frames = 0;
};

}  // namespace pagesim::mem
