// The TLB hierarchy of one core: L1 iTLB, L1 dTLB and a unified L2 TLB (the STLB), with
// the reference semantics of issue 2, so that results are reproducible:
//   - an instruction fetch looks up the L1 iTLB, a load or store the L1 dTLB;
//   - an L1 miss looks up the L2; an L2 hit fills the L1 (from the L2's entry, splintered if
//     the L1 has no array for its size) and the access is served from the L1's copy;
//   - an L2 miss goes to the page walker, and fill() then stores the walk's translation in
//     the L2 and in the L1. The levels are non-inclusive: an L2 eviction does not remove the
//     L1's copy (no back-invalidation), and an L1 eviction does not write back.
//   - invalidations reach all three levels (SDM Vol. 3A, 4.10.4: INVLPG, INVPCID, INVVPID
//     and MOV to CR3 invalidate the TLBs of the logical processor, whatever their level).
// Intel SDM Vol. 3A, 4.10.2 "TLBs"; the geometry defaults are Skylake's (tlb_params.h).
//
// Units: latencies are core cycles (Cycles), from each level's TlbParams::latency.
// Statistics: groups "tlb.l1i", "tlb.l1d" and "tlb.l2" under the parent (tlb.h).
#pragma once

#include <cstdint>
#include <initializer_list>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/stats/stats.h"
#include "base/translation.h"
#include "models/tlb/tlb.h"
#include "models/tlb/tlb_params.h"

namespace pagesim::tlb {

class TlbHierarchy {
 public:
  // `seed` drives random replacement; each level derives its own generator from it.
  TlbHierarchy(const TlbHierarchyParams& p, std::uint64_t seed, stats::Group* parent);
  TlbHierarchy(const TlbHierarchy&) = delete;
  TlbHierarchy& operator=(const TlbHierarchy&) = delete;

  struct Result {
    const Translation* entry;  // null on a miss of both levels
    Cycles latency;            // sum of the latencies of the levels looked up
    int level;                 // 1 or 2: the level that hit; 0: a miss (walk, then fill())
  };

  // Looks gva up for an access of the given kind (kFetch: L1 iTLB, else L1 dTLB). Counts a
  // hit or miss at each level it reaches. entry stays valid until the next fill or
  // invalidation of the L1 it came from (the L2's when the L1 has no array to hold it).
  Result lookup(AccessKind kind, Gva gva, std::uint16_t pcid, std::uint16_t vpid);
  // No side effects: the entry lookup() would return, without stats, replacement updates
  // or fills (debug, --check).
  Result probe(AccessKind kind, Gva gva, std::uint16_t pcid, std::uint16_t vpid) const;

  // After a walk: stores t in the L2 and in the kind's L1. Returns the L1's entry (the L2's
  // when the L1 cannot hold the size, null when neither can).
  const Translation* fill(AccessKind kind, Gva gva, std::uint16_t pcid, std::uint16_t vpid,
                          const Translation& t);

  // Forwarded to all three levels: see Tlb.
  void invalidate_all();
  void invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid);
  void invalidate_page(Gva gva, std::uint16_t pcid, std::uint16_t vpid);
  void invalidate_page_vpid(Gva gva, std::uint16_t vpid);
  void invalidate_vpid(std::uint16_t vpid);

  // Every valid entry of the L1 iTLB, then the L1 dTLB, then the L2 (each in every page
  // size): f(const Translation& t, std::uint16_t pcid, std::uint16_t vpid), as
  // Tlb::for_each_entry. The levels are non-inclusive, so one translation may be reported
  // once per level holding it. Read-only; for --check (no entry may refer to a freed host
  // frame). For the level of an entry, visit l1i(), l1d() and l2() one by one.
  template <class F>
  void for_each_entry(F&& f) const {
    for (const Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
      t->for_each_entry(f);
    }
  }

  Tlb& l1d() { return m_l1d; }
  Tlb& l1i() { return m_l1i; }
  Tlb& l2() { return m_l2; }
  const Tlb& l1d() const { return m_l1d; }
  const Tlb& l1i() const { return m_l1i; }
  const Tlb& l2() const { return m_l2; }

 private:
  Tlb& l1_for(AccessKind kind) { return kind == AccessKind::kFetch ? m_l1i : m_l1d; }
  const Tlb& l1_for(AccessKind kind) const { return kind == AccessKind::kFetch ? m_l1i : m_l1d; }

  Tlb m_l1i;
  Tlb m_l1d;
  Tlb m_l2;
};

// Inline: an L1 hit is the common case of every access.
inline TlbHierarchy::Result TlbHierarchy::lookup(AccessKind kind, Gva gva, std::uint16_t pcid,
                                                 std::uint16_t vpid) {
  Tlb& l1 = l1_for(kind);
  Cycles latency = l1.latency();
  if (const Translation* e = l1.lookup(gva, pcid, vpid)) {
    return {e, latency, 1};
  }
  latency += m_l2.latency();
  if (const Translation* e = m_l2.lookup(gva, pcid, vpid)) {
    const Translation* copy = l1.insert(gva, pcid, vpid, *e);
    return {copy != nullptr ? copy : e, latency, 2};
  }
  return {nullptr, latency, 0};
}

// Inline: after every walk.
inline const Translation* TlbHierarchy::fill(AccessKind kind, Gva gva, std::uint16_t pcid,
                                             std::uint16_t vpid, const Translation& t) {
  const Translation* in_l2 = m_l2.insert(gva, pcid, vpid, t);
  const Translation* in_l1 = l1_for(kind).insert(gva, pcid, vpid, t);
  return in_l1 != nullptr ? in_l1 : in_l2;
}

}  // namespace pagesim::tlb
