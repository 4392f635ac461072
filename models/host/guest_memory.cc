#include "models/host/guest_memory.h"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "models/host/hypervisor.h"

namespace pagesim::host {

Hpa GuestPhysicalMemory::fault_in(Gpa gpa, AccessKind kind) {
  const ViolationResult v = m_hypervisor.handle_ept_violation(gpa, kind);
  m_cycles += v.cycles;
  ++m_violations;
  const auto leaf = m_ept.lookup_debug(gpa);
  if (!leaf) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(gpa.value()));
    // Reachable from a trace: a slot deleted or moved under the guest's page-table
    // frames. A real guest kernel would crash here; the model stops with the reason.
    throw std::runtime_error(std::string("the guest kernel's page-table access at GPA ") + buf +
                             " is in no memslot (MMIO: deleted or moved by !memslot?); a "
                             "guest kernel cannot keep page tables there");
  }
  return leaf->hpa_of(gpa);
}

}  // namespace pagesim::host
