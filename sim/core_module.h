// The trace-driven core: an SC_THREAD that replays a trace through the translation
// hardware, loosely timed (with several CPUs and sim.interleave=time, a thread per CPU).
//
// Per access (no SystemC kernel call, no allocation):
//   1. TLB lookup through the TlbIf port (a direct call: L1 i/d, then the STLB);
//   2. on a miss, or a store through an entry whose dirty flag is clear (the processor
//      walks to set D: Intel SDM Vol. 3A 4.8) or whose W is clear, a walk: the machine
//      behind walker_socket (models/machine/machine_module.h) called directly with the
//      reused TranslationExt (its DirectTranslateIf; b_transport of the reused payload
//      where it has none);
//   3. the machine resolves the miss whole and answers a translation, or MMIO (the access
//      was emulated: nothing to cache). native: a walk that meets a non-present entry is a
//      page fault: the OS model maps the page and the walk is retried (a faulting walk
//      caches nothing, SDM 4.10.2.3; NativeMachine::touch); the trace access still counts
//      one TLB miss at each level. nested: guest faults, EPT violations; shadow: shadow
//      page faults;
//   4. the TLBs are filled with the translation (L2 and the L1).
// The access costs core.cycles_per_access + TLB latencies + walk latency + fault latency.
// An access that crosses a page boundary translates both pages. A run of accesses that
// would each hit the entry of the L1 TLB's last hit is counted at once (repeated_hits).
//
// Events: `!cr3 ID` switches to address space ID (its PCID; entries of other PCIDs stay),
// `!invlpg GVA` invalidates that page's TLB entries and the current PCID's
// paging-structure-cache entries, `!ptewrite GVA unmap|remap` changes the kernel's PTE
// (entries stay until the trace's !invlpg), `!exit ID` tears an address space down (its
// PCID's entries dropped). nested mode adds `!memslot add|del|move` (the
// hypervisor changes the slots; del and move zap EPT leaves, then INVEPT: the walker's
// caches and every TLB entry of the VM's VPID). shadow mode takes `!cr3`, `!invlpg`,
// `!ptewrite`, `!exit` and `!memslot`, each through KVM's shadow MMU (VM exits whose cycles
// count in sim.event_cycles and the translation cycles; the TLB flushes KVM requests).
// One path for every mode (handle_guest_event): the core keeps the PCID and INVLPG's TLB
// entries, the machine does its part (machine::Machine::handle) and answers the flush to
// apply; an event the machine does not model (machine::Machine::models) is refused. Other
// events need the modes that model them.
//
// Several CPUs (the machine's processor().cpus: cores, vm.vcpus): each has its TLBs (tlb_port
// is bound once per CPU of each VM, VM-major), its PCID and its share of the counters
// (cpu<i>.sim.*); the machine keeps its CR3 and walker caches (Machine::switch_cpu). `!cpu N`
// sends the records that follow to CPU N of the current VM; they run in trace order
// (sim.interleave=trace; time: below). A run of
// `!invlpg` on one CPU is Linux's flush_tlb_mm_range: when it ends (deliver_shootdown), each
// other CPU that runs the address space gets an IPI and its handler's INVLPGs (or a flush of
// the PCID past 33 pages); a CPU away from the address space flushes it at its `!cr3` back
// (tlb_gen). A flush of everything the machine answers (KVM's remote flush), the host's
// requests and a torn-down PCID reach every CPU of the VM (apply_flush_every_cpu).
//
// Several VMs (vms > 1): each VM's vCPUs run on cores of their own, with their TLBs and the
// VM's machine behind the translator; `!vm N` sends the records that follow to VM N's
// current vCPU (its address space, PCID and balloon are its own).
// A host invalidation during one VM's work (reclaim evicting another VM's page) shoots the
// other VMs' vCPUs down: their TLBs are flushed at once and the IPI's cycles charged to
// them. Each VM's share of the sim.* counters is vm<i>.sim.*; the sim.* totals add the VMs
// up (cycles summed over the cores, not elapsed time).
//
// With sim.check on, every translation a TLB hit or a walk returns is compared with a walk
// from scratch of the current tables (the machine's translate_debug); a mismatch
// stops the run naming the record, both answers and the structure that answered.
//
// Time: cycles are summed as integers per batch of records; the quantum keeper is told
// once per batch and synchronises only when the quantum is used up. The thread's keeper is
// told every cycle the run charges, every CPU's: sim.elapsed_cycles (simulated time) is
// sim.cycles.
//
// sim.interleave=time with several CPUs in all (vms x CPUs > 1; otherwise the above, the
// same code path): run() spawns a thread per CPU of each VM (run_cpu, VM-major), each with
// its quantum keeper (Cpu::qk), and waits for the last to finish before the run's end (the
// shares settled, the warm-up check, the last sample, the window, --trace-page). The trace
// is one stream: `!cpu N` / `!vm N` say whose stream the records that follow (the directive
// first) belong to. A thread whose queue is empty reads the next batch into the queues
// (read_trace; the trace positions, for errors, by segments); past kQueueLimit queued
// records it waits on m_queue_event (notified when records are queued or run) instead; at
// the trace's end it finishes. A turn (run_turn) makes its CPU the current one as `!vm` /
// `!cpu` do in trace order (switch_vm, switch_cpu: shares settled, vm.pcpus's stamp, a
// pending PV TLB flush), runs its records up to the keeper's next sync point (at most a
// batch), tells the keeper their cycles and waits if it asks. A run of !invlpg is
// delivered before any wait (deliver_before_wait), and no wait comes between a !ptewrite
// and the record after it (Cpu::pte_written). Barriers: the VMM's and host's events
// (`!memslot`, `!madvise`, `!balloon`) and `!exit` run in trace order with every other
// record: the reader stops after one (the rest of its batch kept, send_read), the threads
// whose streams run empty wait at it (park_at_barrier: time synchronised), and the thread
// whose stream holds it runs it when all the others wait, at the latest of their times;
// they resume there. An !invlpg or !ptewrite waits for the !ptewrite records of its page
// before it in the trace that another CPU has not run (m_unrun_pte_writes). With sim.check,
// a !ptewrite opens a window in which the translation from before it is accepted until the
// page's INVLPG (StaleWindows, base/translation_check.h; Vm::stale). Cycles charged to another CPU
// (charge_other_cpu, shoot_down_other_vms) are owed to its keeper (Cpu::owed) until its
// next turn. A failure in any thread is kept (the first) and stops the kernel (fail());
// a stop signal makes every thread finish after its turn. Warm-up, !roi and sim.interval
// count accesses in execution order. SystemC's reference kernel schedules the threads the
// same way every run, and nothing here depends on pointer order: runs are deterministic.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "base/stats/stats.h"
#include "base/stats/timeseries.h"
#include "base/stats/window.h"
#include "base/tlm/cycle_clock.h"
#include "base/tlm/translation_ext.h"
#include "base/translation_check.h"
#include "models/cache/cache_hierarchy.h"
#include "models/hostmm/balloon.h"
#include "models/hostmm/vmm_memory.h"
#include "models/machine/machine_module.h"
#include "models/tlb/tlb_module.h"
#include "models/walker/page_walkers.h"
#include "sim/page_life.h"
#include "sim/sim_params.h"
#include "traces/trace_reader.h"

namespace pagesim {

struct CoreStats : stats::Group {
  using Group::Group;
  stats::Counter accesses{*this, "accesses", "trace accesses replayed"};
  stats::Counter reads{*this, "reads", "loads"};
  stats::Counter writes{*this, "writes", "stores"};
  stats::Counter fetches{*this, "fetches", "instruction fetches"};
  stats::Counter cycles{*this, "cycles", "total cycles: per-access work plus translation"};
  stats::Counter translation_cycles{*this, "translation_cycles",
                                    "cycles spent translating: TLB latencies, walks, faults"};
  stats::Counter fault_cycles{*this, "fault_cycles", "cycles of page-fault handling"};
  stats::Counter walk_cycles_hidden{
      *this, "walk_cycles_hidden",
      "cycles of walks that overlapped an earlier walk on another page walker and are not "
      "in cycles (core.walk_window; 0 without it)"};
  stats::Counter page_splits{*this, "page_splits", "accesses that cross a page boundary"};
  stats::Counter events{*this, "events", "trace events replayed"};
  stats::Counter cr3_writes{*this, "cr3_writes", "address-space switches (!cr3)"};
  stats::Counter invlpgs{*this, "invlpgs", "INVLPG instructions (!invlpg)"};
  stats::Counter dirty_walks{*this, "dirty_walks",
                             "walks to set the dirty flag for a store through a clean TLB entry"};
  stats::Counter mmio_accesses{*this, "mmio_accesses",
                               "accesses to GPAs in no memslot, emulated (nested mode)"};
  stats::Counter memslot_changes{*this, "memslot_changes",
                                 "!memslot add, del and move events (nested mode)"};
  stats::Counter host_events{*this, "host_events",
                             "!madvise and !balloon events (nested and shadow mode)"};
  stats::Counter host_audits{*this, "host_audits",
                             "audits after host invalidations: no cached translation refers "
                             "to a free frame, frames add up (sim.check)"};
  stats::Counter checks{*this, "checks",
                        "translations compared with a walk from scratch (sim.check)"};
  stats::Counter stale_window_uses{
      *this, "stale_window_uses",
      "translations from before a !ptewrite that sim.check accepted because the page's "
      "INVLPG had not run yet (sim.interleave=time: the window of SDM Vol. 3A 4.10.5)"};
  stats::Counter event_cycles{*this, "event_cycles",
                              "cycles of trace events: VM exits for CR3 writes, INVLPG, PTE "
                              "writes and teardown (shadow mode), TLB shootdowns; part of "
                              "translation_cycles"};
  stats::Counter cpu_switches{*this, "cpu_switches", "!cpu events: the CPU records run on"};
  stats::Counter shootdowns{*this, "shootdowns",
                            "TLB shootdowns: a run of !invlpg on one CPU while other CPUs run "
                            "its address space (Linux's flush_tlb_mm_range: IPIs, or PV "
                            "flags for preempted vCPUs)"};
  stats::Counter ipis{*this, "ipis", "IPIs the shootdowns sent, one per target CPU"};
  stats::Counter remote_flushes{
      *this, "remote_flushes",
      "flushes of another CPU's TLBs: a shootdown's handler, KVM's remote flush "
      "(kvm_flush_remote_tlbs) reaching another vCPU"};
  stats::Counter switch_flushes{
      *this, "switch_flushes",
      "CR3 writes that flushed the PCID: a CPU back in an address space whose pages were "
      "flushed while it ran another (Linux's tlb_gen check at switch_mm)"};
  stats::Counter pv_tlb_flushes{
      *this, "pv_tlb_flushes",
      "shootdown targets the host had preempted (vm.pcpus), flagged by the guest's PV TLB "
      "flush (kvm_flush_tlb_multi) in place of an IPI: each flushes its whole TLB when it "
      "runs again"};
  stats::Counter preempted_ipis{
      *this, "preempted_ipis",
      "shootdown IPIs to vCPUs the host had preempted (vm.pcpus, without vm.pv_tlb_flush): "
      "the sender waited vm.preempted_ipi_wait for their handlers"};
  stats::Counter shootdown_cycles{*this, "shootdown_cycles",
                                  "cycles of TLB shootdowns, the sender's and the targets'; "
                                  "part of event_cycles"};
  stats::Counter elapsed_cycles{
      *this, "elapsed_cycles",
      "simulated time (SystemC's) in core cycles: one CPU, or sim.interleave=trace, the one "
      "thread's, every CPU's cycles summed (sim.cycles); sim.interleave=time, the CPU "
      "threads' side by side: about the busiest CPU's cycles (to a quantum)"};
  stats::Formula translation_overhead{
      *this, "translation_overhead_pct", "translation_cycles / cycles, in percent", [this] {
        return 100.0 * stats::ratio(double(translation_cycles.value()), double(cycles.value()));
      }};
  stats::Histogram translation_cycles_per_access{
      *this,
      "translation_cycles_per_access",
      "translation cycles of one access (log2 bins: 0, 1, 2-3, 4-7, ...)",
      24,
      1,
      stats::Histogram::Scale::kLog2};
};

// One VM's share of the core's counters (vms > 1): group vm<i>, names as sim.*'s.
struct VcpuStats : stats::Group {
  using Group::Group;
  stats::Counter accesses{*this, "sim.accesses", "trace accesses this VM's vCPU replayed"};
  stats::Counter reads{*this, "sim.reads", "loads"};
  stats::Counter writes{*this, "sim.writes", "stores"};
  stats::Counter fetches{*this, "sim.fetches", "instruction fetches"};
  stats::Counter cycles{*this, "sim.cycles",
                        "the vCPU's cycles: its accesses, its events, and "
                        "the host's shootdowns of it"};
  stats::Counter translation_cycles{*this, "sim.translation_cycles",
                                    "the vCPU's cycles spent translating"};
  stats::Counter events{*this, "sim.events", "trace events replayed on this VM"};
};

// One CPU's share of the core's counters (several CPUs): group cpu<i> (vm<v>.cpu<i>), names
// as sim.*'s, and the flushes other CPUs made it do.
struct CpuStats : stats::Group {
  using Group::Group;
  stats::Counter accesses{*this, "sim.accesses", "trace accesses this CPU replayed"};
  stats::Counter cycles{*this, "sim.cycles",
                        "the CPU's cycles: its accesses, its events, the shootdowns it sent and "
                        "received"};
  stats::Counter translation_cycles{*this, "sim.translation_cycles",
                                    "the CPU's cycles spent translating"};
  stats::Counter events{*this, "sim.events", "trace events replayed on this CPU"};
  stats::Counter ipis_received{*this, "sim.ipis_received", "TLB shootdown IPIs this CPU received"};
  stats::Counter remote_flushes{*this, "sim.remote_flushes",
                                "flushes of this CPU's TLBs another CPU caused (shootdowns, "
                                "KVM's remote flushes)"};
};

// What host memory pressure cost one VM (nested and shadow mode): group vm<i>, beside the
// host's per-VM reclaim counters (hostmm::VmmStats).
struct VmPressureStats : stats::Group {
  // `cycles`: the VM's vCPU cycles (sim.cycles, or vm<i>.sim.cycles); `vmm`: its VMM's.
  VmPressureStats(stats::Group* parent, std::string name, const stats::Counter& cycles,
                  hostmm::VmmStats& vmm);
  stats::Formula pressure_cycles;
  stats::Formula slowdown;
};

// A quantum keeper whose next sync point is known: a CPU's thread (sim.interleave=time)
// runs records up to it, not a batch past it.
class QuantumKeeper : public tlm_utils::tlm_quantumkeeper {
 public:
  // The time left before the keeper asks to synchronise (zero when it asks already).
  sc_core::sc_time until_sync() const {
    const sc_core::sc_time now = get_current_time();
    return m_next_sync_point > now ? m_next_sync_point - now : sc_core::SC_ZERO_TIME;
  }
};

class CoreModule final : public sc_core::sc_module {
 public:
  // One binding per CPU of each VM, VM-major (native: one per core): each CPU's TLBs.
  sc_core::sc_port<tlb::TlbIf, 0> tlb_port{"tlb_port"};
  tlm_utils::simple_initiator_socket<CoreModule> walker_socket{"walker_socket"};
  // The machines behind walker_socket, one per VM, whatever the mode: the guest's events,
  // the host's requests, --check (machine::Machine), and the direct miss path.
  sc_core::sc_port<MachinesIf> machine_port{"machine_port"};

  // `progress` is called every 2^20 records with the count so far (may be empty).
  // `page_life` (may be null) is told the steps of accesses to the page it follows.
  CoreModule(sc_core::sc_module_name name, const SimParams& params, const CycleClock& clock,
             traces::TraceReader& trace, stats::Group* stats_parent,
             std::function<void(std::uint64_t)> progress, PageLife* page_life = nullptr);
  ~CoreModule() override;

  // cache.data: the caches every data access goes through (after its translation, the line
  // of its first byte; MMIO accesses are not cached). Null: data accesses are not modelled.
  void set_data_cache(cache::CacheHierarchy* caches) { m_data_cache = caches; }
  // The physical memory whose frames record the stores that reach them, when the machine
  // tracks stores (PhysicalMemory::track_stores: a host huge page's split tells its
  // zero-filled pieces by them). Every store that translates marks its frame; the machine
  // marks those it translates itself, this core the TLB hits. Null: no tracking.
  void set_store_memory(mem::PhysicalMemory* memory) { m_store_memory = memory; }

  // An exception thrown inside the thread (a damaged trace, out of memory), rethrown by
  // the caller of sc_start.
  std::exception_ptr failure() const { return m_failure; }
  // Accesses replayed, the warm-up and those outside regions of interest included.
  std::uint64_t replayed_accesses() const { return m_replayed; }
  // Trace records replayed (accesses and events); on a failure, the failing record's
  // number.
  std::uint64_t replayed_records() const { return m_position; }
  // The signal that stopped the run early (sim/stop_request.h), 0 when it ran to the end.
  int stopped_by() const { return m_stopped_by; }
  // The counters every sim.interval accesses (empty without sim.interval).
  stats::TimeSeries& timeseries() { return m_timeseries; }

 private:
  struct Cpu;  // below
  void end_of_elaboration() override;
  // The SC_THREAD: the run's start and end around run_in_trace_order or run_interleaved.
  void run();
  // sim.interleave=trace, or one CPU in all: every record in trace order on this thread.
  void run_in_trace_order();
  // sim.interleave=time with several CPUs: a thread per CPU (run_cpu), spawned here; returns
  // when the last one finishes.
  void run_interleaved();
  // One CPU's thread (time): its stream's records, a quantum at a time.
  void run_cpu(std::size_t vm, std::size_t cpu);
  // time: reads the next batch of the trace into the CPUs' streams (`!cpu`, `!vm` say
  // whose); at the trace's end sets m_trace_end.
  void read_trace();
  // time: room for `records` more at the tail of CPU `c`'s stream (its records moved to the
  // front first when that makes room).
  void make_room(Cpu& c, std::size_t records);
  // time: `records[0, count)` (the trace's records from `position` on) appended to `c`'s
  // stream.
  void append_to_stream(Cpu& c, const traces::Record* records, std::size_t count,
                        std::uint64_t position);
  // time: records queue[tail, tail + count) of `c`, just read in place, from `position` on.
  void note_appended(Cpu& c, std::size_t count, std::uint64_t position);
  // time: the records read and not yet sent, m_read_batch[m_read_next, m_read_end), sent to
  // their streams up to the first barrier (which ends what is sent: m_barrier).
  void send_read();
  // time: CPU `cpu` of VM `vm` has run its stream empty while a barrier waits to run: its
  // IPIs sent, its time synchronised, it waits until the barrier has run.
  void park_at_barrier(std::size_t vm, std::size_t cpu);
  // time: whether an INVLPG or a PTE change of `address` at trace record `position` on VM
  // `vm` waits: a `!ptewrite` of the same 4 KiB page before it in the trace has not run (it
  // is in another CPU's stream). A CPU invalidates a page after the change it invalidates
  // for (the IPI follows the write), and the kernel serialises changes of one PTE (its
  // page-table lock).
  bool waits_for_pte_write(std::size_t vm, std::uint64_t position, std::uint64_t address) const;
  // time: the trace position of queue[index] of `c`.
  std::uint64_t stream_position(const Cpu& c, std::size_t index) const;
  // time: CPU `cpu` of VM `vm` runs the records of its stream up to its quantum keeper's
  // next sync point (at most a batch of them), then synchronises if the keeper says so.
  void run_turn(std::size_t vm, std::size_t cpu);
  // time: a pending run of !invlpg (m_shootdown) delivered before its CPU's thread waits;
  // the sender's cycles charged to it and to its quantum keeper.
  void deliver_before_wait(std::size_t vm, std::size_t cpu);
  // An exception in a thread: kept (the first one), the statistics so far settled, sc_stop.
  void fail();
  Cycles access(const traces::Record& r);
  // One record the same-page path did not take, at m_position: an event (serialising; the
  // other VMs' shootdowns after it; its cycles counted, count_event_cycles) or an access
  // (the warm-up's end, a time-series sample at its mark). Returns its cycles, for the
  // batch and the quantum keeper.
  std::uint64_t replay_record(const traces::Record& r);
  // The same-page path: the accesses m_batch[i..] that access() would answer, one by one,
  // with an L1 TLB hit on the entry of the L1's last hit (same 4 KiB page, same PCID and
  // VPID, nothing inserted or invalidated since, no byte past the page, no store through
  // a clean entry, no event between). Counts them as access() would, all at once; returns
  // how many (0: m_batch[i] takes access()). `done`: records before this batch.
  std::size_t repeated_hits(std::size_t i, std::size_t n, std::uint64_t done,
                            std::uint64_t& batch_cycles);
  // repeated_hits past its first test: `hit`, the entry of `l1`'s last hit, is m_batch[i]'s.
  [[gnu::noinline]] std::size_t count_repeated_hits(std::size_t i, std::size_t n,
                                                    std::uint64_t done, std::uint64_t& batch_cycles,
                                                    tlb::Tlb& l1, const Translation& hit);
  // A trace event; `position` is the record's number in the trace (from 1) for errors.
  // Returns the cycles it cost (shadow mode's VM exits, the host's shootdowns; 0 elsewhere).
  Cycles handle_event(const traces::Record& r, std::uint64_t position);
  // The guest's events (!cr3, !invlpg, !ptewrite, !exit, !memslot) as the machine sees
  // them; none for the others.
  std::optional<machine::GuestEvent> guest_event(const traces::Record& r,
                                                 std::uint64_t position) const;
  // A guest event through machine::Machine::handle, whatever the mode: the core's part
  // (the PCID, INVLPG's TLB entries, the flushes the machine answers, the statistics).
  Cycles handle_guest_event(const machine::GuestEvent& event, const traces::Record& r,
                            std::uint64_t position);
  // time with sim.check: a `!ptewrite` of `gva` in `pcid` (trace record `position`) opens
  // the window in which the translations from before it stay acceptable (StaleWindows).
  void open_stale_window(std::uint16_t pcid, Gva gva, std::uint64_t position);
  // `!madvise`, `!balloon`, `!vm` (nested and shadow): the host side of the current VM.
  Cycles handle_host_event(const traces::Record& r, std::uint64_t position);
  // `!cpu N`: the records that follow run on CPU N of the current VM. Returns the cycles of
  // the PV TLB flush it was flagged for while preempted (0 without one).
  Cycles switch_cpu(std::size_t cpu);
  // The current CPU left for another (of this VM or another VM's): its state kept.
  void park_cpu();
  // CPU `cpu` of VM `vm` becomes the current one.
  void resume_cpu(std::size_t vm, std::size_t cpu);
  // A run of `!invlpg` on one CPU ended (the next record is another): the other CPUs of the
  // VM that run its address space get the IPIs (Linux's flush_tlb_mm_range); returns the
  // sender's cycles, which the caller charges as an event's.
  Cycles deliver_shootdown();
  // A flush that reaches every CPU of VM `vm` (KVM's remote flush, a host request, the
  // flush of an address space torn down): each CPU's TLBs; the others' counted as remote.
  void apply_flush_every_cpu(std::size_t vm, const TlbFlush& flush);
  // An event's cycles (VM exits, shootdowns) in sim.event_cycles, sim.cycles and
  // sim.translation_cycles; returns them, for the caller's batch and quantum keeper.
  std::uint64_t count_event_cycles(Cycles c);
  // Cycles charged to `cpu` while another runs, told to the time that runs it: its own
  // quantum keeper at its next turn (sim.interleave=time), else the one thread's keeper.
  void owe_time(Cpu& cpu, Cycles c);
  // Cycles charged to CPU `cpu` of the current VM, not the current CPU (a shootdown's
  // handler): its share and the totals.
  void charge_other_cpu(std::size_t cpu, Cycles c);
  // The current VM's VMM memory and what the host events need of it.
  struct HostSide : machine::HostView {
    PageSize host_page = PageSize::k4K;
  };
  HostSide host_side();
  // The host's shootdowns since the last translation: applied to the TLBs; their cycles.
  Cycles take_host_flush();
  // sim.check after the host invalidated something: no TLB, walker-cache, EPT or shadow
  // entry refers to a free host frame, and the host's frames add up. Native: no host, no-op.
  void audit_host(const char* after);
  // A machine's flush request applied to the current VM's TLBs (of the VM's VPID).
  void apply_flush(const TlbFlush& flush) { apply_flush(*m_tlbs, flush); }
  void apply_flush(tlb::TlbHierarchy& tlbs, const TlbFlush& flush);
  // vms > 1: `!vm N`, the records that follow run on VM N's current CPU.
  void switch_vm(std::size_t vm);
  // Several VMs or CPUs: the current VM's and CPU's shares of the sim.* counters since they
  // were switched to, added to vm<i>.sim.* and cpu<i>.sim.*.
  void settle_vm_share();
  // vms > 1, after host work: the other VMs' shootdowns (their TLBs flushed, the cycles
  // charged to them).
  void shoot_down_other_vms();
  [[noreturn]] void unsupported_event(const traces::Record& r, std::uint64_t position) const;
  // Opens or closes the statistics window as the warm-up and the regions of interest say.
  void update_window();
  // sim.elapsed_cycles brought up to the simulated time now (before the window opens or
  // closes, a time-series sample, the run's end): a counter, windowed as the others.
  void advance_elapsed();
  std::uint64_t m_elapsed = 0;  // the time, in cycles, elapsed_cycles was brought up to
  // `!roi begin` / `!roi end`.
  void region_of_interest(bool begin);
  // Whether gva is canonical for the (guest's) paging: bits 63 to 47 all equal with 4
  // levels, 63 to 56 with 5 (SDM Vol. 1, 3.3.7.1; Vol. 3A 4.5). A memory access to a
  // non-canonical address raises #GP, so no trace of a running program holds one.
  bool canonical(std::uint64_t gva) const {
    return static_cast<std::uint64_t>((static_cast<std::int64_t>(gva << m_noncanonical_bits)) >>
                                      m_noncanonical_bits) == gva;
  }
  [[noreturn]] void noncanonical(const traces::Record& r, std::uint64_t address,
                                 std::uint64_t position) const;
  Cycles translate(AccessKind kind, Gva gva);
  Cycles walk_and_fill(AccessKind kind, Gva gva, const char* why);
  // Adds m_ext's walk to `cost`, less what overlaps earlier walks (core.walk_window).
  void charge_walk(Cycles& cost);
  // sim.check: `got` (from `structure`) against a walk from scratch.
  void check(AccessKind kind, Gva gva, const Translation& got, const char* structure);

  // One CPU (a vCPU; native: a core): its TLBs, its state while another CPU runs.
  struct Cpu {
    tlb::TlbHierarchy* tlbs = nullptr;
    std::uint16_t asid = 0;
    std::uint16_t pcid = 0;
    PageSize last_page_size = PageSize::k4K;
    // It has run records: a member of its address space's CPU mask (Linux sets the mm's
    // cpumask bit at switch_mm), a shootdown's target while its PCID is the sender's.
    bool ran = false;
    // Several CPUs: the generation of each address space's page tables this CPU's TLBs
    // have caught up with (Linux's cpu_tlbstate.ctxs[].tlb_gen), by PCID.
    std::vector<std::uint64_t> seen_gen;
    // When it last became the CPU records run on (its VM's run_clock then): the host runs the
    // host_cpus CPUs with the latest (preempted()).
    std::uint64_t run_stamp = 0;
    // A shootdown's PV TLB flush flagged it while preempted (KVM_VCPU_FLUSH_TLB in its
    // steal-time area): its whole TLB goes when it runs again.
    bool guest_flush_pending = false;
    std::unique_ptr<CpuStats> stats;  // cpus > 1
    // sim.interleave=time: the CPU's thread's quantum keeper; its stream, the records the
    // trace sends it, queue[head, tail) (queue.size() is the room in use, past tail left
    // over), with their trace positions by segments; the cycles other CPUs charged it since
    // it last ran (added to its keeper when it next runs); the position of the last record
    // it ran.
    std::unique_ptr<QuantumKeeper> qk;
    std::vector<traces::Record> queue;
    std::size_t head = 0;
    std::size_t tail = 0;
    // queue[index] onwards are the trace's records from `position` on, up to the next
    // segment's index (each begins at a `!cpu`/`!vm`, or after the stream ran empty).
    struct Segment {
      std::size_t index;
      std::uint64_t position;
    };
    std::vector<Segment> segments;
    std::uint64_t owed = 0;
    std::uint64_t last_position = 0;
    // The last record it ran was a `!ptewrite`: its thread does not wait before the next
    // one (the PTE write and its `!invlpg` stay together, as in trace order: --check
    // takes a stale translation another CPU used in between for an error).
    bool pte_written = false;
    // The index in `queue` of the barrier it holds (the stream's last record; at most one
    // in all): the thread runs it when every other thread waits at it.
    static constexpr std::size_t kNoBarrier = ~std::size_t{0};
    std::size_t barrier = kNoBarrier;
    // Its next record waits for another CPU's PTE change (waits_for_pte_write).
    bool pte_wait = false;
  };
  // One VM (native: the host): its machine, its CPUs, its balloon.
  struct Vm {
    machine::Machine* any_machine = nullptr;  // the machine, whatever the mode
    std::vector<Cpu> cpus;
    std::size_t cpu = 0;       // the CPU its records run on
    std::size_t read_cpu = 0;  // time: the CPU whose stream the trace's records go to
    // Several CPUs: each address space's generation, one more per flush of its pages (Linux's
    // mm->context.tlb_gen, inc_mm_tlb_gen in flush_tlb_mm_range), by PCID.
    std::vector<std::uint64_t> tlb_gen;
    std::uint64_t run_clock = 0;  // one more each time a CPU of the VM starts running records
    hostmm::Balloon balloon;
    // time with sim.check: the PTE changes whose INVLPG has not run yet, and the
    // translations from before them that the check accepts until then.
    StaleWindows stale;
    std::unique_ptr<VcpuStats> stats;  // vms > 1
    std::unique_ptr<VmPressureStats> pressure;
  };
  // Whether the host has preempted CPU `cpu` of VM `v` (ProcessorView::host_cpus): it ran,
  // and host_cpus other CPUs of the VM started running records since.
  bool preempted(const Vm& v, std::size_t cpu) const;
  // The sim.* counters a VM's or CPU's share is measured from.
  struct Share {
    std::uint64_t accesses = 0, reads = 0, writes = 0, fetches = 0, cycles = 0,
                  translation_cycles = 0, events = 0;
  };
  Share share_now() const;

  const SimParams& m_params;
  const CycleClock& m_clock;
  traces::TraceReader& m_trace;
  std::function<void(std::uint64_t)> m_progress;
  stats::Group* m_stats_parent;
  // What the statistics count (sim.warmup, the trace's !roi events): stats/window.h.
  stats::Window m_window;
  std::uint64_t m_warmup_left = 0;  // the warm-up's length until it is over, then 0
  // The next access count at which something happens (the warm-up's end, a time-series
  // sample): one compare per access for both (on_mark).
  static constexpr std::uint64_t kNever = ~std::uint64_t{0};
  std::uint64_t m_next_mark = kNever;
  std::uint64_t m_next_sample = kNever;
  stats::TimeSeries m_timeseries{0};
  void on_mark();
  void last_sample();
  bool m_roi_seen = false;  // the trace has a region of interest
  bool m_in_roi = false;
  std::uint64_t m_replayed = 0;  // accesses replayed, counted or not
  CoreStats m_stats;
  tlb::TlbHierarchy* m_tlbs = nullptr;
  machine::ProcessorView m_processor;         // the machine's (the same for every VM)
  machine::Machine* m_any_machine = nullptr;  // the current VM's, whatever the mode
  PageLife* m_page_life;                      // the current VM's: the follower when it is VM 0
  PageLife* m_page_life_of_vm0;               // --trace-page follows a page of VM 0
  std::uint64_t m_position = 0;               // the current record's number (from 1)
  tlm_utils::tlm_quantumkeeper m_qk;
  tlm::tlm_generic_payload m_gp;
  TranslationExt m_ext;
  // The translator behind walker_socket, called directly (null: b_transport).
  DirectTranslateIf* m_direct = nullptr;
  // Trace order: the record after the one being replayed, in the batch (null: none there,
  // or nothing replayed); a TLB miss's walk_and_fill has the machine prefetch its walk.
  const traces::Record* m_next = nullptr;
  const traces::Record* m_batch_end = nullptr;  // past the batch's last record read
  std::vector<traces::Record> m_batch;
  std::uint16_t m_asid = 0;
  std::uint16_t m_pcid = 0;
  std::uint16_t m_vpid = 0;
  // 64 minus the linear-address width (48 or 57): the bits that sign-extend bit 47 or 56.
  unsigned m_noncanonical_bits = 16;
  PageSize m_last_page_size = PageSize::k4K;      // of the last translation (split accesses)
  cache::CacheHierarchy* m_data_cache = nullptr;  // cache.data
  mem::PhysicalMemory* m_store_memory = nullptr;  // set_store_memory
  Hpa m_last_data_hpa;                            // cache.data: the HPA the last translation gave
  bool m_last_cacheable = true;                   // cache.data: false after an MMIO access
  walker::PageWalkers m_page_walkers;             // core.page_walkers, core.walk_window
  std::vector<Vm> m_vms;
  std::size_t m_vm = 0;    // the current VM
  std::size_t m_cpu = 0;   // its current CPU
  bool m_shares = false;   // several VMs or CPUs: shares are settled
  Share m_share_base;      // the sim.* counters when the current VM's share was last settled
  Share m_cpu_share_base;  // and the current CPU's
  // A run of !invlpg on one CPU not yet shot down on the others (deliver_shootdown).
  struct PendingShootdown {
    bool active = false;
    std::uint16_t pcid = 0;
    std::vector<Gva> pages;
  };
  PendingShootdown m_shootdown;
  std::uint64_t m_audited_invalidations = 0;  // host invalidations at the last audit
  std::uint64_t m_shot_invalidations = 0;     // at the last shoot_down_other_vms
  std::exception_ptr m_failure;
  int m_stopped_by = 0;

  // sim.interleave=time with several CPUs (m_time): the shared reader's state.
  bool m_time = false;
  std::vector<traces::Record> m_read_batch;  // the trace's records as read, before demux
  std::uint64_t m_read_records = 0;          // trace records read so far
  std::size_t m_read_next = 0;               // m_read_batch[m_read_next, m_read_end): read,
  std::size_t m_read_end = 0;                // not yet sent (after a barrier)
  std::uint64_t m_read_position = 0;         // the trace position of m_read_batch[0]
  bool m_barrier = false;                    // a barrier is queued, not yet run
  std::size_t m_at_barrier = 0;              // threads waiting at it (park_at_barrier)
  sc_core::sc_event m_drained;               // a thread began waiting at the barrier
  sc_core::sc_event m_barrier_done;          // the barrier ran
  std::size_t m_read_vm = 0;                 // the VM whose streams the records go to
  std::uint64_t m_queued = 0;                // records in the streams, not yet run
  std::uint64_t m_records_run = 0;           // records run, all threads (progress)
  bool m_trace_end = false;                  // the trace is read whole
  bool m_stop = false;                       // stop_signal: the threads finish
  bool m_halt = false;                       // a failure: the threads do nothing more
  std::size_t m_threads_left = 0;            // CPU threads not finished
  sc_core::sc_event m_queue_event;           // records queued or run
  sc_core::sc_event m_threads_done;          // the last CPU thread finished
  // The `!ptewrite` records read and not yet run, by trace position: their VM and page.
  struct UnrunPteWrite {
    std::size_t vm;
    std::uint64_t page;  // address >> 12
  };
  std::map<std::uint64_t, UnrunPteWrite> m_unrun_pte_writes;
  sc_core::sc_event m_pte_write_ran;  // one of them ran
};

}  // namespace pagesim
