#include "sim/page_life.h"

#include "base/hex.h"
#include "base/page_size.h"

namespace pagesim {
namespace {

char kind_letter(AccessKind k) {
  return k == AccessKind::kRead ? 'R' : k == AccessKind::kWrite ? 'W' : 'X';
}

}  // namespace

std::ostream& PageLife::line() {
  m_seen = true;
  return m_out << "page-life: record " << m_record << "  ";
}

void PageLife::tlb_miss(std::uint64_t record, AccessKind kind, Gva gva, std::uint16_t pcid,
                        const char* why) {
  m_record = record;
  line() << kind_letter(kind) << ' ' << hex(gva.value());
  if (pcid != 0) {
    m_out << " (PCID " << pcid << ")";
  }
  m_out << "  " << why << ": page walk\n";
}

void PageLife::page_fault(unsigned level, Cycles cycles) {
  line() << "page fault at level " << level << ": the kernel maps the page (" << cycles.count()
         << " cycles)\n";
}

void PageLife::guest_page_fault(Gva gva, unsigned level, unsigned exits, Cycles cycles) {
  line() << "guest page fault at level " << level << " for " << hex(gva.value())
         << ": the guest kernel maps the page";
  if (exits != 0) {
    m_out << " (its page-table accesses raised " << exits
          << (m_shadow != nullptr ? " VM exit" : " EPT violation") << (exits == 1 ? "" : "s")
          << ")";
  }
  m_out << ", " << cycles.count() << " cycles\n";
}

void PageLife::shadow_page_fault(Gva gva, const shadow::ShadowMmu::Fault& fault) {
  line() << "shadow page fault for " << hex(gva.value()) << " (VM exit; KVM walks the guest "
         << "table in software): ";
  using O = shadow::ShadowMmu::Fault::Outcome;
  switch (fault.outcome) {
    case O::kGuestFault:
      m_out << "the guest does not map it (level " << fault.guest_level
            << "): reflected to the guest";
      break;
    case O::kMmio:
      m_out << "GPA " << hex(fault.gpa.value()) << " is in no writable memslot: MMIO, emulated";
      break;
    case O::kEmulated:
      m_out << "GPA " << hex(fault.gpa.value())
            << " is a guest page table KVM write-protects: the store is emulated";
      break;
    case O::kFixed:
      m_out << "GPA " << hex(fault.gpa.value());
      if (m_shadow != nullptr) {
        if (const host::Memslot* slot = m_shadow->vmm().memslots().find(fault.gpa)) {
          m_out << " in memslot " << slot->id << " HVA " << hex(slot->to_hva(fault.gpa).value());
        }
      }
      m_out << (fault.host_fault ? ", host page fault" : ", host page present") << ", shadow leaf "
            << page_size_name(fault.size);
      if (fault.pages_created != 0) {
        m_out << " (" << fault.pages_created << " shadow page"
              << (fault.pages_created == 1 ? "" : "s") << " created)";
      }
      break;
  }
  m_out << ", " << fault.cycles.count() << " cycles\n";
}

void PageLife::ept_violation(const walker::NestedWalkResult& walk, const host::ViolationResult& v) {
  line() << "EPT violation on GPA " << hex(walk.gpa.value()) << " (";
  if (walk.outcome == walker::NestedWalkResult::Outcome::kOk) {
    m_out << "a write through a leaf without W";
  } else if (walk.violation_on_guest_table) {
    m_out << "the guest level-" << walk.violation_guest_level << " table";
  } else {
    m_out << "the data";
  }
  m_out << "): ";
  using O = host::ViolationResult::Outcome;
  if (v.outcome == O::kMmio) {
    m_out << "no writable memslot, an MMIO exit (emulated), " << v.cycles.count() << " cycles\n";
    return;
  }
  if (v.outcome == O::kSpurious) {
    m_out << "the leaf is there already (spurious), " << v.cycles.count() << " cycles\n";
    return;
  }
  if (m_machine != nullptr) {
    const host::Hypervisor& hv = m_machine->hypervisor();
    if (const host::Memslot* slot = hv.memslots().find(walk.gpa)) {
      m_out << "memslot " << slot->id << " HVA " << hex(slot->to_hva(walk.gpa).value()) << ", ";
    }
  }
  if (m_machine != nullptr && !walk.violation_on_guest_table) {
    // Follow the host page behind the data from now on: aging, eviction, refault.
    host::Hypervisor& hv = m_machine->hypervisor();
    if (const auto hva = hv.hva_of(walk.gpa)) {
      hv.vmm().watch(*hva, this);
    }
  }
  m_out << (v.host_fault ? "host page fault, " : "host page present, ") << "EPT leaf "
        << page_size_name(v.size) << " at GPA " << hex(v.leaf_base.value());
  if (m_machine != nullptr) {
    if (const auto leaf = m_machine->hypervisor().ept().lookup_debug(walk.gpa)) {
      m_out << " -> HPA " << hex(leaf->page_base.value());
    }
  }
  m_out << ", " << v.cycles.count() << " cycles\n";
}

void PageLife::filled(Gva gva, const Translation& walked, const Translation* held) {
  line() << "TLB fill " << hex(gva.value()) << " -> HPA " << hex(walked.hpa_of(gva.value()).value())
         << " (" << page_size_name(walked.size) << " page";
  if (held == nullptr) {
    m_out << ", no TLB array holds that size: not cached";
  } else if (held->size != walked.size) {
    m_out << ", held splintered as " << page_size_name(held->size);
  }
  m_out << (walked.writable ? ", W" : ", read-only") << (walked.dirty ? ", D" : "") << ")\n";
}

void PageLife::mmio(Gva gva) {
  line() << hex(gva.value()) << " is MMIO: the access was emulated, nothing enters the TLB\n";
}

void PageLife::invlpg(std::uint64_t record) {
  m_record = record;
  line() << "INVLPG: the page's TLB entries and the PCID's paging-structure-cache entries "
            "dropped\n";
}

void PageLife::memslot_zap(std::uint64_t record, const char* what, host::GpaRange zapped) {
  m_record = record;
  line() << "!memslot " << what << ": the " << (m_shadow != nullptr ? "shadow" : "EPT")
         << " entries of GPA [" << hex(zapped.begin.value()) << ", " << hex(zapped.end.value())
         << ") zapped; the VM's TLB entries flushed" << (m_shadow != nullptr ? "" : " (INVEPT)")
         << "\n";
}

void PageLife::host_aged(Hva page, bool young, bool cleared) {
  if (!cleared) {
    line() << "host reclaim scans the host page (HVA " << hex(page.value()) << "): test_young says "
           << (young ? "young" : "not young") << "\n";
  } else if (young) {
    line() << "host reclaim clears its accessed flags (clear_young): a second chance\n";
  }
}

void PageLife::host_evicted(Hva page, Hpa frame, bool swapped, bool zeroed, std::uint64_t zapped) {
  line() << "host " << (zeroed ? "discards" : "evicts") << " the page (HVA " << hex(page.value())
         << ", HPA " << hex(frame.value()) << "): invalidate_range zapped " << zapped
         << (m_shadow != nullptr ? " shadow entries" : " EPT leaves")
         << (zapped != 0 ? ", the VM's TLBs shot down" : "") << ", "
         << (zeroed    ? "freed (reads back as zeros)"
             : swapped ? "written to swap, freed"
                       : "clean with a swap copy: dropped, freed")
         << "\n";
}

void PageLife::host_unmapped(Hva page, Hpa frame, std::uint64_t zapped) {
  line() << "host unmaps the page (HVA " << hex(page.value()) << ", HPA " << hex(frame.value())
         << "): invalidate_range zapped " << zapped
         << (m_shadow != nullptr ? " shadow entries" : " EPT leaves")
         << (zapped != 0 ? ", the VM's TLBs shot down" : "")
         << ", kept in the page cache (shared memory)\n";
}

void PageLife::host_refault(Hva page, Hpa frame, bool swap_in) {
  line() << "host refault at HVA " << hex(page.value()) << ": "
         << (swap_in ? "swapped in" : "zero-filled") << " to HPA "
         << hex(frame.page_base(12).value()) << "\n";
}

void PageLife::finish() {
  m_out << "page-life: " << m_hits << " further accesses hit the TLB"
        << (m_seen ? "" : " (the trace never missed on this page)") << "\n";
}

}  // namespace pagesim
