#include "models/mem/frame_allocator.h"

#include <string>

namespace pagesim::mem {

FrameAllocator::FrameAllocator(std::uint64_t memory_bytes, std::uint64_t first_byte)
    : m_low_next(first_byte), m_high_next(memory_bytes) {
  if (first_byte % page_bytes(PageSize::k4K) != 0 || first_byte >= memory_bytes) {
    throw std::invalid_argument("first frame must be 4 KiB aligned and inside memory");
  }
}

Hpa FrameAllocator::allocate(PageSize size) {
  std::uint64_t bytes = page_bytes(size);
  if (size == PageSize::k4K) {
    if (m_low_next + bytes > m_high_next) {
      throw OutOfMemory("out of physical memory: no free 4 KiB frame (memory " +
                        std::to_string(m_high_next >> 20) + " MiB used from the top)");
    }
    Hpa frame(m_low_next);
    m_low_next += bytes;
    m_allocated_bytes += bytes;
    ++m_frames[0];
    return frame;
  }
  std::uint64_t base = m_high_next < bytes ? 0 : (m_high_next - bytes) & ~(bytes - 1);
  if (m_high_next < bytes || base < m_low_next) {
    throw OutOfMemory("out of physical memory: no free " + std::string(page_size_name(size)) +
                      " frame");
  }
  // Alignment gaps below m_high_next stay unused: the order is fixed, not packed.
  m_high_next = base;
  m_allocated_bytes += bytes;
  ++m_frames[static_cast<int>(size)];
  return Hpa(base);
}

}  // namespace pagesim::mem
