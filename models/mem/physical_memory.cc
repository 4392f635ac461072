#include "models/mem/physical_memory.h"

#include <stdexcept>

#include "models/mem/huge_pages.h"

namespace pagesim::mem {

PhysicalMemory::PhysicalMemory(std::uint64_t size_bytes)
    : m_size_bytes(size_bytes), m_words(nullptr) {
  if (size_bytes == 0 || size_bytes % kFrameBytes != 0) {
    throw std::invalid_argument("physical memory size must be a non-zero multiple of 4 KiB");
  }
  m_words = static_cast<std::uint64_t*>(reserve_huge(size_bytes));
}

PhysicalMemory::~PhysicalMemory() { unmap_huge(m_words, m_size_bytes); }

}  // namespace pagesim::mem
