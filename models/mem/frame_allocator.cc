#include "models/mem/frame_allocator.h"

#include <string>

namespace pagesim::mem {

FrameAllocator::FrameAllocator(std::uint64_t memory_bytes, std::uint64_t first_byte)
    : m_low_next(first_byte), m_high_next(memory_bytes) {
  if (first_byte % page_bytes(PageSize::k4K) != 0 || first_byte >= memory_bytes) {
    throw std::invalid_argument("first frame must be 4 KiB aligned and inside memory");
  }
}

Hpa FrameAllocator::allocate_table() {
  const std::uint64_t bytes = page_bytes(PageSize::k4K);
  if (m_low_next + bytes > m_high_next) {
    throw OutOfMemory("out of physical memory: no free frame for a page table (" +
                      std::to_string(m_allocated_bytes >> 20) + " MiB in use)");
  }
  Hpa frame(m_low_next);
  m_low_next += bytes;
  m_allocated_bytes += bytes;
  ++m_table_frames;
  return frame;
}

Hpa FrameAllocator::allocate(PageSize size) {
  const std::uint64_t bytes = page_bytes(size);
  const std::uint64_t base = m_high_next < bytes ? 0 : (m_high_next - bytes) & ~(bytes - 1);
  if (m_high_next < bytes || base < m_low_next) {
    throw OutOfMemory("out of physical memory: no free " + std::string(page_size_name(size)) +
                      " frame (" + std::to_string(m_allocated_bytes >> 20) + " MiB in use)");
  }
  m_high_next = base;
  m_allocated_bytes += bytes;
  ++m_frames[static_cast<int>(size)];
  return Hpa(base);
}

}  // namespace pagesim::mem
