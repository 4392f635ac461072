#include "sim/core_module.h"

#include <algorithm>
#include <bit>
#include <optional>
#include <stdexcept>
#include <string>

#include "base/hex.h"
#include "base/translation_check.h"
#include "sim/stop_request.h"

// sc_spawn (the CPU threads of sim.interleave=time).
#include <sysc/kernel/sc_dynamic_processes.h>

namespace pagesim {
namespace {
constexpr std::size_t kBatchRecords = 4096;
constexpr std::uint64_t kProgressMask = (std::uint64_t{1} << 20) - 1;
// sim.interleave=time: how far the trace's reader may run ahead of the CPU threads. The
// streams hold at most about this many records in all (a batch more), 32 bytes each
// (docs/model.md).
constexpr std::uint64_t kQueueLimit = std::uint64_t{1} << 20;

// sim.interleave=time: the events a CPU does not do by its own instructions, which every
// CPU thread reaches in trace order (a barrier, docs/model.md): the VMM's (`!memslot`,
// `!madvise`, `!balloon`) and an address space's teardown (`!exit`: the OS tears an mm
// down only when no CPU runs it).
bool is_barrier(const traces::Record& r) {
  switch (r.op) {
    case traces::EventOp::kMemslotAdd:
    case traces::EventOp::kMemslotDelete:
    case traces::EventOp::kMemslotMove:
    case traces::EventOp::kMadviseDontneed:
    case traces::EventOp::kMadvisePageout:
    case traces::EventOp::kMadviseCold:
    case traces::EventOp::kBalloonInflate:
    case traces::EventOp::kBalloonDeflate:
    case traces::EventOp::kExit:
      return r.is_event();
    default:
      return false;
  }
}

bool is_pte_write(const traces::Record& r) {
  return r.op == traces::EventOp::kPteUnmap || r.op == traces::EventOp::kPteRemap;
}

// `!cr3 ID`, `!exit ID`: the address-space id, which is the PCID (12 bits: SDM Vol. 3A
// 4.10.1), in every mode. `position`: the record's number, for the error.
std::uint16_t address_space_id(const traces::Record& r, std::uint64_t position) {
  if (r.address >= 4096) {
    throw std::runtime_error(
        "trace record " + std::to_string(position) + ": !" + std::string(traces::event_name(r.op)) +
        " " + std::to_string(r.address) + ": address-space ids are PCIDs, 0 to 4095");
  }
  return static_cast<std::uint16_t>(r.address);
}
}  // namespace

CoreModule::CoreModule(sc_core::sc_module_name name, const SimParams& params,
                       const CycleClock& clock, traces::TraceReader& trace,
                       stats::Group* stats_parent, std::function<void(std::uint64_t)> progress,
                       PageLife* page_life)
    : sc_core::sc_module(name),
      m_params(params),
      m_clock(clock),
      m_trace(trace),
      m_progress(std::move(progress)),
      m_stats_parent(stats_parent),
      m_window(*stats_parent),
      m_stats(stats_parent, "sim"),
      m_page_life(page_life),
      m_page_life_of_vm0(page_life),
      m_batch(kBatchRecords),
      m_page_walkers(params.core.page_walkers, params.core.walk_window,
                     params.core.cycles_per_access) {
  SC_HAS_PROCESS(CoreModule);
  SC_THREAD(run);
  m_gp.set_extension(&m_ext);
  m_gp.set_data_length(0);
  m_gp.set_streaming_width(0);
  m_gp.set_byte_enable_ptr(nullptr);
  m_gp.set_dmi_allowed(false);
}

CoreModule::~CoreModule() {
  m_gp.clear_extension(&m_ext);  // the extension is a member, not the payload's to delete
}

VmPressureStats::VmPressureStats(stats::Group* parent, std::string name,
                                 const stats::Counter& cycles, hostmm::VmmStats& vmm)
    : Group(parent, std::move(name)),
      pressure_cycles(
          *this, "pressure_cycles",
          "cycles host memory pressure cost the VM's vCPU: host_wait_cycles + "
          "shootdown_cycles (the VM exits of refaults not included: a lower bound)",
          [&vmm] { return double(vmm.host_wait_cycles.value() + vmm.shootdown_cycles.value()); }),
      slowdown(*this, "slowdown",
               "the VM's cycles over its cycles without the pressure: cycles / (cycles - "
               "pressure_cycles); 1 without pressure",
               [&cycles, &vmm] {
                 const double all = double(cycles.value());
                 const double without =
                     all - double(vmm.host_wait_cycles.value() + vmm.shootdown_cycles.value());
                 return without > 0 ? all / without : 1.0;
               }) {}

void CoreModule::end_of_elaboration() {
  const std::size_t vms = machine_port->vms();
  if (vms == 0) {
    throw std::logic_error("core: machine_port needs a machine");
  }
  m_vms.resize(vms);
  for (std::size_t vm = 0; vm < vms; ++vm) {
    m_vms[vm].any_machine = &machine_port->machine(vm);
  }
  m_processor = m_vms[0].any_machine->processor();
  const std::size_t cpus = m_processor.cpus;
  if (cpus == 0 || static_cast<std::size_t>(tlb_port.size()) != vms * cpus) {
    throw std::logic_error("core: tlb_port needs a TLB module per CPU of each VM");
  }
  for (std::size_t vm = 0; vm < vms; ++vm) {
    m_vms[vm].cpus.resize(cpus);
    for (std::size_t cpu = 0; cpu < cpus; ++cpu) {
      m_vms[vm].cpus[cpu].tlbs = &tlb_port[static_cast<int>(vm * cpus + cpu)]->hierarchy();
    }
    m_vms[vm].cpus[0].ran = true;  // each VM's records start on its CPU 0
    m_vms[vm].cpus[0].run_stamp = m_vms[vm].run_clock = 1;
    if (cpus > 1) {
      constexpr std::size_t kPcids = 4096;  // 12-bit PCIDs (SDM 4.10.1)
      m_vms[vm].tlb_gen.assign(kPcids, 0);
      for (Cpu& c : m_vms[vm].cpus) {
        c.seen_gen.assign(kPcids, 0);
      }
    }
  }
  m_shares = vms > 1 || cpus > 1;
  m_time = m_shares && m_params.sim.interleave == Interleave::kTime;
  m_vpid = m_processor.vpid;
  m_noncanonical_bits = m_processor.levels == 5 ? 64 - 57 : 64 - 48;
  m_direct = &machine_port->direct();
  m_tlbs = m_vms[0].cpus[0].tlbs;
  m_any_machine = m_vms[0].any_machine;
  stats::Group* parent = m_stats_parent;
  for (std::size_t vm = 0; vm < vms; ++vm) {
    Vm& v = m_vms[vm];
    const std::string name = "vm" + std::to_string(vm);
    if (vms > 1) {
      v.stats = std::make_unique<VcpuStats>(parent, name);
    }
    if (cpus > 1) {
      for (std::size_t cpu = 0; cpu < cpus; ++cpu) {
        v.cpus[cpu].stats = std::make_unique<CpuStats>(
            parent, (vms > 1 ? name + "." : std::string()) + "cpu" + std::to_string(cpu));
      }
    }
    if (v.any_machine->host_view().vmm != nullptr) {
      // What the host's pressure cost the VM.
      hostmm::VmmMemory& vmm = *v.any_machine->host_view().vmm;
      v.pressure = std::make_unique<VmPressureStats>(
          parent, name, vms > 1 ? v.stats->cycles : m_stats.cycles, vmm.stats());
    }
  }
}

void CoreModule::run() {
  try {
    for (Vm& v : m_vms) {
      v.any_machine->power_on();
    }
    m_warmup_left = m_params.sim.warmup;
    if (m_warmup_left != 0) {
      m_window.restrict();  // nothing counts until the warm-up is over
    }
    m_timeseries = stats::TimeSeries(m_params.sim.interval);
    m_next_sample = m_params.sim.interval != 0 ? m_params.sim.interval : kNever;
    m_next_mark = std::min(m_warmup_left != 0 ? m_warmup_left : kNever, m_next_sample);
    if (m_time) {
      run_interleaved();
      if (m_halt) {
        return;  // a CPU thread failed: fail() did the rest
      }
      if (m_params.sim.check && m_stopped_by == 0) {
        for (const Vm& v : m_vms) {
          // A PTE change whose old translation was used and whose INVLPG never came.
          if (std::string why = v.stale.unflushed_use(); !why.empty()) {
            throw std::runtime_error(why);
          }
        }
      }
    } else {
      run_in_trace_order();
    }
    if (m_shares) {
      settle_vm_share();
    }
    if (m_warmup_left != 0 && m_stopped_by == 0) {
      throw std::runtime_error("sim.warmup = " + std::to_string(m_params.sim.warmup) +
                               ": the trace has only " + std::to_string(m_replayed) +
                               " accesses, all of them warm-up: nothing was measured (lower "
                               "sim.warmup / --warmup)");
    }
    advance_elapsed();
    last_sample();
    m_window.settle();
    if (m_page_life_of_vm0 != nullptr) {
      m_page_life_of_vm0->finish();
    }
  } catch (...) {
    fail();
  }
}

void CoreModule::fail() {
  if (!m_failure) {
    m_failure = std::current_exception();
    m_halt = true;  // the other CPU threads (time) do nothing more
    try {
      advance_elapsed();
      last_sample();
      m_window.settle();  // the statistics up to the failure, for a partial output
    } catch (...) {
    }
  }
  sc_core::sc_stop();
}

// Inline: the replay loops' per-record step (both in this file).
inline std::uint64_t CoreModule::replay_record(const traces::Record& r) {
  if (r.is_event()) {
    m_page_walkers.serialise();  // MOV CR3, INVLPG, exits: serialising
    const Cycles c = handle_event(r, m_position);
    if (m_vms.size() > 1) [[unlikely]] {
      // The host may have reclaimed during the event (a guest table write's EPT violation,
      // a shadow sync faulting a table page in): the other VMs' shootdowns (the current
      // VM's came with the event).
      shoot_down_other_vms();
    }
    return count_event_cycles(c);
  }
  const std::uint64_t c = access(r).count();
  ++m_replayed;
  if (m_replayed == m_next_mark) [[unlikely]] {
    on_mark();  // the warm-up's end, a time-series sample
  }
  return c;
}

void CoreModule::run_in_trace_order() {
  std::uint64_t done = 0;
  for (;;) {
    std::size_t n = m_trace.read(m_batch);
    if (n == 0) {
      break;
    }
    std::uint64_t batch_cycles = 0;
    m_batch_end = m_batch.data() + n;
    // The same-page path counts runs of accesses at once (each run ends at the next mark:
    // the warm-up's end, a time-series sample); sim.check and --trace-page take every
    // access one by one.
    const bool repeats = !m_params.sim.check && m_page_life == nullptr;
    const auto charge_event = [&](Cycles c) { batch_cycles += count_event_cycles(c); };
    for (std::size_t i = 0; i < n; ++i) {
      if (m_shootdown.active) [[unlikely]] {
        // A run of !invlpg ends at the first other record: its IPIs go out first.
        if (m_batch[i].op != traces::EventOp::kInvlpg) {
          m_position = done + i;  // the run's last record
          charge_event(deliver_shootdown());
        }
      }
      if (repeats) {
        if (const std::size_t k = repeated_hits(i, n, done, batch_cycles); k != 0) {
          i += k - 1;
          continue;
        }
      }
      m_position = done + i + 1;
      m_next = i + 1 < n ? &m_batch[i + 1] : nullptr;
      batch_cycles += replay_record(m_batch[i]);
      m_next = nullptr;
    }
    m_qk.inc(m_clock.to_time(Cycles(batch_cycles)));
    if (m_qk.need_sync()) {
      m_qk.sync();
    }
    std::uint64_t before = done;
    done += n;
    if (m_progress && (before & ~kProgressMask) != (done & ~kProgressMask)) {
      m_progress(done);
    }
    if (stop_signal() != 0) [[unlikely]] {
      m_stopped_by = stop_signal();  // the statistics so far, marked partial by the caller
      break;
    }
  }
  if (m_shootdown.active) {
    // The trace ended (or stopped) after a run of !invlpg: its IPIs.
    const Cycles c = deliver_shootdown();
    count_event_cycles(c);
    m_qk.inc(m_clock.to_time(c));
  }
  m_qk.sync();
}

void CoreModule::run_interleaved() {
  m_read_batch.resize(kBatchRecords);
  m_batch.clear();  // each turn swaps its CPU's stream in (run_turn)
  for (std::size_t vm = 0; vm < m_vms.size(); ++vm) {
    for (std::size_t cpu = 0; cpu < m_vms[vm].cpus.size(); ++cpu) {
      m_vms[vm].cpus[cpu].qk = std::make_unique<QuantumKeeper>();
    }
  }
  // VM-major, as the TLBs are bound: the kernel starts them in an order of its own, the same
  // every run (SystemC's reference kernel is deterministic).
  m_threads_left = 0;
  for (std::size_t vm = 0; vm < m_vms.size(); ++vm) {
    for (std::size_t cpu = 0; cpu < m_vms[vm].cpus.size(); ++cpu) {
      const std::string name = "vm" + std::to_string(vm) + "_cpu" + std::to_string(cpu);
      sc_core::sc_spawn([this, vm, cpu] { run_cpu(vm, cpu); }, name.c_str());
      ++m_threads_left;
    }
  }
  while (m_threads_left != 0) {
    sc_core::wait(m_threads_done);
    if (m_halt) {
      return;
    }
  }
}

void CoreModule::make_room(Cpu& c, std::size_t records) {
  if (c.tail + records <= c.queue.size()) {
    return;
  }
  if (c.head != 0) {
    // The records run go: the rest to the front, the segments with them (the one that
    // holds the first record left begins there).
    std::copy(c.queue.begin() + static_cast<std::ptrdiff_t>(c.head),
              c.queue.begin() + static_cast<std::ptrdiff_t>(c.tail), c.queue.begin());
    std::size_t keep = 0;
    while (keep + 1 < c.segments.size() && c.segments[keep + 1].index <= c.head) {
      ++keep;
    }
    c.segments.erase(c.segments.begin(), c.segments.begin() + static_cast<std::ptrdiff_t>(keep));
    if (!c.segments.empty()) {
      c.segments[0].position += c.head - c.segments[0].index;
      c.segments[0].index = c.head;
      for (Cpu::Segment& g : c.segments) {
        g.index -= c.head;
      }
    }
    c.tail -= c.head;
    c.head = 0;
  }
  if (c.tail + records > c.queue.size()) {
    c.queue.resize(std::max(c.tail + records, 2 * c.queue.size()));
  }
}

void CoreModule::note_appended(Cpu& c, std::size_t count, std::uint64_t position) {
  if (count == 0) {
    return;
  }
  // A new segment unless the positions go on from the last one's.
  const bool goes_on = c.tail != c.head && !c.segments.empty() &&
                       c.segments.back().position + (c.tail - c.segments.back().index) == position;
  if (!goes_on) {
    if (c.tail == c.head) {
      c.segments.clear();  // nothing queued: no segment is needed any more
    }
    c.segments.push_back({c.tail, position});
  }
  c.tail += count;
  m_queued += count;
}

void CoreModule::append_to_stream(Cpu& c, const traces::Record* records, std::size_t count,
                                  std::uint64_t position) {
  make_room(c, count);
  std::copy(records, records + count, c.queue.begin() + static_cast<std::ptrdiff_t>(c.tail));
  note_appended(c, count, position);
}

void CoreModule::read_trace() {
  // The records go where the last `!cpu`/`!vm` said: read in place at that stream's tail,
  // up to the first `!cpu`/`!vm` or barrier (the rest, if any, copied out and sent on run
  // by run). A barrier is the last record sent: the rest wait in m_read_batch until it has
  // run (send_read).
  if (m_barrier) {
    return;  // nothing after a barrier is read before it runs
  }
  if (m_read_next != m_read_end) {
    send_read();
    m_queue_event.notify(sc_core::SC_ZERO_TIME);  // threads waiting for records or room
    return;
  }
  const std::size_t cpus = m_processor.cpus;
  const auto directive = [&](const traces::Record& r) {
    return (r.op == traces::EventOp::kCpu && r.address < cpus) ||
           (r.op == traces::EventOp::kVm && r.address < m_vms.size());
  };
  const std::uint64_t position = m_read_records + 1;  // the first record's, from 1
  Cpu* to = &m_vms[m_read_vm].cpus[m_vms[m_read_vm].read_cpu];
  make_room(*to, kBatchRecords);
  const std::size_t n =
      m_trace.read(std::span<traces::Record>(to->queue.data() + to->tail, kBatchRecords));
  if (n == 0) {
    m_trace_end = true;
  }
  const traces::Record* got = to->queue.data() + to->tail;
  std::size_t j = 0;
  while (j < n && !directive(got[j]) && !is_barrier(got[j]) && !is_pte_write(got[j])) {
    ++j;
  }
  if (j < n) [[unlikely]] {
    std::copy(got + j, got + n, m_read_batch.begin());
  }
  note_appended(*to, j, position);
  m_read_records += n;
  m_read_next = 0;
  m_read_end = n - j;
  m_read_position = position + j;
  send_read();
  m_queue_event.notify(sc_core::SC_ZERO_TIME);  // threads waiting for records or room
}

void CoreModule::send_read() {
  // `!cpu N`, `!vm N`: the records that follow (the directive first) go to that CPU's
  // stream. One out of range stays in the stream at hand, whose thread refuses it
  // (handle_event) naming its position. A barrier ends what is sent.
  const std::size_t cpus = m_processor.cpus;
  Cpu* to = &m_vms[m_read_vm].cpus[m_vms[m_read_vm].read_cpu];
  std::size_t first = m_read_next;  // of the run at hand, in m_read_batch
  const auto send = [&](std::size_t end) {
    if (end != first) {
      append_to_stream(*to, m_read_batch.data() + first, end - first, m_read_position + first);
      first = end;
    }
  };
  for (std::size_t i = m_read_next; i < m_read_end; ++i) {
    const traces::Record& r = m_read_batch[i];
    if ((r.op == traces::EventOp::kCpu && r.address < cpus) ||
        (r.op == traces::EventOp::kVm && r.address < m_vms.size())) {
      send(i);
      if (r.op == traces::EventOp::kCpu) {
        m_vms[m_read_vm].read_cpu = static_cast<std::size_t>(r.address);
      } else {
        m_read_vm = static_cast<std::size_t>(r.address);
      }
      to = &m_vms[m_read_vm].cpus[m_vms[m_read_vm].read_cpu];
    } else if (is_pte_write(r)) {
      // An INVLPG or PTE change of its page after it in the trace waits for it
      // (waits_for_pte_write).
      m_unrun_pte_writes.emplace(m_read_position + i, UnrunPteWrite{m_read_vm, r.address >> 12});
    } else if (is_barrier(r)) [[unlikely]] {
      send(i + 1);
      to->barrier = to->tail - 1;  // the stream's last record
      m_barrier = true;
      m_read_next = i + 1;
      return;
    }
  }
  send(m_read_end);
  m_read_next = m_read_end;
}

void CoreModule::deliver_before_wait(std::size_t vm, std::size_t cpu) {
  if (!m_shootdown.active) {
    return;
  }
  // Only the running CPU can hold one: every thread delivers its own before it waits.
  Cpu& me = m_vms[vm].cpus[cpu];
  m_position = me.last_position;  // the run's last record
  const Cycles c = deliver_shootdown();
  count_event_cycles(c);
  me.qk->inc(m_clock.to_time(c));
}

void CoreModule::run_cpu(std::size_t vm, std::size_t cpu) {
  Cpu& me = m_vms[vm].cpus[cpu];
  try {
    me.qk->reset();
    while (!m_halt && !m_stop) {
      if (me.head == me.barrier) [[unlikely]] {
        // The next record is a barrier (the trace's last one read): it runs when every
        // other thread has run its stream empty and waits at it (park_at_barrier), at
        // their latest time. This thread's time first (its IPIs, the cycles owed it).
        if (me.owed != 0 || me.qk->get_local_time() != sc_core::SC_ZERO_TIME ||
            m_shootdown.active) {
          deliver_before_wait(vm, cpu);
          me.qk->inc(m_clock.to_time(Cycles(me.owed)));
          me.owed = 0;
          me.qk->sync();
          continue;
        }
        if (m_at_barrier + 1 != m_threads_left) {
          sc_core::wait(m_drained);  // nothing yields between the test and the wait
          continue;
        }
        run_turn(vm, cpu);  // the barrier, at this time; the others resume at it
        continue;
      }
      if (me.pte_wait) [[unlikely]] {
        // The next record is an INVLPG or a PTE change of a page whose PTE change, before it
        // in the trace, is in another CPU's stream and has not run: this thread's time
        // first, then it waits for that change (nothing yields between the test and the
        // wait).
        if (me.owed != 0 || me.qk->get_local_time() != sc_core::SC_ZERO_TIME ||
            m_shootdown.active) {
          deliver_before_wait(vm, cpu);
          me.qk->inc(m_clock.to_time(Cycles(me.owed)));
          me.owed = 0;
          me.qk->sync();
          continue;
        }
        if (waits_for_pte_write(vm, stream_position(me, me.head), me.queue[me.head].address)) {
          sc_core::wait(m_pte_write_ran);
          continue;
        }
        me.pte_wait = false;
      }
      if (me.head == me.tail) {
        if (m_barrier) {
          park_at_barrier(vm, cpu);
          continue;
        }
        if (m_trace_end) {
          break;  // nothing more for this CPU
        }
        if (m_queued >= kQueueLimit && !me.pte_written) {
          // The others' streams are full: wait until they run some (or the trace ends).
          deliver_before_wait(vm, cpu);
          sc_core::wait(m_queue_event);
          continue;
        }
        read_trace();
        continue;
      }
      run_turn(vm, cpu);
    }
    if (m_halt) {
      return;
    }
    // The thread's end: its pending IPIs, and its time caught up (elapsed time).
    deliver_before_wait(vm, cpu);
    me.qk->inc(m_clock.to_time(Cycles(me.owed)));
    me.owed = 0;
    me.qk->sync();
  } catch (...) {
    fail();
    return;
  }
  if (--m_threads_left == 0) {
    m_threads_done.notify(sc_core::SC_ZERO_TIME);
  }
  m_queue_event.notify(sc_core::SC_ZERO_TIME);
  m_drained.notify(sc_core::SC_ZERO_TIME);  // a stop: a barrier's holder stops waiting
  m_pte_write_ran.notify(sc_core::SC_ZERO_TIME);
}

bool CoreModule::waits_for_pte_write(std::size_t vm, std::uint64_t position,
                                     std::uint64_t address) const {
  for (auto it = m_unrun_pte_writes.begin(); it != m_unrun_pte_writes.end() && it->first < position;
       ++it) {
    if (it->second.vm == vm && it->second.page == address >> 12) {
      return true;
    }
  }
  return false;
}

std::uint64_t CoreModule::stream_position(const Cpu& c, std::size_t index) const {
  std::size_t seg = 0;
  while (seg + 1 < c.segments.size() && c.segments[seg + 1].index <= index) {
    ++seg;
  }
  return c.segments[seg].position + (index - c.segments[seg].index);
}

void CoreModule::park_at_barrier(std::size_t vm, std::size_t cpu) {
  Cpu& me = m_vms[vm].cpus[cpu];
  // Its stream ran empty before a barrier: every record of this CPU's that precedes it in
  // the trace has run. Its IPIs go out and its time is brought up to date (the cycles
  // owed it too), then it waits for the barrier: the barrier's time is the latest of the
  // threads' (sc_time_stamp when the last arrives), and the thread resumes there.
  deliver_before_wait(vm, cpu);
  me.qk->inc(m_clock.to_time(Cycles(me.owed)));
  me.owed = 0;
  me.qk->sync();
  if (!m_barrier || m_halt || m_stop) {
    return;
  }
  ++m_at_barrier;
  m_drained.notify(sc_core::SC_ZERO_TIME);
  sc_core::wait(m_barrier_done);
  --m_at_barrier;
}

void CoreModule::run_turn(std::size_t vm, std::size_t cpu) {
  Cpu& me = m_vms[vm].cpus[cpu];
  // This CPU's state becomes the core's, as `!vm` and `!cpu` make it in trace order (the
  // CPU that ran before delivered its IPIs before it waited): it starts running records
  // (the host runs it: vm.pcpus), and a PV TLB flush flagged while it was preempted is
  // done now.
  if (vm != m_vm) {
    switch_vm(vm);
  }
  const Cycles entry = cpu != m_cpu ? switch_cpu(cpu) : Cycles();
  if (me.owed != 0) {
    // The shootdown handlers other CPUs made it run since it last ran.
    me.qk->inc(m_clock.to_time(Cycles(me.owed)));
    me.owed = 0;
  }
  // The cycles this CPU may run before its keeper's next sync point: whole cycles, since
  // every time here is a multiple of the period (sim.quantum's too).
  const std::uint64_t budget =
      static_cast<std::uint64_t>(me.qk->until_sync().value() / m_clock.period_fs());
  std::uint64_t batch_cycles = 0;
  const auto charge_event = [&](Cycles c) { batch_cycles += count_event_cycles(c); };
  charge_event(entry);
  const bool repeats = !m_params.sim.check && m_page_life == nullptr;
  const std::uint64_t per_access = m_params.core.cycles_per_access.count();
  // The stream's records in m_batch, where repeated_hits reads them; given back at the
  // block's end, before any wait (the reader appends to the stream).
  std::uint64_t ran = 0;
  {
    std::swap(m_batch, me.queue);
    struct GiveBack {
      std::vector<traces::Record>& a;
      std::vector<traces::Record>& b;
      ~GiveBack() { std::swap(a, b); }
    } give_back{m_batch, me.queue};
    const std::size_t begin = me.head;
    // A barrier (the stream's last record) runs only at the head of a turn that run_cpu
    // starts when every other thread waits at it.
    const bool barrier_now = me.barrier == begin;
    const std::size_t limit = me.barrier < me.tail && !barrier_now ? me.barrier : me.tail;
    const std::size_t n = std::min(limit, begin + kBatchRecords);
    // The trace positions: record x of segment `seg` is number base + x, up to next_index.
    std::size_t seg = 0;
    while (seg + 1 < me.segments.size() && me.segments[seg + 1].index <= begin) {
      ++seg;
    }
    std::uint64_t base = me.segments[seg].position - me.segments[seg].index;
    std::size_t next_index =
        seg + 1 < me.segments.size() ? me.segments[seg + 1].index : ~std::size_t{0};
    const auto position_of = [&](std::size_t x) {
      while (x >= next_index) [[unlikely]] {
          ++seg;
          base = me.segments[seg].position - me.segments[seg].index;
          next_index = seg + 1 < me.segments.size() ? me.segments[seg + 1].index : ~std::size_t{0};
        }
      return base + x;
    };
    m_position = me.last_position;  // this CPU's last record (a run of !invlpg's end)
    std::size_t i = begin;
    // A turn does not end between a `!ptewrite` and the record after it (its `!invlpg`).
    while (i < limit && (me.pte_written || (i < n && batch_cycles < budget))) {
      if (m_shootdown.active && m_batch[i].op != traces::EventOp::kInvlpg) [[unlikely]] {
        charge_event(deliver_shootdown());  // m_position: the run's last record
      }
      if (!m_unrun_pte_writes.empty() &&
          (m_batch[i].op == traces::EventOp::kInvlpg || is_pte_write(m_batch[i])) &&
          waits_for_pte_write(vm, position_of(i), m_batch[i].address)) [[unlikely]] {
        me.pte_wait = true;  // run_cpu waits until the earlier PTE change has run
        break;
      }
      if (repeats) {
        // A run of hits costs at least core.cycles_per_access each: at most one past the
        // budget.
        std::size_t end = n > i ? n : i + 1;  // past n only for a !ptewrite's !invlpg
        if (per_access != 0) {
          const std::uint64_t left = (budget - batch_cycles + per_access - 1) / per_access;
          end = static_cast<std::size_t>(
              std::min<std::uint64_t>(end, i + std::max<std::uint64_t>(left, 1)));
        }
        if (const std::size_t k = repeated_hits(i, end, 0, batch_cycles); k != 0) {
          me.pte_written = false;
          i += k;
          m_position = position_of(i - 1);
          continue;
        }
      }
      const traces::Record& r = m_batch[i];
      m_position = position_of(i);
      me.pte_written = false;
      batch_cycles += replay_record(r);
      me.pte_written = is_pte_write(r);
      if (me.pte_written) {
        m_unrun_pte_writes.erase(m_position);
        m_pte_write_ran.notify(sc_core::SC_ZERO_TIME);
      }
      ++i;
    }
    ran = i - begin;
    if (barrier_now && i != begin) [[unlikely]] {
      // The barrier ran: the reader goes on, the waiting threads resume (at this time).
      me.barrier = Cpu::kNoBarrier;
      m_barrier = false;
      m_barrier_done.notify(sc_core::SC_ZERO_TIME);
    }
    me.last_position = m_position;
    me.head = i;
    m_queued -= ran;
    if (me.head == me.tail) {
      me.head = 0;  // run empty: the room is reused from the front (make_room)
      me.tail = 0;
      me.segments.clear();
    }
  }
  const std::uint64_t before = m_records_run;
  m_records_run += ran;
  if (m_progress && (before & ~kProgressMask) != (m_records_run & ~kProgressMask)) {
    m_progress(m_records_run);
  }
  if (stop_signal() != 0) [[unlikely]] {
    m_stopped_by = stop_signal();  // every thread finishes; the statistics so far
    m_stop = true;
    m_queue_event.notify(sc_core::SC_ZERO_TIME);
    m_drained.notify(sc_core::SC_ZERO_TIME);
    m_barrier_done.notify(sc_core::SC_ZERO_TIME);
    m_pte_write_ran.notify(sc_core::SC_ZERO_TIME);
  }
  me.qk->inc(m_clock.to_time(Cycles(batch_cycles)));
  if (me.qk->need_sync() && !me.pte_written) {
    deliver_before_wait(vm, cpu);
    m_queue_event.notify(sc_core::SC_ZERO_TIME);  // room in the streams
    me.qk->sync();
  }
}

void CoreModule::on_mark() {
  if (m_warmup_left != 0 && m_replayed == m_params.sim.warmup) {
    m_warmup_left = 0;
    update_window();
  }
  if (m_replayed == m_next_sample) {
    if (m_shares) {
      settle_vm_share();  // the VMs' and CPUs' shares are counters too: bring them up to now
    }
    advance_elapsed();
    m_timeseries.sample(*m_stats_parent, m_replayed);
    m_next_sample += m_params.sim.interval;
  }
  m_next_mark = std::min(m_warmup_left != 0 ? m_params.sim.warmup : kNever, m_next_sample);
}

void CoreModule::last_sample() {
  // The last, shorter interval (live counters: before the window settles them).
  if (m_params.sim.interval != 0 &&
      (m_timeseries.empty() || m_timeseries.accesses().back() != m_replayed)) {
    m_timeseries.sample(*m_stats_parent, m_replayed);
  }
}

void CoreModule::advance_elapsed() {
  std::uint64_t now = 0;
  if (!m_time) {
    // The one thread's quantum keeper is told every cycle the run charges (sim.cycles): the
    // batches' and the cycles charged to other CPUs.
    now = m_stats.cycles.value();
  } else {
    // The running thread's time (its keeper's, to its last turn), the latest so far.
    sc_core::sc_time t = sc_core::sc_time_stamp();
    const Cpu& c = m_vms[m_vm].cpus[m_cpu];
    if (c.qk) {
      t += c.qk->get_local_time();
    }
    now = m_clock.to_cycles(t).count();
  }
  if (now > m_elapsed) {
    m_stats.elapsed_cycles += now - m_elapsed;
    m_elapsed = now;
  }
}

void CoreModule::update_window() {
  const bool count = m_warmup_left == 0 && (!m_roi_seen || m_in_roi);
  if (count == m_window.is_open()) {
    return;
  }
  if (m_shares) {
    settle_vm_share();  // the VMs' and CPUs' shares are statistics too: bring them up to now
  }
  advance_elapsed();
  count ? m_window.open() : m_window.close();
}

void CoreModule::region_of_interest(bool begin) {
  if (!m_roi_seen) {
    // The first mark: from now on only regions count, so what was counted before goes.
    m_roi_seen = true;
    m_window.discard();
  }
  m_in_roi = begin;
  update_window();
}

Cycles CoreModule::handle_event(const traces::Record& r, std::uint64_t position) {
  if (r.op == traces::EventOp::kRoiBegin || r.op == traces::EventOp::kRoiEnd) {
    // Marks for the statistics, in every mode; not events of the machine (not counted).
    region_of_interest(r.op == traces::EventOp::kRoiBegin);
    return Cycles();
  }
  ++m_stats.events;
  if (m_page_life != nullptr) {
    m_page_life->at(position);
  }
  if ((r.op == traces::EventOp::kInvlpg || r.op == traces::EventOp::kPteUnmap ||
       r.op == traces::EventOp::kPteRemap) &&
      !canonical(r.address)) [[unlikely]] {
    if (r.op == traces::EventOp::kInvlpg) {
      // "If the memory address is in non-canonical form ... INVLPG is the same as a NOP"
      // (SDM Vol. 2A, INVLPG): no entry can translate it.
      ++m_stats.invlpgs;
      return Cycles();
    }
    noncanonical(r, r.address, position);  // no paging structure maps such an address
  }
  if (r.op == traces::EventOp::kCpu) {
    if (r.address >= m_processor.cpus) {
      const std::size_t cpus = m_processor.cpus;
      throw std::runtime_error(
          "trace record " + std::to_string(position) + ": !cpu " + std::to_string(r.address) +
          ": " + (m_vms.size() > 1 ? "VM " + std::to_string(m_vm) : std::string("the machine")) +
          " has " +
          (cpus == 1 ? std::string("one CPU, CPU 0")
                     : std::to_string(cpus) + " CPUs, 0 to " + std::to_string(cpus - 1)) +
          " (" + std::string(m_processor.cpus_key) + ")");
    }
    ++m_stats.cpu_switches;
    return switch_cpu(static_cast<std::size_t>(r.address));
  }
  try {
    if (const std::optional<machine::GuestEvent> event = guest_event(r, position)) {
      return handle_guest_event(*event, r, position);
    }
    switch (r.op) {
      case traces::EventOp::kMadviseDontneed:
      case traces::EventOp::kMadvisePageout:
      case traces::EventOp::kMadviseCold:
      case traces::EventOp::kBalloonInflate:
      case traces::EventOp::kBalloonDeflate:
      case traces::EventOp::kVm:
        if (host_side().mm == nullptr) {
          unsupported_event(r, position);  // a machine with no host (native)
        }
        return handle_host_event(r, position);  // flushes and audits itself
      default:
        unsupported_event(r, position);
    }
  } catch (const std::invalid_argument& err) {  // host::MemslotError among them
    const std::string what = err.what();
    throw std::runtime_error(
        "trace record " + std::to_string(position) + ": " +
        (what.starts_with("!") ? what : "!" + std::string(traces::event_name(r.op)) + ": " + what));
  }
}

std::optional<machine::GuestEvent> CoreModule::guest_event(const traces::Record& r,
                                                           std::uint64_t position) const {
  using Kind = machine::GuestEvent::Kind;
  machine::GuestEvent e;
  e.pcid = m_pcid;
  e.gva = Gva(r.address);
  switch (r.op) {
    case traces::EventOp::kCr3:
      e.kind = Kind::kCr3;
      e.pcid = address_space_id(r, position);
      return e;
    case traces::EventOp::kInvlpg:
      e.kind = Kind::kInvlpg;
      return e;
    case traces::EventOp::kPteUnmap:
      e.kind = Kind::kPteUnmap;
      return e;
    case traces::EventOp::kPteRemap:
      e.kind = Kind::kPteRemap;
      return e;
    case traces::EventOp::kExit:
      e.kind = Kind::kExit;
      e.asid = address_space_id(r, position);
      return e;
    case traces::EventOp::kMemslotAdd:
    case traces::EventOp::kMemslotDelete:
    case traces::EventOp::kMemslotMove:
      e.kind = r.op == traces::EventOp::kMemslotAdd      ? Kind::kMemslotAdd
               : r.op == traces::EventOp::kMemslotDelete ? Kind::kMemslotDelete
                                                         : Kind::kMemslotMove;
      e.slot = static_cast<std::uint32_t>(r.address);
      e.gpa = Gpa(r.arg1);
      e.bytes = r.arg2;
      e.readonly = (r.flags & traces::kEventReadonly) != 0;
      return e;
    default:
      return std::nullopt;
  }
}

Cycles CoreModule::handle_guest_event(const machine::GuestEvent& event, const traces::Record& r,
                                      std::uint64_t position) {
  using Kind = machine::GuestEvent::Kind;
  if (!m_any_machine->models(event.kind)) {
    unsupported_event(r, position);
  }
  const bool memslot = event.kind == Kind::kMemslotAdd || event.kind == Kind::kMemslotDelete ||
                       event.kind == Kind::kMemslotMove;
  if (memslot) {
    ++m_stats.memslot_changes;
  }
  if (m_time && m_params.sim.check &&
      (event.kind == Kind::kPteUnmap || event.kind == Kind::kPteRemap)) [[unlikely]] {
    // The translation from before the change, which the other CPUs (and this one) may use
    // until the page's INVLPG (SDM Vol. 3A 4.10.5): --check accepts it until then.
    open_stale_window(event.pcid, event.gva, position);
  }
  machine::GuestEvent cr3 = event;
  if (event.kind == Kind::kCr3) {
    // MOV CR3 to the address space's root with CR4.PCIDE = 1 and the no-flush bit set, as
    // Linux switches mm with PCIDs: entries stay, tagged by PCID (SDM 4.10.1). The
    // address-space id is the PCID, which has 12 bits. The machine's part: native loads
    // the root; nested nothing (the guest's MOV CR3 does not exit with EPT); shadow exits
    // and KVM loads the shadow root.
    m_asid = event.pcid;
    m_pcid = event.pcid;
    Vm& v = m_vms[m_vm];
    if (!v.tlb_gen.empty()) {
      // Several CPUs: back to an address space whose pages were flushed while this CPU ran
      // another, it was no shootdown target; Linux's switch_mm_irqs_off sees its tlb_gen
      // behind the mm's and switches with a flush (the no-flush bit clear).
      std::uint64_t& seen = v.cpus[m_cpu].seen_gen[event.pcid];
      if (seen != v.tlb_gen[event.pcid]) {
        seen = v.tlb_gen[event.pcid];
        cr3.flush = true;
        m_tlbs->invalidate_pcid(event.pcid, m_vpid);
        ++m_stats.switch_flushes;
      }
    }
  }
  // The machine's part (the OS's, its walker's caches, KVM's: VM exits whose cycles count
  // in sim.event_cycles and the translation cycles).
  const machine::EventResult e = m_any_machine->handle(cr3);
  switch (event.kind) {
    case Kind::kCr3:
      ++m_stats.cr3_writes;
      break;
    case Kind::kInvlpg:
      // INVLPG drops the page's TLB entries (any page size) in the current PCID, whatever
      // the machine requests (SDM 4.10.4.1); in a guest, those of its VPID.
      m_tlbs->invalidate_page(event.gva, m_pcid, m_vpid);
      ++m_stats.invlpgs;
      if (!m_vms[m_vm].stale.empty()) [[unlikely]] {
        // The window of a PTE change of the page closes (its shootdown to the other CPUs
        // goes out before any other record runs).
        m_vms[m_vm].stale.close_page(m_pcid, event.gva);
      }
      if (m_page_life != nullptr && m_page_life->covers(event.gva)) {
        m_page_life->invlpg(position);
      }
      if (m_vms[m_vm].cpus.size() > 1) [[unlikely]] {
        // The local part of Linux's flush_tlb_mm_range: the other CPUs of the address
        // space get the run's pages by IPI when the run ends (deliver_shootdown).
        m_shootdown.active = true;
        m_shootdown.pcid = m_pcid;
        m_shootdown.pages.push_back(event.gva);
      }
      break;
    default:
      // !ptewrite: as on hardware, TLB and paging-structure-cache entries stay until the
      // trace's !invlpg (or what the machine flushes). !exit: Linux flushes the PCID before
      // it serves another mm: the machine answers that flush; the id's next use is a fresh
      // address space.
      break;
  }
  if (event.kind == Kind::kExit && !m_vms[m_vm].stale.empty()) [[unlikely]] {
    m_vms[m_vm].stale.close_pcid(event.asid);  // the address space is gone
  }
  if (event.kind == Kind::kExit || e.flush.scope == TlbFlush::Scope::kAll) {
    // A torn-down address space's PCID, on every CPU before another mm uses it; a flush of
    // everything is KVM's remote flush (kvm_flush_remote_tlbs): every vCPU.
    apply_flush_every_cpu(m_vm, e.flush);
  } else {
    apply_flush(e.flush);  // the current CPU's (INVLPG, a CR3 write)
  }
  if (e.zapped && m_page_life != nullptr) {
    m_page_life->memslot_zap(position, event.kind == Kind::kMemslotDelete ? "del" : "move",
                             *e.zapped);
  }
  // The host's requests during the event (nested: a guest table write's EPT violation may
  // have reclaimed): every vCPU's (an mmu_notifier's kvm_flush_remote_tlbs).
  apply_flush_every_cpu(m_vm, e.requests.flush);
  return e.cycles + e.requests.owed;
}

void CoreModule::open_stale_window(std::uint16_t pcid, Gva gva, std::uint64_t position) {
  // The page the tables' leaf maps (INVLPG of any address in it flushes every entry made
  // from it): a guest's large page under smaller EPT pages is one page of several pieces,
  // each its own translation. The pieces a CPU's TLBs hold are the ones that can be used
  // from before the change (a walk after it reads the new tables); each is recorded as the
  // tables gave it before. The changed address's own piece may have none (its EPT page
  // not mapped yet): then a held piece nearby tells the page's size.
  const auto held = [&](std::uint64_t a) -> const Translation* {
    for (const Cpu& c : m_vms[m_vm].cpus) {
      for (const AccessKind kind : {AccessKind::kRead, AccessKind::kFetch}) {
        if (const Translation* t = c.tlbs->probe(kind, Gva(a), pcid, m_vpid).entry) {
          return t;
        }
      }
    }
    return nullptr;
  };
  const auto page_of = [](const Translation& t) {
    return std::max(page_bytes(t.size), page_bytes(t.linear_size));
  };
  const std::optional<Translation> old =
      m_any_machine->reference_translation(gva, pcid, Translation{}).want;
  std::uint64_t bytes = old ? page_of(*old) : 4096;
  if (!old) {
    constexpr std::uint64_t k2M = std::uint64_t{1} << 21;
    const std::uint64_t near = gva.value() & ~(k2M - 1);
    for (std::uint64_t a = near; a < near + k2M; a += 4096) {
      if (const Translation* t = held(a);
          t != nullptr && (a & ~(page_of(*t) - 1)) == (gva.value() & ~(page_of(*t) - 1))) {
        bytes = std::max(bytes, page_of(*t));
      }
    }
    if (bytes == 4096) {
      return;  // nothing of the page is mapped or held: nothing can go stale
    }
  }
  const std::uint64_t base = gva.value() & ~(bytes - 1);
  StaleWindows& windows = m_vms[m_vm].stale;
  windows.open(pcid, base, bytes, position);
  if (old) {
    windows.add(gva, *old);
    if (page_bytes(old->size) == bytes) {
      return;
    }
  }
  const std::uint64_t own = old ? gva.value() & ~(page_bytes(old->size) - 1) : ~std::uint64_t{0};
  for (std::uint64_t a = base; a < base + bytes;) {
    if (a == own || held(a) == nullptr) {
      a += 4096;
      continue;
    }
    const std::optional<Translation> piece =
        m_any_machine->reference_translation(Gva(a), pcid, Translation{}).want;
    if (!piece) {
      a += 4096;
      continue;
    }
    windows.add(Gva(a), *piece);
    a = (a & ~(page_bytes(piece->size) - 1)) + page_bytes(piece->size);
  }
}

CoreModule::HostSide CoreModule::host_side() {
  return HostSide{m_any_machine->host_view(), os::thp_page_size(m_params.host.thp)};
}

Cycles CoreModule::handle_host_event(const traces::Record& r, std::uint64_t position) {
  const std::string where = "trace record " + std::to_string(position) + ": !" +
                            std::string(traces::event_name(r.op)) + " ";
  if (r.op == traces::EventOp::kVm) {
    if (r.address >= m_vms.size()) {
      throw std::runtime_error(where + std::to_string(r.address) + ": the host runs " +
                               (m_vms.size() == 1 ? std::string("one VM, VM 0")
                                                  : std::to_string(m_vms.size()) + " VMs, 0 to " +
                                                        std::to_string(m_vms.size() - 1)) +
                               " (the key vms)");
    }
    switch_vm(static_cast<std::size_t>(r.address));
    return Cycles();
  }
  ++m_stats.host_events;
  const HostSide h = host_side();
  switch (r.op) {
    case traces::EventOp::kMadviseDontneed:
    case traces::EventOp::kMadvisePageout:
    case traces::EventOp::kMadviseCold: {
      const auto advice =
          r.op == traces::EventOp::kMadviseDontneed  ? hostmm::VmmMemory::Advice::kDontneed
          : r.op == traces::EventOp::kMadvisePageout ? hostmm::VmmMemory::Advice::kPageout
                                                     : hostmm::VmmMemory::Advice::kCold;
      const std::uint64_t begin = r.address;
      const std::uint64_t end = r.address + r.arg1;
      if (begin >= host::Hypervisor::kRamBase.value()) {
        h.vmm->madvise(advice, Hva(begin), Hva(end));  // the VMM's own HVAs
      } else {
        // GPAs: each memslot's part of the range, through its HVA.
        for (const host::Memslot& slot : h.slots->slots()) {
          const std::uint64_t lo = std::max(begin, slot.base.value());
          const std::uint64_t hi = std::min(end, slot.end().value());
          if (lo < hi) {
            h.vmm->madvise(advice, slot.to_hva(Gpa(lo)), slot.to_hva(Gpa(lo)) + (hi - lo));
          }
        }
      }
      break;
    }
    case traces::EventOp::kBalloonInflate:
      try {
        m_vms[m_vm].balloon.inflate(
            r.address, *h.guest_frames, *h.vmm,
            [&](Gpa gpa) -> std::optional<Hva> {
              const host::Memslot* slot = h.slots->find(gpa);
              return slot != nullptr ? std::optional<Hva>(slot->to_hva(gpa)) : std::nullopt;
            },
            h.host_page);
      } catch (const mem::OutOfMemory&) {
        throw std::runtime_error(where + std::to_string(r.address) +
                                 ": the guest has no free memory left (the balloon holds " +
                                 std::to_string(m_vms[m_vm].balloon.pages()) + " pages)");
      }
      break;
    case traces::EventOp::kBalloonDeflate:
      m_vms[m_vm].balloon.deflate(r.address, *h.guest_frames);
      break;
    default:
      unsupported_event(r, position);
  }
  const Cycles c = take_host_flush();
  if (m_vms.size() > 1) {
    shoot_down_other_vms();
  }
  if (m_params.sim.check) {
    audit_host("the event");
  }
  return c;
}

CoreModule::Share CoreModule::share_now() const {
  return {m_stats.accesses.value(), m_stats.reads.value(),  m_stats.writes.value(),
          m_stats.fetches.value(),  m_stats.cycles.value(), m_stats.translation_cycles.value(),
          m_stats.events.value()};
}

void CoreModule::settle_vm_share() {
  const Share now = share_now();
  if (VcpuStats* v = m_vms[m_vm].stats.get()) {
    v->accesses += now.accesses - m_share_base.accesses;
    v->reads += now.reads - m_share_base.reads;
    v->writes += now.writes - m_share_base.writes;
    v->fetches += now.fetches - m_share_base.fetches;
    v->cycles += now.cycles - m_share_base.cycles;
    v->translation_cycles += now.translation_cycles - m_share_base.translation_cycles;
    v->events += now.events - m_share_base.events;
  }
  if (CpuStats* c = m_vms[m_vm].cpus[m_cpu].stats.get()) {
    c->accesses += now.accesses - m_cpu_share_base.accesses;
    c->cycles += now.cycles - m_cpu_share_base.cycles;
    c->translation_cycles += now.translation_cycles - m_cpu_share_base.translation_cycles;
    c->events += now.events - m_cpu_share_base.events;
  }
  m_share_base = now;
  m_cpu_share_base = now;
}

void CoreModule::park_cpu() {
  Cpu& out = m_vms[m_vm].cpus[m_cpu];
  out.asid = m_asid;
  out.pcid = m_pcid;
  out.last_page_size = m_last_page_size;
}

void CoreModule::resume_cpu(std::size_t vm, std::size_t cpu) {
  m_vm = vm;
  m_cpu = cpu;
  Vm& v = m_vms[vm];
  v.cpu = cpu;
  Cpu& in = v.cpus[cpu];
  in.ran = true;
  m_tlbs = in.tlbs;
  m_any_machine = v.any_machine;
  m_any_machine->switch_cpu(static_cast<unsigned>(cpu));
  m_asid = in.asid;
  m_pcid = in.pcid;
  m_last_page_size = in.last_page_size;
  m_page_life = vm == 0 ? m_page_life_of_vm0 : nullptr;
}

void CoreModule::switch_vm(std::size_t vm) {
  if (vm == m_vm) {
    return;
  }
  settle_vm_share();
  m_page_walkers.serialise();  // another core's walks
  park_cpu();
  resume_cpu(vm, m_vms[vm].cpu);  // the VM's records go on on its current CPU
}

Cycles CoreModule::switch_cpu(std::size_t cpu) {
  if (cpu == m_cpu) {
    return Cycles();
  }
  settle_vm_share();
  m_page_walkers.serialise();  // another core's walks
  park_cpu();
  Vm& v = m_vms[m_vm];
  v.cpus[cpu].run_stamp = ++v.run_clock;  // the host runs it now (preempted())
  resume_cpu(m_vm, cpu);
  Cpu& in = v.cpus[cpu];
  if (!in.guest_flush_pending) {
    return Cycles();
  }
  // A shootdown flagged it while the host had it preempted (the PV TLB flush): KVM sees
  // KVM_VCPU_FLUSH_TLB in its steal-time area at this entry (record_steal_time) and flushes
  // the guest's TLB (kvm_vcpu_flush_tlb_guest): every entry of its VPID, the machine's caches.
  in.guest_flush_pending = false;
  const machine::EventResult e = m_any_machine->flush_tlb_guest();
  m_tlbs->invalidate_vpid(m_vpid);
  ++m_stats.remote_flushes;
  ++in.stats->remote_flushes;
  apply_flush_every_cpu(m_vm, e.flush);
  apply_flush_every_cpu(m_vm, e.requests.flush);
  return e.cycles + e.requests.owed;
}

bool CoreModule::preempted(const Vm& v, std::size_t cpu) const {
  const unsigned host_cpus = m_processor.host_cpus;
  if (host_cpus == 0 || host_cpus >= v.cpus.size()) {
    return false;  // a host CPU each
  }
  const std::uint64_t stamp = v.cpus[cpu].run_stamp;
  unsigned later = 0;
  for (const Cpu& c : v.cpus) {
    later += c.run_stamp > stamp ? 1 : 0;
  }
  return later >= host_cpus;
}

std::uint64_t CoreModule::count_event_cycles(Cycles c) {
  m_stats.event_cycles += c.count();
  m_stats.cycles += c.count();
  m_stats.translation_cycles += c.count();
  return c.count();
}

void CoreModule::charge_other_cpu(std::size_t cpu, Cycles c) {
  if (c.count() == 0) {
    return;
  }
  // In the totals and the VM's share, not the current CPU's.
  CpuStats& s = *m_vms[m_vm].cpus[cpu].stats;
  s.cycles += c.count();
  s.translation_cycles += c.count();
  m_stats.cycles += c.count();
  m_stats.translation_cycles += c.count();
  m_stats.event_cycles += c.count();
  m_cpu_share_base.cycles += c.count();
  m_cpu_share_base.translation_cycles += c.count();
  owe_time(m_vms[m_vm].cpus[cpu], c);
}

void CoreModule::owe_time(Cpu& cpu, Cycles c) {
  if (m_time) {
    cpu.owed += c.count();  // its thread's time too, when it next runs
  } else {
    m_qk.inc(m_clock.to_time(c));  // the one thread's time: every CPU's cycles, summed
  }
}

Cycles CoreModule::deliver_shootdown() {
  // Linux's flush_tlb_mm_range (arch/x86/mm/tlb.c): the local flush was the trace's INVLPGs;
  // the CPUs in the mm's cpumask other than this one get an IPI (flush_tlb_multi) and run
  // flush_tlb_func: an INVLPG per page, or a flush of the whole address space beyond
  // tlb_single_page_flush_ceiling (33 pages). Lazy-TLB CPUs are not modelled: a trace
  // records no switch to a kernel thread.
  static constexpr std::size_t kSinglePageFlushCeiling = 33;
  PendingShootdown run;
  std::swap(run, m_shootdown);
  m_shootdown.pages.clear();
  Vm& v = m_vms[m_vm];
  // inc_mm_tlb_gen: the address space's tables changed; this CPU and the targets catch up
  // now, the CPUs away from it when they switch back (handle_guest_event, !cr3).
  const std::uint64_t gen = ++v.tlb_gen[run.pcid];
  v.cpus[m_cpu].seen_gen[run.pcid] = gen;
  // The current CPU's PCID is what its state holds now (it ran the INVLPGs). A target the
  // host has preempted (vm.pcpus) gets, with the guest's PV TLB flush, a flag in place of
  // the IPI (kvm_flush_tlb_multi: KVM_VCPU_FLUSH_TLB in its steal-time area, and out of the
  // IPI mask); without it, the IPI, whose handler runs only when the host runs the target.
  std::vector<std::size_t> targets;
  unsigned waiting = 0;  // IPI targets the host has preempted
  bool flagged = false;
  for (std::size_t cpu = 0; cpu < v.cpus.size(); ++cpu) {
    if (cpu == m_cpu || !v.cpus[cpu].ran || v.cpus[cpu].pcid != run.pcid) {
      continue;
    }
    if (preempted(v, cpu)) [[unlikely]] {
      if (m_processor.pv_tlb_flush) {
        // Its TLB goes when it runs again (switch_cpu); Linux's flush_tlb_func does not
        // run there, so its tlb_gen stays behind (seen_gen untouched).
        v.cpus[cpu].guest_flush_pending = true;
        ++m_stats.pv_tlb_flushes;
        flagged = true;
        continue;
      }
      ++waiting;
    }
    targets.push_back(cpu);
  }
  if (targets.empty()) {
    if (flagged) {
      ++m_stats.shootdowns;  // every target flagged: no IPI, nothing to wait for
    }
    return Cycles();  // else the address space runs on this CPU only: no IPI
  }
  const unsigned k = static_cast<unsigned>(targets.size());
  ++m_stats.shootdowns;
  m_stats.ipis += k;
  m_stats.preempted_ipis += waiting;
  // The sender: an IPI per target (and a guest's VM exits for them), then it waits for the
  // handlers, which run at once on the running targets, and on a preempted one when the
  // host runs it again (vm.preempted_ipi_wait).
  const machine::IpiExits exits = m_any_machine->send_ipis(k);
  const Cycles sender = Cycles(k * m_params.core.ipi_cycles.count()) +
                        m_params.core.ipi_handler_cycles + exits.cycles +
                        (waiting != 0 ? m_processor.preempted_ipi_wait : Cycles());
  m_stats.shootdown_cycles += sender.count();
  const bool whole = run.pages.size() > kSinglePageFlushCeiling;
  const std::size_t sender_cpu = m_cpu;
  for (const std::size_t t : targets) {
    Cpu& target = v.cpus[t];
    target.seen_gen[run.pcid] = gen;
    m_any_machine->switch_cpu(static_cast<unsigned>(t));
    Cycles handler = m_params.core.ipi_handler_cycles;
    if (whole) {
      target.tlbs->invalidate_pcid(run.pcid, m_vpid);
    }
    for (std::size_t i = 0; i < (whole ? 1 : run.pages.size()); ++i) {
      machine::GuestEvent invlpg;
      invlpg.kind = machine::GuestEvent::Kind::kInvlpg;
      invlpg.pcid = run.pcid;
      invlpg.gva = run.pages[i];
      if (!whole) {
        target.tlbs->invalidate_page(invlpg.gva, run.pcid, m_vpid);
      }
      // The target's walker caches (INVLPG drops the PCID's paging-structure-cache entries,
      // SDM 4.10.4.1), and what the machine does for an INVLPG on that CPU.
      const machine::EventResult e = m_any_machine->handle(invlpg);
      handler += e.cycles + e.requests.owed;
      apply_flush(*target.tlbs, e.flush);
      apply_flush_every_cpu(m_vm, e.requests.flush);
    }
    ++target.stats->ipis_received;
    ++target.stats->remote_flushes;
    ++m_stats.remote_flushes;
    m_stats.shootdown_cycles += handler.count();
    charge_other_cpu(t, handler);
  }
  m_any_machine->switch_cpu(static_cast<unsigned>(sender_cpu));
  return sender;
}

void CoreModule::apply_flush_every_cpu(std::size_t vm, const TlbFlush& flush) {
  if (flush.scope == TlbFlush::Scope::kNone) {
    return;
  }
  Vm& v = m_vms[vm];
  for (std::size_t cpu = 0; cpu < v.cpus.size(); ++cpu) {
    apply_flush(*v.cpus[cpu].tlbs, flush);
    if (vm != m_vm || cpu != m_cpu) {
      ++m_stats.remote_flushes;
      if (v.cpus[cpu].stats) {
        ++v.cpus[cpu].stats->remote_flushes;
      }
    }
  }
}

void CoreModule::shoot_down_other_vms() {
  const hostmm::HostMm& mm = *host_side().mm;  // shared by the VMs
  if (mm.invalidations() == m_shot_invalidations) {
    return;
  }
  m_shot_invalidations = mm.invalidations();
  for (std::size_t vm = 0; vm < m_vms.size(); ++vm) {
    if (vm == m_vm) {
      continue;  // the current VM's flush came with its touch or event
    }
    Vm& v = m_vms[vm];
    // Nested: every entry of the VM (its walker's caches went with the zap: INVEPT).
    const machine::VcpuRequests requests = v.any_machine->take_requests();
    apply_flush_every_cpu(vm, requests.flush);
    const Cycles c = requests.owed;
    if (c.count() != 0) {
      // The IPI interrupted that VM's vCPU: its cycles, in the totals, not the current VM's.
      v.stats->cycles += c.count();
      v.stats->translation_cycles += c.count();
      if (CpuStats* s = v.cpus[v.cpu].stats.get()) {
        s->cycles += c.count();
        s->translation_cycles += c.count();
      }
      owe_time(v.cpus[v.cpu], c);
      m_stats.cycles += c.count();
      m_stats.translation_cycles += c.count();
      m_share_base.cycles += c.count();
      m_share_base.translation_cycles += c.count();
      m_cpu_share_base.cycles += c.count();
      m_cpu_share_base.translation_cycles += c.count();
    }
  }
}

Cycles CoreModule::take_host_flush() {
  const machine::VcpuRequests requests = m_any_machine->take_requests();
  // Every vCPU of the VM (kvm_flush_remote_tlbs; nested: every entry of the VM, INVEPT).
  apply_flush_every_cpu(m_vm, requests.flush);
  return requests.owed;
}

void CoreModule::audit_host(const char* after) {
  const HostSide h = host_side();
  if (h.mm == nullptr || h.mm->invalidations() == m_audited_invalidations) {
    return;
  }
  m_audited_invalidations = h.mm->invalidations();
  ++m_stats.host_audits;
  std::string why = h.mm->audit_accounting();
  const mem::FrameAllocator& frames = h.mm->frames();
  for (std::size_t vm = 0; vm < m_vms.size(); ++vm) {
    const Vm& v = m_vms[vm];
    const std::string of = m_vms.size() == 1 ? "" : " of VM " + std::to_string(vm);
    for (std::size_t cpu = 0; cpu < v.cpus.size(); ++cpu) {
      const std::string on = v.cpus.size() == 1 ? "" : " on CPU " + std::to_string(cpu);
      v.cpus[cpu].tlbs->for_each_entry(
          [&](const Translation& t, std::uint16_t pcid, std::uint16_t vpid) {
            machine::note_free_frame(why, frames, t.page_base,
                                     "a TLB entry" + of + on + " (PCID " + std::to_string(pcid) +
                                         ", VPID " + std::to_string(vpid) + ")");
          });
    }
    if (why.empty()) {
      why = v.any_machine->audit_free_frames(frames, of);  // its walker's caches, EPT, shadow
    }
  }
  if (!why.empty()) {
    throw std::runtime_error("trace record " + std::to_string(m_position) + ": after " + after +
                             ", host reclaim left a stale entry: " + why);
  }
}

void CoreModule::unsupported_event(const traces::Record& r, std::uint64_t position) const {
  throw std::runtime_error("trace record " + std::to_string(position) + ": the event '!" +
                           std::string(traces::event_name(r.op)) + "' is not supported in mode " +
                           std::string(m_processor.mode) + " (" + std::string(m_processor.mode) +
                           " mode takes " + std::string(m_processor.events_taken) + ")");
}

void CoreModule::noncanonical(const traces::Record& r, std::uint64_t address,
                              std::uint64_t position) const {
  const std::string what = r.is_event() ? "!" + std::string(traces::event_name(r.op))
                                        : std::string(1, r.kind == AccessKind::kRead    ? 'R'
                                                         : r.kind == AccessKind::kWrite ? 'W'
                                                                                        : 'X');
  const unsigned width = 64 - m_noncanonical_bits;
  throw std::runtime_error(
      "trace record " + std::to_string(position) + ": " + what + " " + hex(r.address) +
      ": the address " + hex(address) + " is not canonical with " + std::to_string(width) +
      "-bit linear addresses (bits 63 to " + std::to_string(width - 1) +
      " must all equal; x86 raises #GP on such an access, SDM Vol. 1 3.3.7.1)" +
      (width == 48 ? "; 5-level paging (" + std::string(m_processor.levels_key) +
                         "=5) widens them to 57 bits"
                   : ""));
}

void CoreModule::apply_flush(tlb::TlbHierarchy& tlbs, const TlbFlush& flush) {
  using Scope = TlbFlush::Scope;
  switch (flush.scope) {
    case Scope::kNone:
      return;
    case Scope::kPage:
      tlbs.invalidate_page(flush.gva, flush.pcid, m_vpid);
      return;
    case Scope::kPcid:
      tlbs.invalidate_pcid(flush.pcid, m_vpid);
      return;
    case Scope::kAll:
      tlbs.invalidate_vpid(m_vpid);
      return;
  }
}

std::size_t CoreModule::repeated_hits(std::size_t i, std::size_t n, std::uint64_t done,
                                      std::uint64_t& batch_cycles) {
  // The common answer first, in a few instructions (every access of a pattern that misses
  // asks): not the page of the L1's last hit.
  const traces::Record& r = m_batch[i];
  if (r.is_event()) {
    return 0;
  }
  tlb::Tlb& l1 = r.kind == AccessKind::kFetch ? m_tlbs->l1i() : m_tlbs->l1d();
  // A canonical page: the last hit's access passed the checks, and every byte here is in it.
  const Translation* entry = l1.last_hit(Gva(r.address), m_pcid, m_vpid);
  if (entry == nullptr) {
    return 0;
  }
  return count_repeated_hits(i, n, done, batch_cycles, l1, *entry);
}

std::size_t CoreModule::count_repeated_hits(std::size_t i, std::size_t n, std::uint64_t done,
                                            std::uint64_t& batch_cycles, tlb::Tlb& l1,
                                            const Translation& hit) {
  const traces::Record& r = m_batch[i];
  const auto in_page = [](const traces::Record& q) {
    return (q.address & 0xfff) + q.size <= 4096;  // q.size >= 1; no byte on the next page
  };
  if (!in_page(r)) {
    return 0;
  }
  const bool fetch = r.kind == AccessKind::kFetch;
  const Translation* entry = &hit;
  const std::uint64_t page = r.address >> 12;
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t fetches = 0;
  // A run ends at the next mark (a time-series sample), which on_mark takes there.
  const std::uint64_t until_mark = m_next_mark - m_replayed;
  const std::size_t last = until_mark < n - i ? i + static_cast<std::size_t>(until_mark) : n;
  std::size_t j = i;
  for (; j < last; ++j) {
    const traces::Record& q = m_batch[j];
    if (q.is_event() || (q.address >> 12) != page || !in_page(q) ||
        (q.kind == AccessKind::kFetch) != fetch ||
        (q.kind == AccessKind::kWrite && !entry->dirty)) {
      break;
    }
    reads += q.kind == AccessKind::kRead ? 1 : 0;
    writes += q.kind == AccessKind::kWrite ? 1 : 0;
    fetches += q.kind == AccessKind::kFetch ? 1 : 0;
  }
  const std::uint64_t k = j - i;
  if (k == 0) {
    return 0;
  }
  if (writes != 0 && m_store_memory != nullptr) [[unlikely]] {
    m_store_memory->note_store(entry->hpa_of(r.address));  // one 4 KiB page: one frame
  }
  // What access() and translate() count for each: an L1 hit costing the L1's latency.
  l1.repeat_last_hit(k);
  if (m_data_cache != nullptr) [[unlikely]] {
    // Each access's line, as access() would: a run of accesses to one line after the first
    // finds it the most recently used of its L1 set (no walk in between), so they are L1
    // hits counted at once.
    const unsigned shift = static_cast<unsigned>(std::countr_zero(m_params.cache.line_bytes));
    std::uint64_t line = ~std::uint64_t{0};
    std::uint64_t same = 0;
    for (std::size_t x = i; x < j; ++x) {
      const Hpa hpa = entry->hpa_of(m_batch[x].address);
      if ((hpa.value() >> shift) == line) {
        ++same;
        continue;
      }
      if (same != 0) {
        m_data_cache->repeat_data_l1_hits(same);
        same = 0;
      }
      m_data_cache->access_data(hpa);
      line = hpa.value() >> shift;
    }
    if (same != 0) {
      m_data_cache->repeat_data_l1_hits(same);
    }
  }
  m_last_page_size = entry->size;
  const Cycles translation = l1.latency();
  const Cycles total = m_params.core.cycles_per_access + translation;
  m_stats.accesses += k;
  m_stats.reads += reads;
  m_stats.writes += writes;
  m_stats.fetches += fetches;
  m_stats.cycles += k * total.count();
  m_stats.translation_cycles += k * translation.count();
  m_stats.translation_cycles_per_access.sample(translation.count(), k);
  batch_cycles += k * total.count();
  m_replayed += k;
  m_position = done + j;
  if (m_replayed == m_next_mark) [[unlikely]] {
    on_mark();
  }
  return static_cast<std::size_t>(k);
}

Cycles CoreModule::access(const traces::Record& r) {
  ++m_stats.accesses;
  switch (r.kind) {
    case AccessKind::kRead:
      ++m_stats.reads;
      break;
    case AccessKind::kWrite:
      ++m_stats.writes;
      break;
    case AccessKind::kFetch:
      ++m_stats.fetches;
      break;
  }
  Gva gva(r.address);
  // A split access: its last byte lies in another page than its first (by the size of the
  // page that translated the first byte), so that page is translated too.
  std::uint64_t last = r.address + (r.size == 0 ? 0 : r.size - 1);
  if (!canonical(r.address) || !canonical(last) || last < r.address) [[unlikely]] {
    noncanonical(r, canonical(r.address) ? last : r.address, m_position);
  }
  Cycles translation = translate(r.kind, gva);
  if (m_data_cache != nullptr && m_last_cacheable) [[unlikely]] {
    m_data_cache->access_data(m_last_data_hpa);  // the line of the first byte
  }
  if ((last >> 12) != (r.address >> 12)) {
    std::uint64_t page_mask = page_bytes(m_last_page_size) - 1;
    if ((last & ~page_mask) != (r.address & ~page_mask)) {
      ++m_stats.page_splits;
      translation += translate(r.kind, Gva(last));
    }
  }
  Cycles total = m_params.core.cycles_per_access + translation;
  m_stats.cycles += total.count();
  m_stats.translation_cycles += translation.count();
  m_stats.translation_cycles_per_access.sample(translation.count());
  return total;
}

Cycles CoreModule::translate(AccessKind kind, Gva gva) {
  tlb::TlbHierarchy::Result hit = m_tlbs->lookup(kind, gva, m_pcid, m_vpid);
  Cycles cost = hit.latency;
  if (hit.entry == nullptr) {
    cost += walk_and_fill(kind, gva, "TLB miss");
  } else if (kind == AccessKind::kWrite && !hit.entry->dirty) {
    // Also a store through an entry without W: its walk finds the fault (SDM 4.10.4.3).
    ++m_stats.dirty_walks;
    cost += walk_and_fill(kind, gva, "store through a clean TLB entry");
  } else {
    m_last_page_size = hit.entry->size;
    if (m_data_cache != nullptr) [[unlikely]] {
      m_last_data_hpa = hit.entry->hpa_of(gva.value());
      m_last_cacheable = true;
    }
    if (kind == AccessKind::kWrite && m_store_memory != nullptr) [[unlikely]] {
      m_store_memory->note_store(hit.entry->hpa_of(gva.value()));
    }
    if (m_params.sim.check) [[unlikely]] {
      check(kind, gva, *hit.entry,
            hit.level == 1 ? (kind == AccessKind::kFetch ? "TLB L1i" : "TLB L1d") : "TLB STLB");
    }
    if (m_page_life != nullptr && m_page_life->covers(gva)) [[unlikely]] {
      m_page_life->tlb_hit(m_position);
    }
  }
  return cost;
}

void CoreModule::charge_walk(Cycles& cost) {
  // A walk that faulted (a guest or host fault, a VM exit, MMIO) is an exception: it waits
  // for everything older, and nothing overlaps it (models/walker/page_walkers.h).
  if (m_ext.fault_cycles.count() != 0 || m_ext.outcome != TranslationExt::Outcome::kOk) {
    m_page_walkers.serialise();
    cost += m_ext.cycles;
    return;
  }
  const Cycles charged = m_page_walkers.charge(m_stats.accesses.value(),
                                               m_stats.cycles.value() + cost.count(), m_ext.cycles);
  m_stats.walk_cycles_hidden += (m_ext.cycles - charged).count();
  cost += charged;
}

Cycles CoreModule::walk_and_fill(AccessKind kind, Gva gva, const char* why) {
  if (m_page_life != nullptr) [[unlikely]] {
    m_page_life->at(m_position);
  }
  const bool traced = m_page_life != nullptr && m_page_life->covers(gva);
  if (traced) [[unlikely]] {
    m_page_life->tlb_miss(m_position, kind, gva, m_pcid, why);
  }
  // The machine resolves the miss whole: the walk, the (guest's) page faults, the VM exits,
  // the retries.
  m_ext.gva = gva;
  m_ext.kind = kind;
  m_ext.pcid = m_pcid;
  m_ext.vpid = m_vpid;
  m_ext.vm = static_cast<std::uint16_t>(m_vm);
  m_ext.traced = traced;
  m_ext.flush = TlbFlush::none();
  if (m_direct != nullptr) {
    constexpr unsigned kPageTableSpan = 21;  // a last-level table maps 2 MiB
    if (m_next != nullptr && !m_next->is_event() &&
        (m_next->address >> kPageTableSpan) != (gva.value() >> kPageTableSpan)) {
      // The next access's walk, if it misses too, loads while this one is resolved (not
      // when it shares this walk's page table: this walk loads its lines), and the one
      // after it, which a nested walk starts two accesses ahead. Host loads only: nothing
      // in the model changes.
      const traces::Record* after = m_next + 1;
      if (after == m_batch_end || after->is_event()) {
        after = m_next;
      }
      m_direct->prefetch(Gva(m_next->address), Gva(after->address), m_ext.vm);
    }
    m_direct->translate(m_ext);  // b_transport's work; its delay annotation is unused here
  } else {
    m_gp.set_command(kind == AccessKind::kWrite ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    m_gp.set_address(gva.value());
    m_gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    walker_socket->b_transport(m_gp, delay);
    if (m_gp.is_response_error()) {
      throw std::logic_error("walker rejected a translation request");
    }
  }
  Cycles cost{0};
  if (m_page_walkers.overlapping()) [[unlikely]] {
    charge_walk(cost);
  } else {
    cost = m_ext.cycles;
  }
  m_stats.fault_cycles += m_ext.fault_cycles.count();
  if (m_ext.flush.scope != TlbFlush::Scope::kNone) [[unlikely]] {
    if (m_ext.flush.scope == TlbFlush::Scope::kAll) {
      apply_flush_every_cpu(m_vm, m_ext.flush);  // kvm_flush_remote_tlbs: every vCPU
    } else {
      apply_flush(m_ext.flush);
    }
  }
  if (m_vms.size() > 1) [[unlikely]] {
    shoot_down_other_vms();
  }
  if (m_params.sim.check) [[unlikely]] {
    audit_host("a translation");  // a machine with no host (native) has nothing to audit
  }
  if (m_ext.outcome == TranslationExt::Outcome::kMmio) {
    ++m_stats.mmio_accesses;
    m_last_page_size = PageSize::k4K;
    m_last_cacheable = false;  // emulated by the hypervisor: no cached data access
    if (traced) [[unlikely]] {
      m_page_life->mmio(gva);
    }
    return cost;
  }
  if (m_params.sim.check) [[unlikely]] {
    check(kind, gva, m_ext.translation, "page walk (paging-structure caches)");
  }
  // The TLBs may hold it splintered into smaller pages, or (with every array for its
  // size and the smaller ones configured off) not at all.
  const Translation* held = m_tlbs->fill(kind, gva, m_pcid, m_vpid, m_ext.translation);
  m_last_page_size = held != nullptr ? held->size : m_ext.translation.size;
  m_last_data_hpa = m_ext.translation.hpa_of(gva.value());
  m_last_cacheable = true;
  if (traced) [[unlikely]] {
    m_page_life->filled(gva, m_ext.translation, held);
  }
  return cost;
}

void CoreModule::check(AccessKind kind, Gva gva, const Translation& got, const char* structure) {
  ++m_stats.checks;
  const machine::CheckReference ref = m_any_machine->reference_translation(gva, m_pcid, got);
  if (!translations_agree(gva, got, ref.want, ref.narrower_rights)) {
    if (!m_vms[m_vm].stale.empty() &&
        m_vms[m_vm].stale.accepts(gva, m_pcid, got, ref.narrower_rights, m_position, m_cpu)) {
      ++m_stats.stale_window_uses;  // the translation from before a PTE change, in its window
      return;
    }
    throw std::runtime_error(
        translation_mismatch(m_position, kind, gva, m_pcid, got, ref.want, structure));
  }
}

}  // namespace pagesim
