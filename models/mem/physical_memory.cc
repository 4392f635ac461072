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

PhysicalMemory::~PhysicalMemory() {
  unmap_huge(m_words, m_size_bytes);
  if (m_stored != nullptr) {
    unmap_huge(m_stored, stored_bytes());
  }
}

std::uint64_t PhysicalMemory::stored_bytes() const {
  const std::uint64_t frames = m_size_bytes >> kFrameShift;
  return (frames + 63) / 64 * 8;
}

void PhysicalMemory::track_stores() {
  if (m_stored == nullptr) {
    m_stored = static_cast<std::uint64_t*>(reserve_huge(stored_bytes(), 0));
  }
}

void PhysicalMemory::forget_stores(Hpa base, std::uint64_t frames) {
  if (m_stored == nullptr) {
    return;
  }
  const std::uint64_t first = base.value() >> kFrameShift;
  for (std::uint64_t f = first; f < first + frames; ++f) {
    m_stored[f >> 6] &= ~(std::uint64_t{1} << (f & 63));
  }
}

void PhysicalMemory::note_stores(Hpa base, std::uint64_t frames) {
  if (m_stored == nullptr) {
    return;
  }
  const std::uint64_t first = base.value() >> kFrameShift;
  for (std::uint64_t f = first; f < first + frames; ++f) {
    m_stored[f >> 6] |= std::uint64_t{1} << (f & 63);
  }
}

bool PhysicalMemory::zero_filled(Hpa frame_base) const {
  const std::uint64_t frame = frame_base.value() >> kFrameShift;
  if (m_stored != nullptr && (m_stored[frame >> 6] >> (frame & 63) & 1) != 0) {
    return false;
  }
  const std::uint64_t* words = &m_words[frame << (kFrameShift - 3)];
  return std::all_of(words, words + kFrameBytes / 8, [](std::uint64_t w) { return w == 0; });
}

}  // namespace pagesim::mem
