// The guest kernel's own loads and stores of its page tables, by GPA, in shadow mode: what
// the guest OS model (os::PageTableOs<Gva, Gpa, ShadowGuestMemory, ...>) reads and writes.
//
// The guest kernel reaches its tables through its own mappings, which the hardware
// translates with shadow entries like any other; those mappings are not modelled, only two
// consequences of them:
//  - A GPA whose VMM page is not resident (never touched, or evicted by the host's
//    reclaim): the kernel's access takes a shadow page fault, whose handler has the host
//    fault the page in (hva_to_pfn -> VmmMemory::fault_in: an evicted page refaults, read
//    back from swap with its entries). One exit each (vmexits.page_fault,
//    shadow.kernel_faults), its cost vmexit.latency + shadow.page_fault_latency + the host
//    fault's (direct reclaim and the swap-in included). (nested mode's analogue: the EPT
//    violations of GuestPhysicalMemory.) Every access looks the page up anew: no HPA is
//    kept across accesses, since any fault may evict another page.
//  - A store to a write-protected guest page table (a page with shadow pages): handed to
//    ShadowMmu::guest_table_write after it lands (emulated, or the page goes unsync), and
//    zeroing such a frame to ShadowMmu::guest_frame_zeroed.
// The cycles of both accumulate here; the caller drains them with take_cycles() and charges
// them to the guest operation that caused them (a guest page fault, a `!ptewrite`, an
// `!exit`).
//
// A page-table GPA in no memslot arises only when a trace deletes or moves the slot under
// the guest's tables (the allocator's frames lie in the RAM ranges at boot): it throws
// std::runtime_error saying so, as nested mode's GuestPhysicalMemory does.
#pragma once

#include <cstdint>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "models/mem/physical_memory.h"
#include "models/shadow/shadow_vmm.h"

namespace pagesim::shadow {

class ShadowMmu;

class ShadowGuestMemory {
 public:
  // Both must outlive this; attach() the MMU before the first access.
  ShadowGuestMemory(ShadowVmm& vmm, mem::PhysicalMemory& memory) : m_vmm(vmm), m_memory(memory) {}
  ShadowGuestMemory(const ShadowGuestMemory&) = delete;
  ShadowGuestMemory& operator=(const ShadowGuestMemory&) = delete;

  // The MMU whose write protection applies and which counts the exits.
  void attach(ShadowMmu& mmu) { m_mmu = &mmu; }

  // os::PageTableMemory<ShadowGuestMemory, Gpa>.
  std::uint64_t read_u64(Gpa gpa) { return m_memory.read_u64(hpa_of(gpa, AccessKind::kRead)); }
  void write_u64(Gpa gpa, std::uint64_t value);
  void zero_frame(Gpa frame_base);

  // The cycles charged since the last call; resets them.
  Cycles take_cycles() {
    const Cycles c = m_cycles;
    m_cycles = Cycles();
    return c;
  }
  // Exits these accesses caused, in all: kernel faults and write-protection exits.
  std::uint64_t exits() const { return m_exits; }

 private:
  Hpa hpa_of(Gpa gpa, AccessKind kind);
  void charge(Cycles c) {
    if (c != Cycles()) {
      ++m_exits;
      m_cycles += c;
    }
  }

  ShadowVmm& m_vmm;
  mem::PhysicalMemory& m_memory;
  ShadowMmu* m_mmu = nullptr;
  Cycles m_cycles;
  std::uint64_t m_exits = 0;
};

}  // namespace pagesim::shadow
