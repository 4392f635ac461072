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
    throw std::logic_error(std::string("guest page-table access at gpa ") + buf +
                           ": the GPA is in no memslot (MMIO), so the guest cannot keep page "
                           "tables there");
  }
  return leaf->hpa_of(gpa);
}

}  // namespace pagesim::host
