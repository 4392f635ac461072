// The guest kernel's own loads and stores of its page tables, by GPA: what the guest OS
// model (os::PageTableOs<Gva, Gpa, GuestPhysicalMemory, ...>) reads and writes.
//
// On hardware the guest kernel's accesses to its page-table pages are ordinary guest memory
// accesses, translated by the EPT. So here each access looks the GPA up in the EPT
// (EptTables::lookup_debug, a software walk with no side effects) and reads or writes host
// PhysicalMemory at the HPA found. A GPA with no EPT leaf is an EPT violation, handled by
// the Hypervisor exactly as one raised by the 2D walker (VM exit, memslot, host fault, EPT
// leaf): a guest writing a fresh page-table page faults it in. The cycles of those
// violations accumulate here; the caller drains them with take_cycles() and charges them to
// the guest page fault whose table writes caused them.
//
// Not modelled: the TLB and the timing of the guest kernel's own accesses (a guest page
// fault's cost is guest.page_fault_latency plus these violations). A page-table GPA in no
// memslot (a guest table in MMIO space) arises only when a trace deletes or moves the slot
// under the guest's tables (the allocator's frames lie in the RAM ranges at boot): it
// throws std::runtime_error saying so.
#pragma once

#include <cstdint>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "models/ept/ept_tables.h"
#include "models/mem/physical_memory.h"

namespace pagesim::host {

class Hypervisor;

class GuestPhysicalMemory {
 public:
  // All three must outlive this object (the Hypervisor owns it).
  GuestPhysicalMemory(Hypervisor& hypervisor, const ept::EptTables& ept,
                      mem::PhysicalMemory& memory)
      : m_hypervisor(hypervisor), m_ept(ept), m_memory(memory) {}
  GuestPhysicalMemory(const GuestPhysicalMemory&) = delete;
  GuestPhysicalMemory& operator=(const GuestPhysicalMemory&) = delete;

  // os::PageTableMemory<GuestPhysicalMemory, Gpa>: 8-byte aligned entry accesses, and
  // zeroing a 4 KiB frame (a store to each of its lines: a write access).
  std::uint64_t read_u64(Gpa gpa) { return m_memory.read_u64(hpa_of(gpa, AccessKind::kRead)); }
  void write_u64(Gpa gpa, std::uint64_t value) {
    m_memory.write_u64(hpa_of(gpa, AccessKind::kWrite), value);
  }
  void zero_frame(Gpa frame_base) { m_memory.zero_frame(hpa_of(frame_base, AccessKind::kWrite)); }

  // The HPA of `gpa`, raising (and handling) an EPT violation first when it has no EPT leaf.
  Hpa hpa_of(Gpa gpa, AccessKind kind) {
    if (const auto leaf = m_ept.lookup_debug(gpa)) {
      return leaf->hpa_of(gpa);
    }
    return fault_in(gpa, kind);
  }

  // The cycles of the EPT violations raised since the last call; resets them to 0.
  Cycles take_cycles() {
    const Cycles c = m_cycles;
    m_cycles = Cycles();
    return c;
  }
  // EPT violations these accesses raised, in all (for tests).
  std::uint64_t violations() const { return m_violations; }

 private:
  Hpa fault_in(Gpa gpa, AccessKind kind);  // guest_memory.cc

  Hypervisor& m_hypervisor;
  const ept::EptTables& m_ept;
  mem::PhysicalMemory& m_memory;
  Cycles m_cycles;
  std::uint64_t m_violations = 0;
};

}  // namespace pagesim::host
