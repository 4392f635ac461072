// The reference of `make bench` (issue 21): a bare two-level LRU TLB, the least a simulator
// of the TLBs must do per access, to time pagesim's hit and miss paths against.
//
// What it is: the L1 dTLB's and the STLB's 4 KiB arrays of tlb::TlbHierarchy (tlb_hierarchy.h)
// for loads through one PCID and VPID, with the same semantics: a lookup in the L1; on a
// miss a lookup in the L2; an L2 hit fills the L1; an L2 miss fills the L2 and the L1
// (non-inclusive, no back-invalidation); true LRU in each set. There is no walker, no page
// table, no cache model, no statistic but two miss counters, no page size but 4 KiB, no tag
// but the virtual page number. On a stream of 4 KiB-page loads it therefore misses exactly
// where pagesim's tlb.l1d.misses and tlb.l2.misses count a miss (which way holds an entry
// differs, which entries a set holds does not: true LRU decides that alone).
//
// Each set is kept in recency order (way 0 the most recently used), so a hit moves the
// entries before it down by one and a fill drops the last; an empty way holds 0 (a key is
// the VPN plus one). Geometry from TlbArrayParams (entries / ways sets, a power of two).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "models/tlb/tlb_params.h"

namespace pagesim::bench {

class BareLruArray {
 public:
  explicit BareLruArray(const tlb::TlbArrayParams& p)
      : m_ways(p.ways), m_set_mask(p.entries / (p.ways == 0 ? 1 : p.ways) - 1) {
    if (p.entries == 0 || p.ways == 0 || p.entries % p.ways != 0 ||
        ((m_set_mask + 1) & m_set_mask) != 0) {
      throw std::invalid_argument("the bare TLB needs a 4 KiB array of sets x ways entries");
    }
    m_keys.assign(p.entries, 0);
  }

  // True if vpn is present; it becomes the most recently used of its set.
  bool lookup(std::uint64_t vpn) {
    std::uint64_t* set = &m_keys[(vpn & m_set_mask) * m_ways];
    const std::uint64_t key = vpn + 1;
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w] == key) {
        for (std::uint32_t k = w; k > 0; --k) {  // move to the front
          set[k] = set[k - 1];
        }
        set[0] = key;
        return true;
      }
    }
    return false;
  }

  // Stores vpn (absent) as the most recently used of its set, over the least recently used.
  void fill(std::uint64_t vpn) {
    std::uint64_t* set = &m_keys[(vpn & m_set_mask) * m_ways];
    for (std::uint32_t k = m_ways - 1; k > 0; --k) {  // drop the last, shift the rest
      set[k] = set[k - 1];
    }
    set[0] = vpn + 1;
  }

 private:
  std::uint32_t m_ways;
  std::uint64_t m_set_mask;
  std::vector<std::uint64_t> m_keys;  // set-major, each set in recency order
};

class BareTlb {
 public:
  BareTlb(const tlb::TlbArrayParams& l1, const tlb::TlbArrayParams& l2) : m_l1(l1), m_l2(l2) {}

  void load(std::uint64_t gva) {
    const std::uint64_t vpn = gva >> 12;
    if (m_l1.lookup(vpn)) {
      return;
    }
    ++m_l1_misses;
    if (!m_l2.lookup(vpn)) {
      ++m_l2_misses;
      m_l2.fill(vpn);
    }
    m_l1.fill(vpn);
  }

  std::uint64_t l1_misses() const { return m_l1_misses; }
  std::uint64_t l2_misses() const { return m_l2_misses; }

 private:
  BareLruArray m_l1;
  BareLruArray m_l2;
  std::uint64_t m_l1_misses = 0;
  std::uint64_t m_l2_misses = 0;
};

}  // namespace pagesim::bench
