#include "models/host/memslot.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "base/hex.h"

namespace pagesim::host {

namespace {

bool aligned(std::uint64_t v) { return v % kMemslotAlignBytes == 0; }

}  // namespace

std::string describe(const Memslot& slot) {
  return "memslot " + std::to_string(slot.id) + " [" + hex(slot.base.value()) + ", " +
         hex(slot.base.value() + slot.bytes) + ")";
}

MemslotTable::MemslotTable(std::span<const Memslot> slots) {
  for (const Memslot& slot : slots) {
    add(slot);
  }
}

const Memslot* MemslotTable::find_slow(Gpa gpa) const {
  // The first slot whose base is above gpa; the one before it is the only candidate.
  auto it = std::upper_bound(m_slots.begin(), m_slots.end(), gpa,
                             [](Gpa g, const Memslot& slot) { return g < slot.base; });
  if (it == m_slots.begin()) {
    return nullptr;
  }
  --it;
  if (!it->contains(gpa)) {
    return nullptr;
  }
  m_last = static_cast<std::size_t>(it - m_slots.begin());
  return &*it;
}

std::size_t MemslotTable::index_of(std::uint32_t id) const {
  for (std::size_t i = 0; i < m_slots.size(); ++i) {
    if (m_slots[i].id == id) {
      return i;
    }
  }
  return m_slots.size();
}

const Memslot* MemslotTable::find_id(std::uint32_t id) const {
  const std::size_t i = index_of(id);
  return i < m_slots.size() ? &m_slots[i] : nullptr;
}

void MemslotTable::check_fits(const Memslot& slot, std::size_t ignore) const {
  if (slot.bytes == 0) {
    throw MemslotError(describe(slot) + ": a memslot has at least one page");
  }
  if (!aligned(slot.base.value()) || !aligned(slot.bytes) || !aligned(slot.hva.value())) {
    throw MemslotError(describe(slot) + " at hva " + hex(slot.hva.value()) +
                       ": base, size and hva must be multiples of 4 KiB");
  }
  if (slot.base.value() + slot.bytes < slot.base.value()) {
    throw MemslotError(describe(slot) + ": extends past the top of the address space");
  }
  if (slot.hva.value() + slot.bytes < slot.hva.value()) {
    throw MemslotError(describe(slot) + ": its hva range wraps past the top of the address space");
  }
  for (std::size_t i = 0; i < m_slots.size(); ++i) {
    if (i == ignore) {
      continue;
    }
    const Memslot& other = m_slots[i];
    if (slot.base < other.end() && other.base < slot.end()) {
      throw MemslotError(describe(slot) + " overlaps " + describe(other));
    }
  }
}

void MemslotTable::add(const Memslot& slot) {
  const std::size_t existing = index_of(slot.id);
  if (existing < m_slots.size()) {
    throw MemslotError(describe(slot) + ": id " + std::to_string(slot.id) + " is taken by " +
                       describe(m_slots[existing]));
  }
  check_fits(slot, m_slots.size());
  auto at = std::upper_bound(m_slots.begin(), m_slots.end(), slot.base,
                             [](Gpa g, const Memslot& s) { return g < s.base; });
  m_slots.insert(at, slot);
  m_last = 0;
}

Memslot MemslotTable::remove(std::uint32_t id) {
  const std::size_t i = index_of(id);
  if (i == m_slots.size()) {
    throw MemslotError("memslot " + std::to_string(id) + ": no such slot to delete");
  }
  const Memslot removed = m_slots[i];
  m_slots.erase(m_slots.begin() + static_cast<std::ptrdiff_t>(i));
  m_last = 0;
  return removed;
}

Memslot MemslotTable::move(std::uint32_t id, Gpa new_base) {
  const std::size_t i = index_of(id);
  if (i == m_slots.size()) {
    throw MemslotError("memslot " + std::to_string(id) + ": no such slot to move");
  }
  const Memslot old = m_slots[i];
  Memslot moved = old;
  moved.base = new_base;
  check_fits(moved, i);
  m_slots.erase(m_slots.begin() + static_cast<std::ptrdiff_t>(i));
  auto at = std::upper_bound(m_slots.begin(), m_slots.end(), moved.base,
                             [](Gpa g, const Memslot& s) { return g < s.base; });
  m_slots.insert(at, moved);
  m_last = 0;
  return old;
}

}  // namespace pagesim::host
