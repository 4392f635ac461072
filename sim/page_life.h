// The life of one page (replay --trace-page ADDRESS): every step the machine takes for the
// 4 KiB guest-virtual page holding ADDRESS, printed as it happens, one line each:
//
//   record 1  R 0x7f0000001000  TLB miss (L1d, STLB): page walk
//   record 1  guest page fault at level 4: the guest kernel maps the page (3 EPT
//             violations for its page-table pages)
//   record 1  EPT violation on GPA 0x... (the data): memslot 2 HVA 0x..., host page fault,
//             EPT leaf 4K 0x... -> HPA 0x...
//   record 1  TLB fill GVA 0x7f0000001000 -> HPA 0x... (4K, W, D)
//   record 7  INVLPG drops the page's TLB entries
//
// shadow mode: shadow page faults (what KVM did: fixed with the leaf's GPA and size and a
// host fault, reflected to the guest, or MMIO) and the guest's own faults in between.
// nested mode, under host memory pressure: the host's aging of the page behind the data
// (test_young, clear_young), its eviction (invalidate_range, swap) and its refault.
// native mode has no guest or EPT: its steps are the TLB, the walk and the page fault.
// TLB hits are counted, not printed (one line at the end says how many).
#pragma once

#include <cstdint>
#include <ostream>

#include "base/access.h"
#include "base/address.h"
#include "base/translation.h"
#include "models/hostmm/vmm_memory.h"
#include "models/machine/native_machine.h"
#include "models/machine/nested_machine.h"
#include "models/machine/shadow_machine.h"

namespace pagesim {

class PageLife final : public machine::NativeTouchObserver,
                       public host::TouchObserver,
                       public shadow::TouchObserver,
                       public hostmm::HostPageObserver {
 public:
  PageLife(Gva address, std::ostream& out) : m_page(address.value() >> 12), m_out(out) {}

  // The machine whose hypervisor and EPT give HVAs and HPAs (nested mode; null: native).
  void set_machine(host::NestedMachine* machine) { m_machine = machine; }
  // The shadow machine (shadow mode).
  void set_shadow_machine(shadow::ShadowMachine* machine) { m_shadow = machine; }
  // The record the machine is at (host reclaim acts during other pages' records).
  void at(std::uint64_t record) { m_record = record; }
  // Does an access to `gva` touch the page?
  bool covers(Gva gva) const { return (gva.value() >> 12) == m_page; }

  // The core's steps for an access to the page; `record` counts trace records from 1.
  void tlb_hit(std::uint64_t record) {
    m_record = record;
    ++m_hits;
  }
  void tlb_miss(std::uint64_t record, AccessKind kind, Gva gva, std::uint16_t pcid,
                const char* why);
  void filled(Gva gva, const Translation& walked, const Translation* held);
  void mmio(Gva gva);
  void invlpg(std::uint64_t record);
  void memslot_zap(std::uint64_t record, const char* what, host::GpaRange zapped);
  // The last line: accesses that hit the TLB without a step shown.
  void finish();

  // machine::NativeTouchObserver (native mode): the OS's page fault.
  void page_fault(unsigned level, Cycles cycles) override;
  // host::TouchObserver (nested mode) and shadow::TouchObserver (shadow mode): the guest
  // kernel's fault; `exits` are the EPT violations (nested) or VM exits (shadow) its own
  // table accesses caused.
  void guest_page_fault(Gva gva, unsigned level, unsigned exits, Cycles cycles) override;
  // shadow::TouchObserver.
  void shadow_page_fault(Gva gva, const shadow::ShadowMmu::Fault& fault) override;
  void ept_violation(const walker::NestedWalkResult& walk, const host::ViolationResult& v) override;
  // hostmm::HostPageObserver (nested mode, once the page's data is mapped): the host's
  // aging, eviction and refault of the host page behind it.
  void host_aged(Hva page, bool young, bool cleared) override;
  void host_evicted(Hva page, Hpa frame, bool swapped, bool zeroed, std::uint64_t zapped) override;
  void host_unmapped(Hva page, Hpa frame, std::uint64_t zapped) override;
  void host_refault(Hva page, Hpa frame, bool swap_in) override;

 private:
  std::ostream& line();

  std::uint64_t m_page;
  std::ostream& m_out;
  host::NestedMachine* m_machine = nullptr;
  shadow::ShadowMachine* m_shadow = nullptr;
  std::uint64_t m_record = 0;
  std::uint64_t m_hits = 0;
  bool m_seen = false;
};

}  // namespace pagesim
