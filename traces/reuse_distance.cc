#include "traces/reuse_distance.h"

#include <algorithm>
#include <stdexcept>

namespace pagesim::traces {

ReuseDistance::ReuseDistance(std::size_t initial_slots)
    : m_key_of(std::max<std::size_t>(initial_slots, 2)), m_tree(m_key_of.size() + 1) {}

void ReuseDistance::add(std::size_t slot, int delta) {
  for (std::size_t i = slot + 1; i < m_tree.size(); i += i & (~i + 1)) {
    m_tree[i] = static_cast<std::uint32_t>(static_cast<int>(m_tree[i]) + delta);
  }
}

std::uint64_t ReuseDistance::prefix(std::size_t slot) const {
  std::uint64_t sum = 0;
  for (std::size_t i = slot; i > 0; i -= i & (~i + 1)) {
    sum += m_tree[i];
  }
  return sum;
}

void ReuseDistance::renumber() {
  // Live slots, in time order, become 0..n-1 in a table of 2n slots (at least the old size).
  const std::size_t live = m_slot_of.size();
  if (2 * live > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("ReuseDistance: more than 2^31 distinct keys");
  }
  const std::size_t slots = std::max(m_key_of.size(), 2 * live);
  std::vector<std::uint64_t> key_of(slots);
  std::size_t next = 0;
  for (std::size_t slot = 0; slot < m_now; ++slot) {
    const auto it = m_slot_of.find(m_key_of[slot]);
    if (it != m_slot_of.end() && it->second == slot) {
      key_of[next] = m_key_of[slot];
      it->second = static_cast<std::uint32_t>(next);
      ++next;
    }
  }
  m_key_of = std::move(key_of);
  m_now = next;
  // A Fenwick tree of n ones in O(n): each node adds itself to its parent.
  m_tree.assign(slots + 1, 0);
  for (std::size_t i = 1; i <= slots; ++i) {
    m_tree[i] += i <= next ? 1 : 0;
    const std::size_t parent = i + (i & (~i + 1));
    if (parent <= slots) {
      m_tree[parent] += m_tree[i];
    }
  }
}

std::uint64_t ReuseDistance::reference(std::uint64_t key) {
  if (m_now == m_key_of.size()) {
    renumber();
  }
  std::uint64_t distance = kCold;
  const auto [it, inserted] = m_slot_of.try_emplace(key, static_cast<std::uint32_t>(m_now));
  if (!inserted) {
    const std::size_t previous = it->second;
    // The keys whose latest reference came after `previous`: slots (previous, m_now).
    distance = prefix(m_now) - prefix(previous + 1);
    add(previous, -1);
    it->second = static_cast<std::uint32_t>(m_now);
  }
  m_key_of[m_now] = key;
  add(m_now, +1);
  ++m_now;
  return distance;
}

}  // namespace pagesim::traces
