// SystemC shell of the native OS model: the page-fault handler the core traps into.
// Faults are rare next to accesses, so the core calls through an sc_port<OsIf> (one
// virtual call) rather than a transaction.
#pragma once

#include <systemc>

#include "models/os/native_os.h"

namespace pagesim::os {

class OsIf : public virtual sc_core::sc_interface {
 public:
  virtual Hpa address_space_root(std::uint16_t asid) = 0;
  virtual Cycles handle_page_fault(std::uint16_t asid, Gva gva, AccessKind kind) = 0;
  // `!ptewrite <gva> unmap|remap`, `!exit <asid>`: the kernel's own changes
  // (PageTableOs::unmap, remap, destroy_address_space). The caller flushes what the
  // architecture asks (the trace's !invlpg; the PCID at teardown).
  virtual void unmap(std::uint16_t asid, Gva gva) = 0;
  virtual void remap(std::uint16_t asid, Gva gva) = 0;
  virtual void destroy_address_space(std::uint16_t asid) = 0;
};

class OsModule final : public sc_core::sc_module, public OsIf {
 public:
  sc_core::sc_export<OsIf> os_export{"os_export"};

  OsModule(sc_core::sc_module_name name, const OsParams& params, unsigned levels,
           mem::PhysicalMemory& memory, mem::FrameAllocator& frames, stats::Group* stats_parent)
      : sc_core::sc_module(name), m_os(params, levels, memory, frames, stats_parent) {
    os_export.bind(*this);
  }
  Hpa address_space_root(std::uint16_t asid) override { return m_os.address_space_root(asid); }
  Cycles handle_page_fault(std::uint16_t asid, Gva gva, AccessKind kind) override {
    return m_os.handle_page_fault(asid, gva, kind);
  }
  void unmap(std::uint16_t asid, Gva gva) override { m_os.unmap(asid, gva); }
  void remap(std::uint16_t asid, Gva gva) override { m_os.remap(asid, gva); }
  void destroy_address_space(std::uint16_t asid) override { m_os.destroy_address_space(asid); }

 private:
  NativeOs m_os;
};

}  // namespace pagesim::os
