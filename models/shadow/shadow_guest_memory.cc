#include "models/shadow/shadow_guest_memory.h"

#include <stdexcept>
#include <string>

#include "base/hex.h"
#include "models/shadow/shadow_mmu.h"

namespace pagesim::shadow {

Hpa ShadowGuestMemory::hpa_of(Gpa gpa, AccessKind kind) {
  Cycles host_cycles;
  bool host_fault = false;
  const auto b = m_vmm.fault_in(gpa, kind, host_cycles, host_fault);
  if (!b) {
    // Reachable from a trace: a slot deleted or moved under the guest's page-table frames.
    // A real guest kernel would crash here; the model stops with the reason.
    throw std::runtime_error("the guest kernel's page-table access at GPA " + hex(gpa.value()) +
                             " is in no memslot (MMIO: deleted or moved by !memslot?); a guest "
                             "kernel cannot keep page tables there");
  }
  if (host_fault) {
    charge(m_mmu->kernel_fault(host_cycles));
  }
  return b->hpa;
}

void ShadowGuestMemory::write_u64(Gpa gpa, std::uint64_t value) {
  m_memory.write_u64(hpa_of(gpa, AccessKind::kWrite), value);
  charge(m_mmu->guest_table_write(gpa));
}

void ShadowGuestMemory::zero_frame(Gpa frame_base) {
  m_memory.zero_frame(hpa_of(frame_base, AccessKind::kWrite));
  charge(m_mmu->guest_frame_zeroed(frame_base));
}

}  // namespace pagesim::shadow
