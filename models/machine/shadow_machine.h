// A whole shadow-paged virtual machine in plain C++ (mode=shadow): host memory, the VMM's
// memslots and demand-paged memory, the guest kernel, KVM's shadow MMU, and the native
// hardware walker over the shadow tables, with the loop a core runs on a TLB miss (touch())
// and the guest events of a trace. The shadow-mode sibling of host::NestedMachine, for
// tests, tools and the SystemC shell.
//
//   host PhysicalMemory, and the host (hostmm/host.h: FrameAllocator over host.memory,
//     frames from 1 MiB; hostmm::HostMm, the host's reclaim and swap: host.* keys of
//     `reclaim`; stats "host", "mmu_notifier", "tlb"; takes host.load): the machine's own,
//     or shared with the other VMs (vms)
//   ShadowVmm: memslots (vm.layout), the VMM's memory (hostmm::VmmMemory: its HostOs, stats
//     "host"; the VM's reclaim counters "vm0"), with KVM's shadow MMU as its notifier
//   guest kernel: PageTableOs<Gva, Gpa, ShadowGuestMemory, GuestFrameAllocator>, stats
//     "guest", frames from the slots' RAM ranges (tables ascend from 1 MiB, data descend
//     from the top of RAM: models/mem/frame_allocator.h)
//   ShadowMmu (stats "shadow"; exits in "vmexits"): shadow_mmu.h
//   walker::Walker (stats "walker"), guest.levels levels, over the shadow tables: the
//     hardware walk is a native one, at most `levels` references (exactly `levels` for a
//     4 KiB leaf with the paging-structure caches off), its PSCs tagged by the guest PCID
//     (KVM loads the guest's PCID with the shadow root into CR3)
//
// touch(gva, kind, pcid): make `pcid` the current address space (see below); walk the
// shadow table; a leaf that allows the access ends it. Else a shadow page fault
// (ShadowMmu::page_fault): fixed -> walk again; the guest's own fault -> the guest kernel's
// fault handler maps the page (guest.page_faults; its table accesses may exit, charged to
// it), then walk again (the retry takes a second shadow fault, which KVM fixes); MMIO ->
// the access is emulated (no translation). A store through a leaf without R/W is a
// shadow page fault too: the guest entry was clean (KVM sets its D and makes the leaf
// writable) or the memslot is read-only (MMIO).
//
// The current address space. The guest runs on one CR3 at a time; the shadow root for it
// is loaded. cr3_write(pcid) switches (an exit). A touch with another pcid switches
// implicitly, charged as a cr3_write (the guest must have written CR3; a trace without
// `!cr3` records gets them this way), except for the very first touch, whose root is
// loaded without an exit (KVM's first kvm_mmu_load, before the trace begins). A new pcid
// gets a fresh guest address space (its root table allocated by the guest kernel).
//
// TLB flushes. Every result carries the TlbFlush the caller's TLBs must apply *before*
// inserting the result's translation: KVM's flush requests (a shadow entry dropped or
// weakened: every entry; a CR3 write without the no-flush bit: that PCID; INVLPG: that
// page). The machine applies the same scope to its walker's paging-structure caches as it
// goes (before any later walk).
//
// Several vCPUs (vm.vcpus). The guest kernel, KVM's shadow pages and the host are the VM's;
// each vCPU has its current address space (its guest CR3), its shadow roots (ShadowMmu's
// "Several vCPUs") and its walker's paging-structure caches, swapped in by switch_cpu. A
// vCPU's first touch loads its first root with no exit (its own first kvm_mmu_load). A
// flush of everything (KVM's kvm_flush_remote_tlbs) reaches every vCPU's caches and, by the
// core, its TLBs; a CR3 write's or INVLPG's flush is the current vCPU's. A guest's IPIs
// exit as NestedMachine's (send_ipis); each target's INVLPG of a shootdown is an exit of its
// own (the core calls invlpg on the target vCPU).
//
// The host. Host memory is finite (host.memory) and reclaimed (hostmm/host_mm.h): a host
// fault (a data page in a shadow fault, a guest table page in KVM's walk or the guest
// kernel's access) may first reclaim other pages; the host ages and zaps their shadow
// leaves through ShadowMmu's notifier (shadow_mmu.h, "The host's reclaim"), and each zap
// shoots the VM's vCPUs down (host.shootdown_latency each, to the replayed vCPU). touch()
// adds the shootdown cycles owed since the last call (VmmMemory::take_pending_cycles) to
// its cycles and every TLB entry to its flush when the host flushed (take_flush); every
// event does the same; take_host_flush() hands them over after the caller's own host-side
// work (madvise, the balloon, on vmm().memory()). The walker's caches are the machine's
// to flush, as for KVM's own flushes. Guest page-table pages are guest memory to the host:
// evicted like data and read back from swap with their entries; KVM keeps their shadow
// pages. translate_debug and audit read the guest's tables without faulting
// (ShadowVmm::peek_u64). With host memory ample nothing of this happens.
//
// Ownership and construction follow NestedMachine: the host memory is the machine's own
// or the caller's; `timing` gives each shadow-table reference its cost (null: a fixed
// params.memory_latency); statistics go under `parent` (null: a root of its own).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/stats/stats.h"
#include "base/tlb_flush.h"
#include "base/translation.h"
#include "models/host/host_params.h"
#include "models/host/memslot.h"
#include "models/host/qemu_layout.h"
#include "models/host/vmexit_stats.h"
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
#include "models/shadow/shadow_guest_memory.h"
#include "models/shadow/shadow_mmu.h"
#include "models/shadow/shadow_params.h"
#include "models/shadow/shadow_vmm.h"
#include "models/walker/walker.h"
#include "models/walker/walker_params.h"

namespace pagesim::shadow {

// The guest kernel in shadow mode (instantiated in shadow_machine.cc).
using ShadowGuestOs = os::PageTableOs<Gva, Gpa, ShadowGuestMemory, mem::GuestFrameAllocator>;

struct ShadowMachineParams {
  host::VmParams vm;              // vm.*: RAM, layout
  host::VmExitParams vmexit;      // vmexit.latency, vmexit.mmio_latency (the EPT key is unused)
  os::OsParams host;              // host.*: thp, memory, fault costs of the host kernel
  hostmm::ReclaimParams reclaim;  // host.*: swap, watermarks, reclaim (hostmm/host_mm.h)
  os::OsParams guest;             // guest.*: the guest kernel (memory is vm.memory's business)
  unsigned guest_levels = 4;      // guest.levels: 4, or 5 with LA57; the shadow tables' too
  ShadowParams shadow;            // shadow.*
  walker::WalkerParams walker;    // walker.pwc: the paging-structure caches over the shadow
  // Cycles per shadow-table reference when no MemoryTiming is given.
  Cycles memory_latency{100};
};

// What one touch() did.
struct TouchResult {
  // kMmio: emulated by KVM, no translation (a GPA in no memslot, a store to a read-only
  // slot, or a store to a guest table page KVM write-tracks).
  enum class Outcome : std::uint8_t { kOk, kMmio };
  Outcome outcome = Outcome::kOk;
  Translation translation;     // kOk: GVA -> HPA, the shadow leaf's page and rights
  walker::WalkResult walk;     // the last hardware walk (kOk: the successful one)
  Cycles cycles;               // walks + exits + guest faults + host faults + shootdowns
  Cycles walk_cycles;          // of which the walks' references
  unsigned walks = 0;          // hardware walks of the shadow table
  unsigned shadow_faults = 0;  // shadow page faults (shadow.page_faults of this touch)
  unsigned guest_faults = 0;   // guest page faults handled by the guest kernel
  unsigned guest_exits = 0;    // exits of the guest kernel's table accesses in those
  unsigned host_faults = 0;    // shadow faults that took a host fault (a data page, or a
                               // guest table page KVM's walk brought back)
  bool cr3_switch = false;     // `pcid` was not current: an implicit CR3 write (an exit)
  TlbFlush flush;              // apply before inserting `translation` (see the file comment)
};

// An event's effect on the vCPU (cr3_write, invlpg, pte_write, exit_address_space, age,
// take_host_flush).
struct EventResult {
  Cycles cycles;       // all it cost: exits, syncs, the guest kernel's table accesses, the
                       // host's shootdowns
  unsigned exits = 0;  // VM exits it caused
  TlbFlush flush;      // what the caller's TLBs must drop
};

// A memslot deleted or moved.
struct MemslotChange {
  host::GpaRange zapped;  // the slot's old GPA range, whose shadow entries were zapped
  TlbFlush flush;         // every entry, when anything was zapped (or the host flushed; its
                          // shootdown cycles stay owed to the next touch or event)
};

// The guest kernel's PTE changes of `!ptewrite <address> unmap|remap`.
enum class PteOp : std::uint8_t { kUnmap, kRemap };

// Told each fault a touch() handles (--trace-page: the life of a page).
class TouchObserver {
 public:
  virtual ~TouchObserver() = default;
  // A shadow page fault and what KVM did (ShadowMmu::Fault: fixed, the guest's, MMIO).
  virtual void shadow_page_fault(Gva gva, const ShadowMmu::Fault& fault) = 0;
  // The guest kernel handled a page fault at `level` for `gva`; its table accesses caused
  // `exits` VM exits (charged to it: in `cycles`).
  virtual void guest_page_fault(Gva gva, unsigned level, unsigned exits, Cycles cycles) = 0;
};

class ShadowMachine final : public machine::Machine, private machine::MachineGround {
 public:
  // `timing`: the cost of each shadow-table reference (must outlive the machine); null: a
  // fixed params.memory_latency per reference. Statistics go under `parent` (null: a root
  // of the machine's own, stats_root()). Throws std::invalid_argument for a bad
  // guest_levels or vm.layout.
  explicit ShadowMachine(const ShadowMachineParams& params, mem::MemoryTiming* timing = nullptr,
                         stats::Group* parent = nullptr);
  // The same over the caller's host memory (host.memory bytes; advise huge pages for
  // huge_page_bytes() of it), which must outlive the machine.
  ShadowMachine(const ShadowMachineParams& params, mem::PhysicalMemory& memory,
                mem::MemoryTiming* timing, stats::Group* parent);
  // One of several VMs on the caller's host (`vms` > 1), as NestedMachine's.
  ShadowMachine(const ShadowMachineParams& params, hostmm::Host& host, mem::MemoryTiming* timing,
                stats::Group* parent);
  ShadowMachine(const ShadowMachine&) = delete;
  ShadowMachine& operator=(const ShadowMachine&) = delete;
  ~ShadowMachine();

  // The share of host memory worth backing by the simulator's huge pages: the host's table
  // region (shadow pages and VMM tables ascend from 1 MiB), the bottom eighth, as
  // NestedMachine.
  static constexpr std::uint64_t huge_page_bytes(std::uint64_t host_bytes) {
    return host_bytes / 8;
  }

  // The miss path for `gva` in guest address space `pcid`: see the file comment. The hit
  // path allocates nothing: a walk that finds the leaf costs the walk only (plus any host
  // shootdown owed since the last call: see "The host").
  TouchResult touch(Gva gva, AccessKind kind, std::uint16_t pcid = 0,
                    TouchObserver* observer = nullptr);

  // The host's work since the last touch or event (the caller's madvise or balloon through
  // vmm().memory(), or anything else that invalidated VMM pages): the shadow leaves it
  // zapped and the shootdowns it sent. `flush`: every TLB entry of the VM when it flushed
  // (the walker's caches are flushed already); `cycles`: the shootdowns' cost to the vCPU;
  // `exits` 0. Call it after each host-side event.
  EventResult take_host_flush();

  // `!cr3 <pcid>`: MOV to CR3 (ShadowMmu::cr3_write). `noflush`: CR3 bit 63 set (no sync,
  // no flush). A new pcid gets a fresh guest address space.
  EventResult cr3_write(std::uint16_t pcid, bool noflush = false);
  // `!invlpg <gva>`: INVLPG in address space `pcid` (ShadowMmu::invlpg).
  EventResult invlpg(Gva gva, std::uint16_t pcid);
  // `!ptewrite <gva> unmap|remap`: the guest kernel changes its PTE for `gva` in address
  // space `pcid` (PageTableOs::unmap / remap, through ShadowGuestMemory: write protection
  // applies). Nothing happens when `gva` is not mapped there. The shadow entries for it are
  // zapped now (emulated store) or stay stale until the next sync point (unsync page): the
  // guest flushes with `!invlpg` or a CR3 write, as on hardware.
  EventResult pte_write(Gva gva, PteOp op, std::uint16_t pcid);
  // `!exit <pcid>`: the guest tears the address space down (PageTableOs::
  // destroy_address_space: every entry cleared through ShadowGuestMemory, each store
  // write-protected as any other), then every shadow page of its tables is zapped (KVM
  // would zap them lazily: by write flooding, when the guest reuses the page, or when
  // recycling). A later use of `pcid` is a new address space.
  EventResult exit_address_space(std::uint16_t pcid);
  // One aging sweep now (ShadowMmu::age); touch() runs them every shadow.aging_interval
  // touches when shadow.aging is on.
  EventResult age();

  // ---- A guest image: page tables someone else built (a snapshot, pagesim-validate's
  // VMM), instead of the guest kernel model's demand paging.

  // The VMM writes `bytes` into guest memory at `gpa` before the guest runs (QEMU loading
  // an image): the VMM pages are faulted in by the host (host faults, no VM exit), no
  // write protection applies. `gpa` and the size are multiples of 8. Throws
  // std::invalid_argument when they are not or a page is in no memslot.
  void load_guest_memory(Gpa gpa, std::span<const std::uint8_t> bytes);
  // Address space `pcid` runs on the guest table at `root`, in guest memory already: the
  // guest kernel model neither builds nor changes it. A guest page fault in it (the image
  // does not map the GVA) throws std::runtime_error. Call it before `pcid` is first used.
  void adopt_address_space(std::uint16_t pcid, Gpa root);
  // The guest's own 8-byte store of `value` at `gva` in address space `pcid` (a user-mode
  // store to one of its page-table entries, say): touch() for the store, then the value
  // lands in guest memory through the translation, as the hardware would write it. The
  // touch's result is returned; an emulated store (write-tracked guest table) throws
  // std::runtime_error, which a guest image never needs.
  TouchResult guest_store_u64(Gva gva, std::uint64_t value, std::uint16_t pcid);

  // `!memslot add|del|move`: as NestedMachine's. Deleting or moving zaps every shadow page
  // (shadow.memslot_zap = all, KVM's default) or the shadow entries of the slot's old GPA
  // range (slot: ShadowMmu::zap_gpa_range). `hva`: the VMM memory the slot maps (a slot
  // added again over the memory it had); none: fresh memory.
  const host::Memslot& add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                   bool readonly = false, std::optional<Hva> hva = std::nullopt);
  MemslotChange remove_memslot(std::uint32_t id);
  MemslotChange move_memslot(std::uint32_t id, Gpa new_base);

  // The truth for `gva` in address space `pcid`, from scratch (--check): the guest tables,
  // the memslot, the VMM's page table; no side effects. The page is the one a shadow leaf
  // would map: the guest page, no larger than the host page and the slot allow. Rights:
  // writable unless the slot is read-only (the guest maps every page writable); `dirty`
  // is false. nullopt when the guest does not map `gva`, the GPA is in no memslot, or the
  // VMM page is not resident. A shadow leaf may be narrower (read-only until the guest page
  // is dirty) but never maps another page once synced. The guest tables are read with
  // ShadowVmm::peek_u64: a table page the host evicted reads as it will come back, and
  // nothing faults (no statistics change, no host memory moves).
  std::optional<Translation> translate_debug(Gva gva, std::uint16_t pcid = 0) const;
  // A hint that touch(next) and then touch(after) come soon: the hardware walks' shadow
  // entries start loading (Walker::prefetch; no effect on the model).
  void prefetch(Gva next, Gva after) const { m_walker.prefetch(next, after); }
  // What the shadow table of `pcid`'s address space maps for `gva` now, by a walk with no
  // side effects; nullopt when it maps nothing or has no shadow root.
  std::optional<Translation> shadow_translate_debug(Gva gva, std::uint16_t pcid = 0) const;
  // Whether the shadow path of `gva` in `pcid`'s address space goes through a shadow page
  // of a guest table whose contents the host discarded (ShadowMmu::shadows_lost_table).
  bool shadows_lost_table(Gva gva, std::uint16_t pcid = 0) const;
  // The shadow leaves of `pcid`'s shadow root that disagree with translate_debug, unsync
  // pages excepted (ShadowMmu::audit). Empty after every sync point.
  std::vector<ShadowMmu::Mismatch> audit(std::uint16_t pcid) const;
  // After host reclaim: no present shadow leaf (of any page, unsync ones included) maps a
  // free host frame, and the rmap holds exactly the present leaves. "" if so, else the
  // first problem. A scan of every shadow page (--check after host invalidations).
  std::string audit_host() const;
  // machine::Machine: every guest event, through KVM's shadow MMU: cr3_write (the no-flush
  // bit set, as Linux switches mm), invlpg, pte_write, exit_address_space, add_memslot,
  // remove_memslot, move_memslot; their cycles and flushes (the host's included: no
  // separate requests).
  bool models(machine::GuestEvent::Kind /*kind*/) const override { return true; }
  machine::EventResult handle(const machine::GuestEvent& event) override;
  // machine::Machine: the guest's paging (the shadow tables have its levels), tagged by the
  // vCPU's VPID.
  machine::ProcessorView processor() const override {
    return machine::guest_processor("shadow", m_params.guest_levels, kVpid, m_params.vm);
  }
  // machine::Machine: the records that follow run on vCPU `cpu`: its address space, its
  // shadow roots and its walker's caches (see "Several vCPUs").
  void switch_cpu(unsigned cpu) override;
  // machine::Machine: the guest's IPIs to `targets` vCPUs: none exit with
  // vm.ipi_virtualization, one PV KVM_HC_SEND_IPI hypercall with vm.pv_send_ipi, else one
  // x2APIC ICR write per target; each vmexit.latency, counted in vmexits.ipi (as
  // Hypervisor::send_ipis: the guest's APIC is the same under shadow paging).
  machine::IpiExits send_ipis(unsigned targets) override;
  // machine::Machine: the PV TLB flush at the vCPU's entry (ShadowMmu::flush_tlb_guest: the
  // roots synced, the hardware TLB and this vCPU's walker caches flushed).
  machine::EventResult flush_tlb_guest() override;
  // The VPID of the guest's vCPU (as NestedMachine::kVpid).
  static constexpr std::uint16_t kVpid = 1;
  // machine::Machine: the VMM's memory and memslots, the host's memory manager, the
  // guest's frames.
  machine::HostView host_view() override {
    return {.vmm = &m_vmm.memory(),
            .mm = &host_mm(),
            .slots = &m_vmm.memslots(),
            .guest_frames = &guest_frames()};
  }
  // machine::Machine: take_host_flush's flush and cycles.
  machine::VcpuRequests take_requests() override {
    const EventResult e = take_host_flush();
    return {.flush = e.flush, .owed = e.cycles};
  }
  // machine::Machine (--check): the guest's tables, with rights that may be narrower in the
  // shadow leaf (KVM's write emulation of A/D), or the shadow table itself where the host
  // discarded a guest table it shadows; the walker's cached frames, then audit_host().
  machine::CheckReference reference_translation(Gva gva, std::uint16_t pcid,
                                                const Translation& got) override;
  std::string audit_free_frames(const mem::FrameAllocator& frames, const std::string& of) override;

  const ShadowMachineParams& params() const { return m_params; }
  stats::Group& stats_root() { return *m_stats; }
  mem::PhysicalMemory& memory() { return m_memory; }
  mem::FrameAllocator& frames() { return m_host.frames(); }
  hostmm::HostMm& host_mm() { return m_host.mm(); }
  hostmm::Host& host() { return m_host; }
  ShadowVmm& vmm() { return m_vmm; }
  ShadowGuestOs& guest_os() { return m_guest_os; }
  mem::GuestFrameAllocator& guest_frames() { return m_guest_frames; }
  ShadowMmu& mmu() { return m_mmu; }
  walker::Walker& walker() { return m_walker; }
  const host::VmExitStats& exit_stats() const { return m_exit_stats; }
  // The current vCPU's address space, if any.
  std::optional<std::uint16_t> current_pcid() const { return m_current; }
  unsigned current_cpu() const { return m_cpu; }

 private:
  ShadowMachine(const ShadowMachineParams& params, std::unique_ptr<mem::PhysicalMemory> own,
                mem::PhysicalMemory* memory, hostmm::Host* host, mem::MemoryTiming* timing,
                stats::Group* parent);

  static constexpr unsigned kMaxWalks = 64;
  static constexpr std::uint64_t kNoRoot = ~std::uint64_t{0};

  // The guest root table of `pcid`, allocated by the guest kernel on first use.
  Gpa guest_root(std::uint16_t pcid);
  std::optional<Gpa> known_guest_root(std::uint16_t pcid) const;
  // Makes `pcid` current for a touch (implicit CR3 write, first load, or reload).
  void enter(std::uint16_t pcid, TouchResult& t);
  TouchResult resolve(Gva gva, AccessKind kind, std::uint16_t pcid, TouchObserver* observer);
  // The walker's caches for `flush`: every vCPU's for kAll (kvm_flush_remote_tlbs), the
  // current vCPU's otherwise.
  void flush_walker(const TlbFlush& flush);
  // kvm_flush_remote_tlbs: every vCPU's walker caches, and the vCPUs' root copies
  // (ShadowMmu::tlb_flush_every_vcpu).
  void flush_every_vcpu();
  // The MMU's pending flushes: applied to the walker, merged into `into`.
  void drain_flush(TlbFlush& into);
  // The host's shootdowns since the last call (VmmMemory::take_pending_cycles, take_flush):
  // their cycles added to `cycles`; a flush of everything merged into `flush`.
  void take_host(Cycles& cycles, TlbFlush& flush);
  // The same for a memslot change, which returns no cycles: only the flush; the cycles stay
  // owed to the next touch or event.
  void take_host_flush_only(TlbFlush& flush);
  EventResult finish(std::uint64_t exits_before, Cycles cycles);
  // The zap of a memslot deleted or moved (shadow.memslot_zap).
  void zap_memslot(const host::Memslot& old);

  ShadowMachineParams m_params;
  host::VmExitStats m_exit_stats;
  ShadowVmm m_vmm;
  ShadowGuestMemory m_guest_memory;
  mem::GuestFrameAllocator m_guest_frames;
  ShadowGuestOs m_guest_os;
  ShadowMmu m_mmu;
  walker::Walker m_walker;
  std::vector<std::uint64_t> m_guest_roots;  // by pcid: the guest root's GPA, or kNoRoot
  std::vector<bool> m_adopted;               // by pcid: a guest image's address space
  std::optional<std::uint16_t> m_current;    // the current vCPU's address space
  bool m_started = false;                    // the current vCPU ever loaded a root
  // Each vCPU's m_current and m_started while another runs (the current's slot unused).
  struct ParkedVcpu {
    std::optional<std::uint16_t> current;
    bool started = false;
  };
  std::vector<ParkedVcpu> m_parked;
  unsigned m_cpu = 0;
  std::uint64_t m_touches = 0;
};

}  // namespace pagesim::shadow

extern template class pagesim::os::PageTableOs<pagesim::Gva, pagesim::Gpa,
                                               pagesim::shadow::ShadowGuestMemory,
                                               pagesim::mem::GuestFrameAllocator>;
