#include "models/machine/shadow_machine.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/hex.h"
#include "base/translation_check.h"
#include "models/host/kvm_vm.h"
#include "models/paging/pte.h"

// The guest kernel, instantiated once here.
template class pagesim::os::PageTableOs<pagesim::Gva, pagesim::Gpa,
                                        pagesim::shadow::ShadowGuestMemory,
                                        pagesim::mem::GuestFrameAllocator>;

namespace pagesim::shadow {

ShadowMachine::ShadowMachine(const ShadowMachineParams& params, mem::MemoryTiming* timing,
                             stats::Group* parent)
    : ShadowMachine(params,
                    std::make_unique<mem::PhysicalMemory>(
                        params.host.memory.bytes, huge_page_bytes(params.host.memory.bytes)),
                    nullptr, nullptr, timing, parent) {}

ShadowMachine::ShadowMachine(const ShadowMachineParams& params, mem::PhysicalMemory& memory,
                             mem::MemoryTiming* timing, stats::Group* parent)
    : ShadowMachine(params, nullptr, &memory, nullptr, timing, parent) {}

ShadowMachine::ShadowMachine(const ShadowMachineParams& params, hostmm::Host& host,
                             mem::MemoryTiming* timing, stats::Group* parent)
    : ShadowMachine(params, nullptr, &host.memory(), &host, timing, parent) {}

ShadowMachine::ShadowMachine(const ShadowMachineParams& params,
                             std::unique_ptr<mem::PhysicalMemory> own, mem::PhysicalMemory* memory,
                             hostmm::Host* host, mem::MemoryTiming* timing, stats::Group* parent)
    : MachineGround(params.reclaim, params.host.memory.bytes, params.memory_latency, std::move(own),
                    memory, host, timing, parent),
      m_params(params),
      m_exit_stats(m_stats),
      m_vmm(params.vm, params.host, m_host.mm(), m_memory, m_host.frames(), m_stats,
            m_host.stats_parent()),
      m_guest_memory(m_vmm, m_memory),
      m_guest_frames(m_vmm.guest_ram_ranges(), kMiB),
      m_guest_os(params.guest, params.guest_levels, m_guest_memory, m_guest_frames, m_stats,
                 "guest"),
      m_mmu(params.shadow, params.vmexit, params.guest_levels, m_vmm, m_memory, m_host.frames(),
            m_exit_stats, m_stats),
      m_walker(params.walker, params.guest_levels, m_memory, m_timing, m_stats) {
  m_guest_memory.attach(m_mmu);
  // KVM's shadow MMU is the VMM process's secondary MMU: the host's reclaim ages and
  // invalidates its leaves.
  m_vmm.memory().set_notifier(&m_mmu);
  // A huge page split maps its zero-filled pieces to the zero page
  // (VmmMemory::map_unused_to_zero_page): which pieces the guest stored to must be known.
  if (params.reclaim.zero_page && os::thp_page_size(params.host.thp) != PageSize::k4K) {
    m_memory.track_stores();
  }
  if (params.vm.vcpus > 1) {
    m_mmu.set_vcpus(params.vm.vcpus);
    m_walker.set_cpus(params.vm.vcpus);
    m_parked.assign(params.vm.vcpus, ParkedVcpu{});
  }
}

ShadowMachine::~ShadowMachine() = default;

// ---- vCPUs.

void ShadowMachine::switch_cpu(unsigned cpu) {
  if (cpu == m_cpu) {
    return;
  }
  if (cpu >= m_parked.size()) {
    throw std::out_of_range("shadow machine: vCPU " + std::to_string(cpu) + " of " +
                            std::to_string(std::max<std::size_t>(m_parked.size(), 1)));
  }
  m_parked[m_cpu] = {.current = m_current, .started = m_started};
  m_current = m_parked[cpu].current;
  m_started = m_parked[cpu].started;
  m_cpu = cpu;
  m_mmu.switch_vcpu(cpu);
  m_walker.switch_cpu(cpu);
}

machine::IpiExits ShadowMachine::send_ipis(unsigned targets) {
  const host::IpiExitCost c = host::send_ipis(m_params.vm, m_params.vmexit, targets, m_exit_stats);
  return {.exits = c.exits, .cycles = c.cycles};
}

machine::EventResult ShadowMachine::flush_tlb_guest() {
  const std::uint64_t before = m_exit_stats.total.value();
  const Cycles c = m_mmu.flush_tlb_guest();
  const EventResult e = finish(before, c);  // a sync's own flushes reach every vCPU
  m_walker.invalidate_all();                // the guest's TLB in hardware: this vCPU's
  return {.cycles = e.cycles, .flush = e.flush, .requests = {}, .zapped = std::nullopt};
}

// ---- Address spaces.

Gpa ShadowMachine::guest_root(std::uint16_t pcid) {
  if (pcid >= m_guest_roots.size()) {
    m_guest_roots.resize(std::size_t{pcid} + 1, kNoRoot);
  }
  if (m_guest_roots[pcid] == kNoRoot) {
    m_guest_roots[pcid] = m_guest_os.address_space_root(pcid).value();
  }
  return Gpa(m_guest_roots[pcid]);
}

void ShadowMachine::load_guest_memory(Gpa gpa, std::span<const std::uint8_t> bytes) {
  if (gpa.value() % 8 != 0 || bytes.size() % 8 != 0) {
    throw std::invalid_argument("guest image: GPA " + hex(gpa.value()) + " and size " +
                                std::to_string(bytes.size()) + " must be multiples of 8 bytes");
  }
  std::uint64_t done = 0;
  while (done < bytes.size()) {
    const Gpa at = gpa + done;
    Cycles cycles;
    bool host_fault = false;
    const auto b = m_vmm.fault_in(at, AccessKind::kWrite, cycles, host_fault);
    if (!b) {
      throw std::invalid_argument("guest image: GPA " + hex(at.value()) + " is in no memslot");
    }
    const std::uint64_t in_page = std::min<std::uint64_t>(
        bytes.size() - done, page_bytes(PageSize::k4K) - at.page_offset(12));
    for (std::uint64_t i = 0; i < in_page; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, bytes.data() + done + i, 8);
      m_memory.write_u64(b->hpa + i, word);
    }
    done += in_page;
  }
  take_host_flush();  // nothing is mapped yet: no shadow leaf to flush
}

void ShadowMachine::adopt_address_space(std::uint16_t pcid, Gpa root) {
  if (pcid >= m_guest_roots.size()) {
    m_guest_roots.resize(std::size_t{pcid} + 1, kNoRoot);
    m_adopted.resize(std::size_t{pcid} + 1, false);
  }
  if (m_guest_roots[pcid] != kNoRoot) {
    throw std::logic_error("adopt_address_space: address space " + std::to_string(pcid) +
                           " is in use already");
  }
  m_guest_roots[pcid] = root.value();
  m_adopted[pcid] = true;
}

TouchResult ShadowMachine::guest_store_u64(Gva gva, std::uint64_t value, std::uint16_t pcid) {
  TouchResult t = touch(gva, AccessKind::kWrite, pcid);
  if (t.outcome != TouchResult::Outcome::kOk) {
    throw std::runtime_error("guest store to " + hex(gva.value()) +
                             ": emulated by KVM (MMIO or a write-tracked guest table), which "
                             "a guest image's store does not model");
  }
  m_memory.write_u64(t.translation.page_base + gva.page_offset(page_shift(t.translation.size)),
                     value);
  return t;
}

std::optional<Gpa> ShadowMachine::known_guest_root(std::uint16_t pcid) const {
  if (pcid >= m_guest_roots.size() || m_guest_roots[pcid] == kNoRoot) {
    return std::nullopt;
  }
  return Gpa(m_guest_roots[pcid]);
}

void ShadowMachine::flush_walker(const TlbFlush& f) {
  switch (f.scope) {
    case TlbFlush::Scope::kNone:
      return;
    case TlbFlush::Scope::kPage:
      m_walker.invalidate_page(f.gva, f.pcid);
      break;
    case TlbFlush::Scope::kPcid:
      m_walker.invalidate_pcid(f.pcid);
      break;
    case TlbFlush::Scope::kAll:
      flush_every_vcpu();  // kvm_flush_remote_tlbs
      break;
  }
}

void ShadowMachine::flush_every_vcpu() {
  m_walker.invalidate_all_every_cpu();
  m_mmu.tlb_flush_every_vcpu();
}

void ShadowMachine::drain_flush(TlbFlush& into) {
  const TlbFlush f = m_mmu.take_flush();
  flush_walker(f);
  into.merge(f);
}

void ShadowMachine::take_host(Cycles& cycles, TlbFlush& flush) {
  hostmm::VmmMemory& vmm = m_vmm.memory();
  cycles += vmm.take_pending_cycles();
  if (vmm.take_flush()) {
    // The MMU's own flush request for the leaves it zapped was drained into the walker
    // already (drain_flush); the shootdown flushes the same, on every vCPU.
    flush_every_vcpu();
    flush.merge(TlbFlush::all());
  }
}

void ShadowMachine::take_host_flush_only(TlbFlush& flush) {
  if (m_vmm.memory().take_flush()) {
    flush_every_vcpu();
    flush.merge(TlbFlush::all());
  }
}

EventResult ShadowMachine::take_host_flush() {
  EventResult r;
  drain_flush(r.flush);
  take_host(r.cycles, r.flush);
  return r;
}

void ShadowMachine::enter(std::uint16_t pcid, TouchResult& t) {
  if (m_current == pcid) {
    if (!m_mmu.root_loaded()) {
      // The root was zapped: KVM_REQ_MMU_RELOAD at the next VM entry, no exit.
      m_mmu.load_root(guest_root(pcid));
      t.cycles += m_mmu.take_pending_cycles();
    }
    return;
  }
  if (!m_started) {
    // The first root, loaded at the first VM entry (kvm_mmu_load), before the trace.
    const std::uint64_t exits_before = m_guest_memory.exits();
    const Gpa root = guest_root(pcid);
    t.guest_exits += static_cast<unsigned>(m_guest_memory.exits() - exits_before);
    t.cycles += m_guest_memory.take_cycles();
    m_mmu.load_root(root);
    t.cycles += m_mmu.take_pending_cycles();
    m_current = pcid;
    m_started = true;
    drain_flush(t.flush);
    return;
  }
  const EventResult r = cr3_write(pcid);
  t.cycles += r.cycles;
  t.flush.merge(r.flush);
  t.cr3_switch = true;
}

// ---- The miss path.

TouchResult ShadowMachine::touch(Gva gva, AccessKind kind, std::uint16_t pcid,
                                 TouchObserver* observer) {
  TouchResult t = resolve(gva, kind, pcid, observer);
  // The host's shootdowns during the touch (its faults' reclaim): their cost, the flush.
  take_host(t.cycles, t.flush);
  return t;
}

TouchResult ShadowMachine::resolve(Gva gva, AccessKind kind, std::uint16_t pcid,
                                   TouchObserver* observer) {
  TouchResult t;
  if (m_params.shadow.aging && ++m_touches % m_params.shadow.aging_interval == 0) {
    m_mmu.age();
    drain_flush(t.flush);
  }
  if (m_current != pcid || !m_mmu.root_loaded()) {
    enter(pcid, t);
  }
  for (unsigned attempt = 0; attempt < kMaxWalks; ++attempt) {
    if (!m_mmu.root_loaded()) {
      m_mmu.load_root(guest_root(pcid));  // zapped by the last fault's writes: reload
      t.cycles += m_mmu.take_pending_cycles();
    }
    t.walk = m_walker.walk({m_mmu.hardware_root(), gva, kind, pcid});
    ++t.walks;
    t.walk_cycles += t.walk.cycles;
    t.cycles += t.walk.cycles;
    if (t.walk.outcome == walker::WalkResult::Outcome::kOk &&
        (kind != AccessKind::kWrite || t.walk.translation.writable)) {
      t.outcome = TouchResult::Outcome::kOk;
      t.translation = t.walk.translation;
      if (kind == AccessKind::kWrite && m_memory.tracks_stores()) [[unlikely]] {
        m_memory.note_store(t.translation.hpa_of(gva.value()));
      }
      drain_flush(t.flush);
      return t;
    }

    const ShadowMmu::Fault f = m_mmu.page_fault(gva, kind);
    ++t.shadow_faults;
    t.cycles += f.cycles;
    t.host_faults += f.host_fault ? 1 : 0;
    if (observer != nullptr) {
      observer->shadow_page_fault(gva, f);
    }
    switch (f.outcome) {
      case ShadowMmu::Fault::Outcome::kFixed:
        break;
      case ShadowMmu::Fault::Outcome::kMmio:
      case ShadowMmu::Fault::Outcome::kEmulated:  // the store done by KVM's emulator
        t.outcome = TouchResult::Outcome::kMmio;
        drain_flush(t.flush);
        return t;
      case ShadowMmu::Fault::Outcome::kGuestFault: {
        if (pcid < m_adopted.size() && m_adopted[pcid]) {
          throw std::runtime_error("guest image: address space " + std::to_string(pcid) +
                                   " does not map " + hex(gva.value()) + " (level " +
                                   std::to_string(f.guest_level) + " entry not present)");
        }
        const std::uint64_t exits_before = m_guest_memory.exits();
        Cycles c = m_guest_os.handle_page_fault(pcid, gva, kind);
        c += m_guest_memory.take_cycles();
        const auto exits = static_cast<unsigned>(m_guest_memory.exits() - exits_before);
        ++t.guest_faults;
        t.guest_exits += exits;
        t.cycles += c;
        if (observer != nullptr) {
          observer->guest_page_fault(gva, f.guest_level, exits, c);
        }
        break;
      }
    }
    drain_flush(t.flush);  // before the next walk: its caches must not hold zapped tables
  }
  throw std::logic_error("shadow machine: touch did not converge");
}

// ---- Guest events.

EventResult ShadowMachine::finish(std::uint64_t exits_before, Cycles cycles) {
  EventResult r;
  r.cycles = cycles + m_guest_memory.take_cycles();
  r.exits = static_cast<unsigned>(m_exit_stats.total.value() - exits_before);
  drain_flush(r.flush);
  take_host(r.cycles, r.flush);
  return r;
}

EventResult ShadowMachine::cr3_write(std::uint16_t pcid, bool noflush) {
  const std::uint64_t before = m_exit_stats.total.value();
  const Gpa root = guest_root(pcid);  // a new address space's root: the guest kernel's work
  const Cycles c = m_mmu.cr3_write(root, pcid, noflush);
  m_current = pcid;
  m_started = true;
  return finish(before, c);
}

EventResult ShadowMachine::invlpg(Gva gva, std::uint16_t pcid) {
  const std::uint64_t before = m_exit_stats.total.value();
  const Cycles c = m_mmu.invlpg(gva, pcid, known_guest_root(pcid));
  return finish(before, c);
}

EventResult ShadowMachine::pte_write(Gva gva, PteOp op, std::uint16_t pcid) {
  const std::uint64_t before = m_exit_stats.total.value();
  if (op == PteOp::kUnmap) {
    m_guest_os.unmap(pcid, gva);
  } else {
    m_guest_os.remap(pcid, gva);
  }
  return finish(before, Cycles());
}

EventResult ShadowMachine::exit_address_space(std::uint16_t pcid) {
  const std::uint64_t before = m_exit_stats.total.value();
  const std::vector<Gpa> tables = m_guest_os.destroy_address_space(pcid);
  m_mmu.zap_table_pages(tables);
  if (pcid < m_guest_roots.size()) {
    m_guest_roots[pcid] = kNoRoot;
  }
  if (m_current == pcid) {
    m_current.reset();  // the guest runs another address space next (a CR3 write)
  }
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    if (v != m_cpu && m_parked[v].current == pcid) {
      m_parked[v].current.reset();  // so do the other vCPUs that ran it
    }
  }
  return finish(before, Cycles());
}

EventResult ShadowMachine::age() {
  const std::uint64_t before = m_exit_stats.total.value();
  m_mmu.age();
  return finish(before, Cycles());
}

// ---- Memslots.

const host::Memslot& ShadowMachine::add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                                bool readonly, std::optional<Hva> hva) {
  return m_vmm.add_memslot(id, base, bytes, readonly, hva);
}

void ShadowMachine::zap_memslot(const host::Memslot& old) {
  if (m_params.shadow.memslot_zap == MemslotZap::kAll) {
    m_mmu.zap_all_fast();
  } else {
    m_mmu.zap_gpa_range(old.base, old.end());
  }
}

machine::EventResult ShadowMachine::handle(const machine::GuestEvent& event) {
  using Kind = machine::GuestEvent::Kind;
  EventResult e;
  switch (event.kind) {
    case Kind::kCr3:
      e = cr3_write(event.pcid, /*noflush=*/!event.flush);
      break;
    case Kind::kInvlpg:
      e = invlpg(event.gva, event.pcid);
      break;
    case Kind::kPteUnmap:
    case Kind::kPteRemap:
      e = pte_write(event.gva, event.kind == Kind::kPteUnmap ? PteOp::kUnmap : PteOp::kRemap,
                    event.pcid);
      break;
    case Kind::kExit:
      e = exit_address_space(event.asid);
      break;
    case Kind::kMemslotAdd:
      add_memslot(event.slot, event.gpa, event.bytes, event.readonly);
      break;
    case Kind::kMemslotDelete:
    case Kind::kMemslotMove: {
      const MemslotChange c = event.kind == Kind::kMemslotDelete
                                  ? remove_memslot(event.slot)
                                  : move_memslot(event.slot, event.gpa);
      return {.cycles = Cycles(), .flush = c.flush, .requests = {}, .zapped = c.zapped};
    }
  }
  return {.cycles = e.cycles, .flush = e.flush, .requests = {}, .zapped = std::nullopt};
}

MemslotChange ShadowMachine::remove_memslot(std::uint32_t id) {
  const host::Memslot old = m_vmm.remove_memslot(id);
  zap_memslot(old);
  MemslotChange c{host::GpaRange{old.base, old.end()}, TlbFlush::none()};
  drain_flush(c.flush);
  take_host_flush_only(c.flush);
  return c;
}

MemslotChange ShadowMachine::move_memslot(std::uint32_t id, Gpa new_base) {
  const host::Memslot old = m_vmm.move_memslot(id, new_base);
  zap_memslot(old);
  MemslotChange c{host::GpaRange{old.base, old.end()}, TlbFlush::none()};
  drain_flush(c.flush);
  take_host_flush_only(c.flush);
  return c;
}

// ---- Inspection.

std::optional<Translation> ShadowMachine::translate_debug(Gva gva, std::uint16_t pcid) const {
  namespace pte = paging::pte;
  // The guest's walk (PageTableOs::lookup's), each entry read with ShadowVmm::peek_u64: a
  // guest table page the host evicted is read as it will come back, and nothing faults.
  const auto root = known_guest_root(pcid);
  if (!root) {
    return std::nullopt;
  }
  const std::uint64_t va = gva.value();
  std::uint64_t table = root->value() & pte::kAddressMask;
  std::optional<PageSize> guest_size;
  Gpa gpa;
  for (unsigned level = m_params.guest_levels; level >= pte::kPt; --level) {
    const auto raw = m_vmm.peek_u64(Gpa(table | pte::entry_offset(va, level)));
    if (!raw || (*raw & pte::kPresent) == 0) {
      return std::nullopt;
    }
    if (pte::is_leaf(*raw, level)) {
      guest_size = pte::leaf_page_size(level);
      gpa = Gpa((*raw & pte::page_address_mask(*guest_size)) |
                gva.page_offset(page_shift(*guest_size)));
      break;
    }
    table = *raw & pte::kAddressMask;
  }
  if (!guest_size) {
    return std::nullopt;
  }
  const auto backing = m_vmm.resident(gpa);
  if (!backing) {
    return std::nullopt;
  }
  const PageSize host_allows = host::max_mapping_size(*backing->slot, gpa, backing->host_size);
  const PageSize size =
      page_bytes(host_allows) < page_bytes(*guest_size) ? host_allows : *guest_size;
  Translation t;
  t.page_base = backing->hpa.page_base(page_shift(size));
  t.size = size;
  t.writable = !backing->slot->readonly;
  t.user = true;
  t.executable = true;
  t.dirty = false;
  return t;
}

std::optional<Translation> ShadowMachine::shadow_translate_debug(Gva gva,
                                                                 std::uint16_t pcid) const {
  const auto guest = known_guest_root(pcid);
  if (!guest) {
    return std::nullopt;
  }
  const auto root = m_mmu.find_root(*guest);
  if (!root) {
    return std::nullopt;
  }
  return m_walker.translate_debug(*root, gva);
}

bool ShadowMachine::shadows_lost_table(Gva gva, std::uint16_t pcid) const {
  const auto guest = known_guest_root(pcid);
  return guest && m_mmu.shadows_lost_table(*guest, gva);
}

std::vector<ShadowMmu::Mismatch> ShadowMachine::audit(std::uint16_t pcid) const {
  const auto guest = known_guest_root(pcid);
  if (!guest) {
    return {};
  }
  return m_mmu.audit(*guest, [this, pcid](Gva gva) -> std::optional<Hpa> {
    const auto t = translate_debug(gva, pcid);
    if (!t) {
      return std::nullopt;
    }
    return t->hpa_of(gva.value());
  });
}

std::string ShadowMachine::audit_host() const {
  std::string why;
  m_mmu.for_each_leaf([&](const ShadowMmu::Leaf& leaf) {
    if (!why.empty()) {
      return;
    }
    for (std::uint64_t off = 0; off < page_bytes(leaf.size); off += page_bytes(PageSize::k4K)) {
      if (m_host.frames().is_free(leaf.page + off)) {
        why = "shadow leaf " + hex(leaf.spte) + " (gfn " + hex(leaf.gfn) + ") maps the free host " +
              "frame " + hex(leaf.page.value() + off);
        return;
      }
    }
  });
  if (why.empty()) {
    why = m_mmu.audit_rmap();
  }
  return why;
}

machine::CheckReference ShadowMachine::reference_translation(Gva gva, std::uint16_t pcid,
                                                             const Translation& got) {
  // KVM's shadow leaf may be narrower than the guest's rights: read-only until the guest
  // PTE is dirty (write emulation of A/D), never wider and never another page.
  machine::CheckReference r{.want = translate_debug(gva, pcid), .narrower_rights = true};
  if (!translations_agree(gva, got, r.want, r.narrower_rights) && shadows_lost_table(gva, pcid)) {
    // The host discarded a guest page-table page that KVM shadows (MADV_DONTNEED or
    // MADV_REMOVE over guest memory): kvm_unmap_gfn_range zaps the leaves mapping the
    // gfn, not the shadow pages of the table, so KVM keeps translating from what the
    // guest wrote before. The shadow table itself is then the truth.
    r.want = shadow_translate_debug(gva, pcid);
  }
  return r;
}

std::string ShadowMachine::audit_free_frames(const mem::FrameAllocator& frames,
                                             const std::string& of) {
  std::string why;
  m_walker.for_each_cached_hpa([&](Hpa frame, const char* structure) {
    machine::note_free_frame(why, frames, frame, std::string("the ") + structure + of);
  });
  if (why.empty()) {
    why = audit_host();  // shadow leaves and KVM's rmap
    if (!why.empty()) {
      why += of;
    }
  }
  return why;
}

}  // namespace pagesim::shadow
