#include "models/tlb/tlb_hierarchy.h"

namespace pagesim::tlb {

TlbHierarchy::TlbHierarchy(const TlbHierarchyParams& p, std::uint64_t seed, stats::Group* parent)
    : m_l1i(p.l1i, derive_seed(seed, 10), parent, "tlb.l1i"),
      m_l1d(p.l1d, derive_seed(seed, 11), parent, "tlb.l1d"),
      m_l2(p.l2, derive_seed(seed, 12), parent, "tlb.l2") {}

TlbHierarchy::Result TlbHierarchy::probe(AccessKind kind, Gva gva, std::uint16_t pcid,
                                         std::uint16_t vpid) const {
  const Tlb& l1 = l1_for(kind);
  Cycles latency = l1.latency();
  if (const Translation* e = l1.probe(gva, pcid, vpid)) {
    return {e, latency, 1};
  }
  latency += m_l2.latency();
  if (const Translation* e = m_l2.probe(gva, pcid, vpid)) {
    return {e, latency, 2};
  }
  return {nullptr, latency, 0};
}

void TlbHierarchy::invalidate_all() {
  for (Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
    t->invalidate_all();
  }
}

void TlbHierarchy::invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid) {
  for (Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
    t->invalidate_pcid(pcid, vpid);
  }
}

void TlbHierarchy::invalidate_page(Gva gva, std::uint16_t pcid, std::uint16_t vpid) {
  for (Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
    t->invalidate_page(gva, pcid, vpid);
  }
}

void TlbHierarchy::invalidate_page_vpid(Gva gva, std::uint16_t vpid) {
  for (Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
    t->invalidate_page_vpid(gva, vpid);
  }
}

void TlbHierarchy::invalidate_vpid(std::uint16_t vpid) {
  for (Tlb* t : {&m_l1i, &m_l1d, &m_l2}) {
    t->invalidate_vpid(vpid);
  }
}

}  // namespace pagesim::tlb
