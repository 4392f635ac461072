// A whole virtualized machine in plain C++: host memory, the hypervisor, the guest OS and
// the 2D walker, with the loop a core runs on a TLB miss (touch()). For tests, tools and
// the SystemC shell of mode=nested, which binds the same pieces to its modules.
//
//   host PhysicalMemory, and the host (hostmm/host.h: FrameAllocator over host.memory,
//     frames from 1 MiB; HostMm): the machine's own, or shared with the other VMs (vms)
//   Hypervisor: memslots (qemu_pc_layout of vm.memory), the VMM's HostOs, the EPT
//   guest OS: PageTableOs<Gva, Gpa, GuestPhysicalMemory, GuestFrameAllocator>, stats
//     "guest", frames from the guest's RAM ranges (tables ascend from 1 MiB, data descend
//     from the top of RAM: models/mem/frame_allocator.h)
//   NestedWalker (stats "walker") over a MemoryTiming: the caller's (a cache model), or a
//     fixed latency per reference owned here
//
// touch(gva, kind): walk; on a guest page fault the guest OS maps the page (its table
// writes may raise EPT violations, whose cost the fault is charged through
// GuestPhysicalMemory::take_cycles); on an EPT violation the hypervisor maps the GPA; then
// walk again, until the walk succeeds or the GPA turns out to be MMIO (the access is then
// emulated: no translation). A store whose walk succeeds through a leaf without W (a
// read-only memslot's) is an EPT violation for the write: an MMIO exit too. The guest's
// address space `pcid` gets its root table on its first touch (charged to that touch). The
// TLB is the caller's: touch() is the miss path.
//
// Memslot events go through the hypervisor (hypervisor().remove_memslot etc.); the zapped
// range comes back, and remove_memslot / move_memslot here also flush the walker's caches
// (INVEPT single context) as KVM's kvm_flush_remote_tlbs does; the caller flushes its TLBs.
#pragma once

#include <cstdint>
#include <memory>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/stats/stats.h"
#include "base/tlb_flush.h"
#include "models/ept/ept_params.h"
#include "models/host/guest_memory.h"
#include "models/host/host_params.h"
#include "models/host/hypervisor.h"
#include "models/hostmm/host.h"
#include "models/hostmm/host_mm.h"
#include "models/hostmm/reclaim_params.h"
#include "models/machine/machine.h"
#include "models/machine/machine_ground.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/os/page_table_os.h"
#include "models/walker/nested_walker.h"
#include "models/walker/nested_walker_params.h"
#include "models/walker/walker_params.h"

namespace pagesim::host {

// The guest kernel.
using GuestOs = os::PageTableOs<Gva, Gpa, GuestPhysicalMemory, mem::GuestFrameAllocator>;

struct NestedMachineParams {
  VmParams vm;
  VmExitParams vmexit;
  os::OsParams host;                  // host.*: thp, memory, fault costs of the host kernel
  hostmm::ReclaimParams reclaim;      // host.*: swap, watermarks, reclaim (host_mm.h)
  os::OsParams guest;                 // guest.*: the guest kernel (memory is vm.memory's business)
  unsigned guest_levels = 4;          // guest.levels: 4, or 5 with LA57
  ept::EptParams ept;                 // ept.*
  walker::WalkerParams walker;        // walker.pwc: the guest paging-structure caches
  walker::NestedWalkerParams nested;  // walker.ept_pwc, walker.ntlb, walker.pte_cache
  // Cycles per page-table reference when no MemoryTiming is given.
  Cycles memory_latency{100};
};

// What one touch() did.
struct TouchResult {
  enum class Outcome : std::uint8_t { kOk, kMmio };
  Outcome outcome = Outcome::kOk;
  Translation translation;        // kOk: GVA -> HPA
  walker::NestedWalkResult walk;  // the last walk (kOk: the successful one)
  Cycles cycles;                  // walks + guest faults + VM exits, all of it
  Cycles walk_cycles;             // of which the walks' references
  unsigned walks = 0;             // walks made (1 + one per fault handled)
  unsigned guest_faults = 0;      // guest page faults handled
  unsigned ept_violations = 0;    // EPT violations raised by the walks (handled)
  unsigned table_violations = 0;  // EPT violations raised by the guest's table writes
  unsigned host_faults = 0;       // host page faults among the walks' violations
  // What the caller's TLBs must drop before inserting `translation`: every entry of the
  // VM when the host's reclaim zapped EPT leaves during the touch (a shootdown).
  TlbFlush flush;
};

// Told each step of a touch() that handles a fault (--trace-page: the life of a page).
class TouchObserver {
 public:
  virtual ~TouchObserver() = default;
  // The guest kernel handled a page fault at `level` for `gva`; its table writes raised
  // `table_violations` EPT violations (handled inside, charged to the fault).
  virtual void guest_page_fault(Gva gva, unsigned level, unsigned table_violations,
                                Cycles cycles) = 0;
  // The walk met no EPT leaf for `walk.gpa`; the hypervisor did `v`.
  virtual void ept_violation(const walker::NestedWalkResult& walk, const ViolationResult& v) = 0;
};

class NestedMachine final : public machine::Machine, private machine::MachineGround {
 public:
  // `timing`: the cost of each page-table reference (must outlive the machine); null: a
  // fixed params.memory_latency per reference. Statistics go under `parent` (null: a root
  // of the machine's own, stats_root()).
  explicit NestedMachine(const NestedMachineParams& params, mem::MemoryTiming* timing = nullptr,
                         stats::Group* parent = nullptr)
      : NestedMachine(params,
                      std::make_unique<mem::PhysicalMemory>(
                          params.host.memory.bytes, huge_page_bytes(params.host.memory.bytes)),
                      nullptr, nullptr, timing, parent) {}
  // The same over the caller's host memory (host.memory bytes; advise huge pages for
  // huge_page_bytes() of it), which must outlive the machine.
  NestedMachine(const NestedMachineParams& params, mem::PhysicalMemory& memory,
                mem::MemoryTiming* timing, stats::Group* parent)
      : NestedMachine(params, nullptr, &memory, nullptr, timing, parent) {}
  // One of several VMs on the caller's host (`vms` > 1), which must outlive the machine:
  // its frames, its memory manager and host.load are the host's (params.host.memory and
  // params.reclaim are not read). The VM's reclaim counters "vm<i>" go beside the host's.
  NestedMachine(const NestedMachineParams& params, hostmm::Host& host, mem::MemoryTiming* timing,
                stats::Group* parent)
      : NestedMachine(params, nullptr, &host.memory(), &host, timing, parent) {}
  NestedMachine(const NestedMachine&) = delete;
  NestedMachine& operator=(const NestedMachine&) = delete;

  // The share of host memory worth backing by the simulator's huge pages: the host's table
  // region (EPT and VMM tables ascend from 1 MiB), the bottom eighth. The guest's
  // page-table pages lie among the guest's data frames, which stay on small pages: a
  // sparse guest would otherwise bring a 2 MiB host page into the simulator per table.
  static constexpr std::uint64_t huge_page_bytes(std::uint64_t host_bytes) {
    return host_bytes / 8;
  }

 private:
  NestedMachine(const NestedMachineParams& params, std::unique_ptr<mem::PhysicalMemory> own,
                mem::PhysicalMemory* memory, hostmm::Host* host, mem::MemoryTiming* timing,
                stats::Group* parent)
      : MachineGround(params.reclaim, params.host.memory.bytes, params.memory_latency,
                      std::move(own), memory, host, timing, parent),
        m_params(params),
        m_hypervisor(params.vm, params.vmexit, params.host, params.ept, m_memory, m_host.frames(),
                     m_host.mm(), m_stats, m_host.stats_parent()),
        m_guest_frames(m_hypervisor.guest_ram_ranges(), kMiB),
        m_guest_os(params.guest, params.guest_levels, m_hypervisor.guest_memory(), m_guest_frames,
                   m_stats, "guest"),
        m_walker(params.walker, params.nested, params.guest_levels, params.ept, m_memory, m_timing,
                 m_stats) {
    // A zap by the host (reclaim, madvise): INVEPT of the walker's caches now; the TLBs'
    // flush goes back with the touch or the event (take_flush).
    m_hypervisor.set_flush_hook([this] { m_walker.invept(m_hypervisor.ept_root()); });
    if (params.vm.vcpus > 1) {
      m_walker.set_cpus(params.vm.vcpus);
    }
  }

 public:
  // The miss path for `gva` in guest address space `pcid`: see the file comment.
  TouchResult touch(Gva gva, AccessKind kind, std::uint16_t pcid = 0,
                    TouchObserver* observer = nullptr);

  // A hint that touch(next) and then touch(after) come soon: their walks' cold entries
  // start loading (NestedWalker::prefetch; no effect on the model).
  void prefetch(Gva next, Gva after) const { m_walker.prefetch(next, after); }

  // The host's flush of the VM's TLBs since the last touch (an event's madvise or balloon):
  // true when the caller must drop every TLB entry of the VM; the cycles it cost the vCPU.
  bool take_host_flush(Cycles& cycles) {
    hostmm::VmmMemory& vmm = m_hypervisor.vmm();
    cycles += vmm.take_pending_cycles();
    return vmm.take_flush();
  }

 private:
  // touch() but the host's shootdowns: the walk, fault, retry loop.
  TouchResult resolve(Gva gva, AccessKind kind, std::uint16_t pcid, TouchObserver* observer);

 public:
  // `!memslot del` / `!memslot move`: the hypervisor zaps, the walker's caches are flushed.
  GpaRange remove_memslot(std::uint32_t id);
  GpaRange move_memslot(std::uint32_t id, Gpa new_base);

  // The walk of `gva` from scratch with no side effects (--check, tests).
  // `access_tracked`: see NestedWalker::translate_debug.
  walker::NestedWalkResult translate_debug(Gva gva, std::uint16_t pcid = 0,
                                           bool access_tracked = false);

  // machine::Machine: every guest event. !cr3 needs nothing of the machine (the guest's
  // MOV CR3 does not exit with EPT; touch() takes the address space's root per miss);
  // INVLPG reaches the walker's guest entries of the VPID; a PTE write and teardown are the
  // guest kernel's (teardown answers the flush of its PCID); !memslot goes through the
  // hypervisor (del and move: remove_memslot / move_memslot, and every TLB entry of the
  // VM). Each answers the host's requests during it (take_requests).
  bool models(machine::GuestEvent::Kind /*kind*/) const override { return true; }
  machine::EventResult handle(const machine::GuestEvent& event) override;
  // machine::Machine: the guest's paging, tagged by the VM's VPID.
  machine::ProcessorView processor() const override {
    return machine::guest_processor("nested", m_params.guest_levels, kVpid, m_params.vm);
  }
  // machine::Machine: the vCPU's walker caches (the guest's CR3 is read per miss).
  void switch_cpu(unsigned cpu) override { m_walker.switch_cpu(cpu); }
  // machine::Machine: the ICR writes' or the PV hypercall's exits (Hypervisor::send_ipis).
  machine::IpiExits send_ipis(unsigned targets) override {
    const IpiExitCost c = m_hypervisor.send_ipis(targets);
    return {.exits = c.exits, .cycles = c.cycles};
  }
  // machine::Machine: the PV TLB flush at the vCPU's entry (kvm_vcpu_flush_tlb_guest ->
  // vmx_flush_tlb_guest: INVVPID single context): the vCPU's guest paging-structure caches
  // and every TLB entry of the VPID; what the EPT alone derives (nested TLB, EPT PSCs) stays.
  machine::EventResult flush_tlb_guest() override {
    m_walker.invvpid(kVpid);
    return {};
  }
  // machine::Machine: the hypervisor's VMM memory and memslots, the host's memory manager,
  // the guest's frames.
  machine::HostView host_view() override {
    return {.vmm = &m_hypervisor.vmm(),
            .mm = &m_host.mm(),
            .slots = &m_hypervisor.memslots(),
            .guest_frames = &m_guest_frames};
  }
  // machine::Machine: take_host_flush's flush (every entry of the VM) and cycles.
  machine::VcpuRequests take_requests() override {
    machine::VcpuRequests r;
    if (take_host_flush(r.owed)) {
      r.flush = TlbFlush::all();
    }
    return r;
  }
  // machine::Machine (--check): the 2D walk from scratch (where the EPT has no A/D bits, a
  // leaf marked for access tracking still reaches its frame); the walker's cached frames
  // and the EPT's leaves.
  machine::CheckReference reference_translation(Gva gva, std::uint16_t pcid,
                                                const Translation& got) override;
  std::string audit_free_frames(const mem::FrameAllocator& frames, const std::string& of) override;

  static constexpr std::uint16_t kVpid = 1;

  const NestedMachineParams& params() const { return m_params; }
  stats::Group& stats_root() { return *m_stats; }
  mem::PhysicalMemory& memory() { return m_memory; }
  mem::FrameAllocator& frames() { return m_host.frames(); }
  hostmm::HostMm& host_mm() { return m_host.mm(); }
  hostmm::Host& host() { return m_host; }
  Hypervisor& hypervisor() { return m_hypervisor; }
  mem::GuestFrameAllocator& guest_frames() { return m_guest_frames; }
  GuestOs& guest_os() { return m_guest_os; }
  walker::NestedWalker& walker() { return m_walker; }

 private:
  static constexpr unsigned kMaxWalks = 64;

  // Charges the EPT violations of the guest's table writes to the touch; returns how many.
  unsigned drain(TouchResult& t);

  NestedMachineParams m_params;
  Hypervisor m_hypervisor;
  mem::GuestFrameAllocator m_guest_frames;
  GuestOs m_guest_os;
  walker::NestedWalker m_walker;
  std::uint64_t m_drained_violations = 0;
};

}  // namespace pagesim::host
