// Exact reuse (LRU stack) distance of a reference stream, streaming, in memory proportional
// to the number of distinct keys (pages), not to the length of the stream.
//
// The reuse distance of a reference to key k is the number of distinct other keys
// referenced since the previous reference to k; a first reference is cold. A fully
// associative LRU cache (or TLB) of N entries hits exactly the references whose distance is
// below N (Mattson et al. 1970), which is why `pagesim trace stat` reports it per 4 KiB page.
//
// Algorithm (Bennett and Kruskal 1975; Almasi et al. 2002): each reference takes the next
// time slot; a Fenwick tree over the slots holds a 1 at the slot of each key's latest
// reference. The distance of a reference to k is the number of 1s after k's previous slot,
// a prefix-sum difference: O(log T) per reference. When the slots run out, they are
// renumbered in order, keeping only the live ones (one per key), into a table twice the
// number of keys, so memory stays O(distinct keys): about 50 bytes per key.
#pragma once

#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

namespace pagesim::traces {

class ReuseDistance {
 public:
  static constexpr std::uint64_t kCold = std::numeric_limits<std::uint64_t>::max();

  // `initial_slots`: the first table size (tests use small ones to exercise renumbering).
  explicit ReuseDistance(std::size_t initial_slots = std::size_t{1} << 16);

  // References `key`; returns its reuse distance, or kCold on its first reference.
  std::uint64_t reference(std::uint64_t key);

  // Distinct keys referenced so far.
  std::size_t distinct() const { return m_slot_of.size(); }
  // Every key referenced so far (with its current slot; the order is unspecified).
  const std::unordered_map<std::uint64_t, std::uint32_t>& keys() const { return m_slot_of; }

 private:
  void add(std::size_t slot, int delta);
  std::uint64_t prefix(std::size_t slot) const;  // the 1s in slots [0, slot)
  void renumber();

  std::unordered_map<std::uint64_t, std::uint32_t> m_slot_of;  // key -> latest slot
  std::vector<std::uint64_t> m_key_of;                         // slot -> key (if live)
  std::vector<std::uint32_t> m_tree;                           // Fenwick tree, 1-based
  std::size_t m_now = 0;                                       // the next free slot
};

}  // namespace pagesim::traces
