#include "models/machine/nested_machine.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "base/hex.h"

namespace pagesim::host {

// Inline in resolve (once per touch).
[[gnu::always_inline]] inline unsigned NestedMachine::drain(TouchResult& t) {
  GuestPhysicalMemory& gm = m_hypervisor.guest_memory();
  const std::uint64_t before = m_drained_violations;
  m_drained_violations = gm.violations();
  t.cycles += gm.take_cycles();
  return static_cast<unsigned>(m_drained_violations - before);
}

TouchResult NestedMachine::touch(Gva gva, AccessKind kind, std::uint16_t pcid,
                                 TouchObserver* observer) {
  TouchResult t = resolve(gva, kind, pcid, observer);
  // The host's shootdowns during the touch: their cost, and the TLB flush.
  hostmm::VmmMemory& vmm = m_hypervisor.vmm();
  const Cycles shootdowns = vmm.take_pending_cycles();
  t.cycles += shootdowns;
  if (vmm.take_flush()) {
    t.flush = TlbFlush::all();
  }
  return t;
}

// Inline in touch, its one caller.
[[gnu::always_inline]] inline TouchResult NestedMachine::resolve(Gva gva, AccessKind kind,
                                                                 std::uint16_t pcid,
                                                                 TouchObserver* observer) {
  TouchResult t;
  const Gpa root = m_guest_os.address_space_root(pcid);
  t.table_violations += drain(t);
  const walker::NestedWalkRequest request{.guest_root = root,
                                          .ept_root = m_hypervisor.ept_root(),
                                          .gva = gva,
                                          .kind = kind,
                                          .pcid = pcid,
                                          .vpid = kVpid};
  // Each fault handled maps something new: at most a guest fault and one violation per
  // guest table and data page. Only a host too small to hold the pages of one walk at
  // once (the guest's tables and the data page, each faulted in evicting another) can
  // take more: the walk then never completes, on hardware as here, and the touch stops
  // with the host's memory error. The GPAs mapped by this touch tell it: one mapped
  // again was evicted by the touch's own faults.
  std::array<std::uint64_t, kMaxWalks> mapped;  // [0, mapped_count) only: no zeroing per touch
  unsigned mapped_count = 0;
  unsigned refaults = 0;
  for (unsigned attempt = 0; attempt < kMaxWalks; ++attempt) {
    if (attempt != 0) {
      t.walk = walker::NestedWalkResult{};  // walk() fills a default result
    }
    m_walker.walk(request, t.walk);
    ++t.walks;
    t.walk_cycles += t.walk.cycles;
    t.cycles += t.walk.cycles;
    switch (t.walk.outcome) {
      case walker::NestedWalkResult::Outcome::kOk: {
        if (kind != AccessKind::kWrite || t.walk.translation.writable) {
          t.outcome = TouchResult::Outcome::kOk;
          t.translation = t.walk.translation;
          return t;
        }
        // A store through a leaf without W: the guest kernel maps every page writable,
        // so the EPT leaf lacks it (a read-only memslot). An EPT violation, which KVM
        // emulates as an MMIO write (nothing mapped).
        const ViolationResult v = m_hypervisor.handle_ept_violation(t.walk.gpa, kind);
        t.cycles += v.cycles;
        ++t.ept_violations;
        if (observer != nullptr) {
          observer->ept_violation(t.walk, v);
        }
        if (v.outcome != ViolationResult::Outcome::kMmio) {
          throw std::logic_error(
              "nested machine: a write through a leaf without W was not "
              "an MMIO exit");
        }
        t.outcome = TouchResult::Outcome::kMmio;
        return t;
      }
      case walker::NestedWalkResult::Outcome::kGuestPageFault: {
        const Cycles before = t.cycles;
        t.cycles += m_guest_os.handle_page_fault(pcid, gva, kind);
        ++t.guest_faults;
        const unsigned table_violations = drain(t);
        t.table_violations += table_violations;
        if (observer != nullptr) {
          observer->guest_page_fault(gva, t.walk.fault_level, table_violations, t.cycles - before);
        }
        break;
      }
      case walker::NestedWalkResult::Outcome::kEptViolation: {
        // A guest table's entry is read (the walker's A/D update aside); the data GPA is
        // accessed as the core asked.
        const AccessKind violation_kind =
            t.walk.violation_on_guest_table ? AccessKind::kRead : kind;
        const ViolationResult v = m_hypervisor.handle_ept_violation(t.walk.gpa, violation_kind);
        t.cycles += v.cycles;
        ++t.ept_violations;
        t.host_faults += v.host_fault ? 1 : 0;
        if (v.outcome == ViolationResult::Outcome::kMapped) {
          const std::uint64_t page = t.walk.gpa.value() >> 12;
          refaults += std::count(mapped.begin(), mapped.begin() + mapped_count, page) != 0;
          mapped[mapped_count++] = page;
        }
        if (observer != nullptr) {
          observer->ept_violation(t.walk, v);
        }
        if (v.outcome == ViolationResult::Outcome::kMmio) {
          t.outcome = TouchResult::Outcome::kMmio;
          return t;
        }
        break;
      }
    }
  }
  if (refaults != 0) {
    hostmm::HostMm& mm = m_host.mm();
    throw mem::OutOfMemory(
        "host memory exhausted: the translation of GVA " + hex(gva.value()) + " took " +
        std::to_string(kMaxWalks) + " walks, its EPT violations faulting in " +
        std::to_string(mapped_count) + " guest pages of which " + std::to_string(refaults) +
        " had been evicted again by the walk's own faults (the guest's page tables and the "
        "data page do not fit at once; " +
        std::to_string(m_host.frames().free_bytes()) + " bytes free, swap " +
        std::to_string(mm.swap().used_pages()) + " of " +
        std::to_string(mm.swap().capacity_pages()) +
        " pages used): raise host.memory or host.swap");
  }
  throw std::logic_error("nested machine: the translation of GVA " + hex(gva.value()) +
                         " did not converge in " + std::to_string(kMaxWalks) +
                         " walks (a model error)");
}

machine::EventResult NestedMachine::handle(const machine::GuestEvent& event) {
  using machine::GuestEvent;
  machine::EventResult r;
  switch (event.kind) {
    case GuestEvent::Kind::kCr3:
      if (event.flush) {
        m_walker.invalidate_pcid(event.pcid, kVpid);  // the guest's own CR3 write, no exit
      }
      break;
    case GuestEvent::Kind::kInvlpg:
      m_walker.invlpg(event.gva, event.pcid, kVpid);
      break;
    case GuestEvent::Kind::kPteUnmap:
      (void)m_guest_os.unmap(event.pcid, event.gva);
      break;
    case GuestEvent::Kind::kPteRemap:
      (void)m_guest_os.remap(event.pcid, event.gva);
      break;
    case GuestEvent::Kind::kExit:
      // Every vCPU's entries of the PCID go (the guest kernel flushes it on each CPU before
      // another mm uses it).
      r.flush = TlbFlush::one_pcid(event.asid);
      m_guest_os.destroy_address_space(event.asid);
      m_walker.invalidate_pcid_every_cpu(event.asid, kVpid);
      break;
    case GuestEvent::Kind::kMemslotAdd:
      // KVM_SET_USER_MEMORY_REGION from the VMM: adding maps nothing.
      m_hypervisor.add_memslot(event.slot, event.gpa, event.bytes, event.readonly);
      break;
    case GuestEvent::Kind::kMemslotDelete:
    case GuestEvent::Kind::kMemslotMove:
      // The slot's EPT leaves zapped (kvm_arch_flush_shadow_memslot), the VM's TLBs flushed
      // (kvm_flush_remote_tlbs: INVEPT single context; the walker's caches here).
      r.zapped = event.kind == GuestEvent::Kind::kMemslotDelete
                     ? remove_memslot(event.slot)
                     : move_memslot(event.slot, event.gpa);
      r.flush = TlbFlush::all();
      break;
  }
  r.requests = take_requests();
  return r;
}

GpaRange NestedMachine::remove_memslot(std::uint32_t id) {
  const GpaRange zapped = m_hypervisor.remove_memslot(id);
  m_walker.invept(m_hypervisor.ept_root());
  return zapped;
}

GpaRange NestedMachine::move_memslot(std::uint32_t id, Gpa new_base) {
  const GpaRange zapped = m_hypervisor.move_memslot(id, new_base);
  m_walker.invept(m_hypervisor.ept_root());
  return zapped;
}

walker::NestedWalkResult NestedMachine::translate_debug(Gva gva, std::uint16_t pcid,
                                                        bool access_tracked) {
  return m_walker.translate_debug({.guest_root = m_guest_os.address_space_root(pcid),
                                   .ept_root = m_hypervisor.ept_root(),
                                   .gva = gva,
                                   .kind = AccessKind::kRead,
                                   .pcid = pcid,
                                   .vpid = kVpid},
                                  access_tracked);
}

machine::CheckReference NestedMachine::reference_translation(Gva gva, std::uint16_t pcid,
                                                             const Translation& /*got*/) {
  walker::NestedWalkResult w = translate_debug(gva, pcid);
  if (w.outcome == walker::NestedWalkResult::Outcome::kEptViolation && !m_params.ept.ad_bits) {
    // The host's aging marked a leaf for access tracking without a flush
    // (kvm_mmu_notifier_clear_young): an entry cached before still reaches its frame,
    // which the leaf holds until an invalidation zaps it and flushes.
    w = translate_debug(gva, pcid, /*access_tracked=*/true);
  }
  machine::CheckReference r;
  if (w.outcome == walker::NestedWalkResult::Outcome::kOk) {
    r.want = w.translation;
  }
  return r;
}

std::string NestedMachine::audit_free_frames(const mem::FrameAllocator& frames,
                                             const std::string& of) {
  std::string why;
  m_walker.for_each_cached_hpa([&](Hpa frame, const char* structure) {
    machine::note_free_frame(why, frames, frame, std::string("the ") + structure + of);
  });
  m_hypervisor.ept().for_each_leaf([&](Gpa gpa, const ept::EptMapping& m) {
    machine::note_free_frame(why, frames, m.page_base,
                             "the EPT leaf" + of + " for GPA " + hex(gpa.value()));
  });
  return why;
}

}  // namespace pagesim::host
