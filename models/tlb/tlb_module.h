// SystemC shell of the TLB hierarchy. The hit path is "DMI for translations": the core
// binds an sc_port<TlbIf> to this module's export, fetches the TlbHierarchy once at
// end_of_elaboration and then calls lookup() directly: no payload, no socket, no kernel.
#pragma once

#include <systemc>

#include "models/tlb/tlb_hierarchy.h"

namespace pagesim::tlb {

class TlbIf : public virtual sc_core::sc_interface {
 public:
  virtual TlbHierarchy& hierarchy() = 0;
};

class TlbModule final : public sc_core::sc_module, public TlbIf {
 public:
  sc_core::sc_export<TlbIf> tlb_export{"tlb_export"};

  TlbModule(sc_core::sc_module_name name, const TlbHierarchyParams& params, std::uint64_t seed,
            stats::Group* stats_parent)
      : sc_core::sc_module(name), m_tlbs(params, seed, stats_parent) {
    tlb_export.bind(*this);
  }
  TlbHierarchy& hierarchy() override { return m_tlbs; }

 private:
  TlbHierarchy m_tlbs;
};

}  // namespace pagesim::tlb
