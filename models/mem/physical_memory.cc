#include "models/mem/physical_memory.h"

#include <cassert>
#include <stdexcept>

namespace pagesim::mem {

PhysicalMemory::PhysicalMemory(std::uint64_t size_bytes) : m_size_bytes(size_bytes) {
  if (size_bytes % kFrameBytes != 0) {
    throw std::invalid_argument("physical memory size must be a multiple of 4 KiB");
  }
}

std::uint64_t* PhysicalMemory::frame(std::uint64_t frame_number) {
  assert(frame_number < (m_size_bytes >> kFrameShift));
  std::uint64_t chunk = frame_number >> kChunkShift;
  if (chunk >= m_chunks.size()) {
    m_chunks.resize(chunk + 1);
  }
  if (!m_chunks[chunk]) {
    m_chunks[chunk] = std::make_unique<Chunk>();
    m_chunks[chunk]->fill(nullptr);
  }
  auto& slot = (*m_chunks[chunk])[frame_number & (kChunkFrames - 1)];
  if (slot == nullptr) {
    slot = static_cast<std::uint64_t*>(m_arena.allocate());  // fresh mapping: zeroed
    ++m_stored_frames;
  }
  return slot;
}

}  // namespace pagesim::mem
