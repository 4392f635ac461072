// The geometry and replacement state of one set-associative array, shared by the TLB arrays
// (models/tlb/tlb.h) and the cache levels (models/cache/cache_hierarchy.h). The owner keeps
// its own entries, set-major (slot = set * ways + way), and knows which are valid; this class
// maps a number to its set and chooses victims.
//
//   SetAssoc geometry(sets, ways, Replacement::kLru, seed);
//   std::uint64_t set = geometry.set_of(vpn);         // vpn mod sets (sets a power of two)
//   ... scan slots geometry.slot(set, 0 .. ways-1) ...
//   geometry.touch(set, way);                          // on a hit and on a fill
//   std::uint32_t way = geometry.victim(set);          // only when every way is valid
//   std::uint32_t way = geometry.replace(set);         // victim(), then touch() of it
//
// Policies (Replacement in tlb_params.h):
//   kLru       true LRU. Up to 16 ways: each set's ways in recency order, packed as 4-bit way
//              numbers in one word (position 0 the most recently used), so a touch moves one
//              number to the front and the victim is the last: no search. Never-touched
//              ways start at the back in descending order, so the victim among them is the
//              lowest-numbered, as a stamp of 0 would make it. More ways: a per-slot stamp
//              from a per-array clock; the victim has the oldest (the lowest-numbered of
//              equal stamps). Both give the same victims: the least recently touched way.
//   kTreePlru  tree pseudo-LRU over ways - 1 node bits per set (ways a power of two), heap
//              order (node 1 is the root, node n's children are 2n and 2n+1, the leaves below
//              the last level are the ways in order). A node bit says which half holds the
//              victim (0: lower-numbered ways, 1: upper); a touch points every node on the
//              way's path away from it, and the victim follows the bits from the root.
//   kRandom    uniform over the ways, from a SplitMix64 generator seeded by `seed`: the same
//              seed and the same sequence of victim() calls give the same victims.
// Owners fill an invalid way, lowest first, before asking for a victim, so replacement only
// decides among valid entries; that is the convention of the deterministic reference
// semantics (issue 2), not a claim about any particular core.
//
// Invariants: sets is a power of two, 1 <= ways; kTreePlru needs ways a power of two.
// touch() and set_of() allocate nothing and are O(1) for kLru and kRandom, O(log2 ways) for
// kTreePlru; victim() is O(1) for kLru up to 16 ways, O(ways) beyond.
#pragma once

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/tlb/tlb_params.h"

namespace pagesim::tlb {

// SplitMix64 (Steele, Lea, Flood, "Fast Splittable Pseudorandom Number Generators",
// OOPSLA 2014): 64 bits of state, any seed (including 0) is fine, the same seed always
// gives the same sequence on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) for bound < 2^32, by multiply-shift (Lemire, 2019).
  std::uint32_t below(std::uint32_t bound) {
    return static_cast<std::uint32_t>(((next() >> 32) * bound) >> 32);
  }

 private:
  std::uint64_t m_state;
};

// A seed for one of several arrays that share a model's seed: distinct, deterministic.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  return SplitMix64(seed ^ (0xd1b54a32d192ed03ull * (index + 1))).next();
}

class SetAssoc {
 public:
  SetAssoc(std::uint64_t sets, std::uint32_t ways, Replacement policy, std::uint64_t seed)
      : m_policy(policy), m_ways(ways), m_set_mask(sets - 1), m_rng(seed) {
    if (sets == 0 || (sets & (sets - 1)) != 0) {
      throw std::invalid_argument(std::to_string(sets) + " sets is not a power of two");
    }
    if (ways == 0) {
      throw std::invalid_argument("0 is not a valid associativity");
    }
    switch (policy) {
      case Replacement::kLru:
        if (ways <= kMaxOrderedWays) {
          m_order.assign(sets, initial_order(ways));
          m_used = ~std::uint64_t{0} >> (64 - 4 * ways);
        } else {
          m_stamp.assign(sets * ways, 0);
        }
        break;
      case Replacement::kTreePlru:
        if ((ways & (ways - 1)) != 0) {
          throw std::invalid_argument("tree_plru needs power-of-two ways, not " +
                                      std::to_string(ways));
        }
        m_plru.assign(sets * ways, 0);  // node n of set s at s * ways + n, n in [1, ways)
        break;
      case Replacement::kRandom:
        break;
    }
  }

  std::uint64_t sets() const { return m_set_mask + 1; }
  std::uint32_t ways() const { return m_ways; }
  Replacement policy() const { return m_policy; }
  std::uint64_t set_of(std::uint64_t number) const { return number & m_set_mask; }
  std::uint64_t slot(std::uint64_t set, std::uint32_t way) const { return set * m_ways + way; }

  // The way was used (a hit) or filled.
  void touch(std::uint64_t set, std::uint32_t way) {
    switch (m_policy) {
      case Replacement::kLru:
        if (!m_order.empty()) {
          m_order[set] = to_front(m_order[set], way);
        } else {
          m_stamp[slot(set, way)] = ++m_clock;
        }
        break;
      case Replacement::kTreePlru:
        touch_plru(set, way);
        break;
      case Replacement::kRandom:
        break;
    }
  }

  // victim(set), then touch(set, that way): the way to replace in a set whose ways are all
  // valid, now its most recently used; the same way and the same state after as the two
  // calls. With kLru up to 16 ways the last way of the order goes to the front, every other
  // one position back: a rotation of the used nibbles, no search.
  std::uint32_t replace(std::uint64_t set) {
    if (m_used != 0) {
      const std::uint64_t order = m_order[set];
      const auto way = static_cast<std::uint32_t>(order >> (4 * (m_ways - 1))) & 0xf;
      m_order[set] = (order & ~m_used) | ((order << 4) & m_used) | way;
      return way;
    }
    const std::uint32_t way = victim(set);
    touch(set, way);
    return way;
  }

  // The way to replace in a set whose ways are all valid.
  std::uint32_t victim(std::uint64_t set) {
    switch (m_policy) {
      case Replacement::kLru: {
        if (!m_order.empty()) {
          return static_cast<std::uint32_t>(m_order[set] >> (4 * (m_ways - 1))) & 0xf;
        }
        // The lowest-numbered way with the smallest stamp, with no branch on the stamps
        // (which way is oldest is data: a branch on it mispredicts).
        const std::uint64_t* stamps = &m_stamp[slot(set, 0)];
        std::uint32_t oldest = 0;
        std::uint64_t oldest_stamp = stamps[0];
        for (std::uint32_t w = 1; w < m_ways; ++w) {
          const bool older = stamps[w] < oldest_stamp;
          oldest_stamp = older ? stamps[w] : oldest_stamp;
          oldest = older ? w : oldest;
        }
        return oldest;
      }
      case Replacement::kTreePlru:
        return victim_plru(set);
      case Replacement::kRandom:
        return m_rng.below(m_ways);
    }
    return 0;
  }

 private:
  static constexpr std::uint32_t kMaxOrderedWays = 16;
  static constexpr std::uint64_t kNibbles = 0x1111'1111'1111'1111ull;
  // kLru, up to 16 ways: the order before any touch, ways - 1 at the front, 0 at the back;
  // the unused positions (ways < 16) hold 0xf, which no way number equals.
  static std::uint64_t initial_order(std::uint32_t ways) {
    std::uint64_t order = ~std::uint64_t{0};
    for (std::uint32_t pos = 0; pos < ways; ++pos) {
      order &= ~(std::uint64_t{0xf} << (4 * pos));
      order |= std::uint64_t{ways - 1 - pos} << (4 * pos);
    }
    return order;
  }
  // `order` with `way` moved to position 0, the ways before it one position back.
  static std::uint64_t to_front(std::uint64_t order, std::uint32_t way) {
    // The nibble equal to `way` (exactly one): the lowest zero nibble of order ^ way's.
    const std::uint64_t x = order ^ (kNibbles * way);
    const std::uint64_t zero = (x - kNibbles) & ~x & (kNibbles << 3);
    const unsigned shift = static_cast<unsigned>(std::countr_zero(zero)) & ~3u;  // 4 * position
    const std::uint64_t before = (std::uint64_t{1} << shift) - 1;  // the nibbles before it
    return (order & ~((before << 4) | 0xf)) | ((order & before) << 4) | way;
  }
  void touch_plru(std::uint64_t set, std::uint32_t way) {
    std::uint8_t* nodes = &m_plru[slot(set, 0)];
    std::uint32_t node = 1;
    for (std::uint32_t half = m_ways >> 1; half != 0; half >>= 1) {
      const bool upper = (way & half) != 0;
      nodes[node] = upper ? 0 : 1;  // the victim is in the other half
      node = 2 * node + (upper ? 1 : 0);
    }
  }
  std::uint32_t victim_plru(std::uint64_t set) const {
    const std::uint8_t* nodes = &m_plru[slot(set, 0)];
    std::uint32_t node = 1;
    std::uint32_t way = 0;
    for (std::uint32_t half = m_ways >> 1; half != 0; half >>= 1) {
      if (nodes[node] != 0) {
        way |= half;
        node = 2 * node + 1;
      } else {
        node = 2 * node;
      }
    }
    return way;
  }

  Replacement m_policy;
  std::uint32_t m_ways;
  std::uint64_t m_set_mask;
  std::uint64_t m_clock = 0;
  std::uint64_t m_used = 0;  // kLru up to 16 ways: the nibbles of the order in use; else 0
  std::vector<std::uint64_t> m_order;  // kLru up to 16 ways: each set's recency order
  std::vector<std::uint64_t> m_stamp;  // kLru beyond: sets * ways stamps, 0 = never touched
  std::vector<std::uint8_t> m_plru;    // kTreePlru: sets * ways bytes, index 0 unused
  SplitMix64 m_rng;                    // kRandom
};

}  // namespace pagesim::tlb
