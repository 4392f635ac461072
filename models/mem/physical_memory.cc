#include "models/mem/physical_memory.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/mem/huge_pages.h"

namespace pagesim::mem {

PhysicalMemory::PhysicalMemory(std::uint64_t size_bytes, std::uint64_t huge_bytes)
    : m_size_bytes(size_bytes), m_words(nullptr) {
  if (size_bytes == 0 || size_bytes % kFrameBytes != 0) {
    throw std::invalid_argument("physical memory size must be a non-zero multiple of 4 KiB");
  }
  try {
    m_words =
        static_cast<std::uint64_t*>(reserve_huge(size_bytes, std::min(huge_bytes, size_bytes)));
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(
        "the host refused to reserve " + std::to_string(size_bytes >> 20) +
        " MiB of address space for the simulated physical memory (only the pages the "
        "model writes are ever backed; a strict overcommit policy, `ulimit -v` or valgrind "
        "can refuse the reservation): lower os.memory (host.memory in nested mode)");
  }
}

PhysicalMemory::~PhysicalMemory() { unmap_huge(m_words, m_size_bytes); }

}  // namespace pagesim::mem
