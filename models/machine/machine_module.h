// The SystemC shell of a whole machine (the plain-C++ NativeMachine, NestedMachine or
// ShadowMachine) behind the core's walker socket: NativeMachineModule (mode=native, module
// `native`), NestedMachineModule (mode=nested, module `nested`) and ShadowMachineModule
// (mode=shadow, module `shadow`), declared at the end.
//
//   core --b_transport(gp + TranslationExt)--> translate_socket
//   translator's walkers --a direct call per page-table reference--> memory's cache model
//   core --control_export--> the machine (events, --check, --trace-page)
//
// One b_transport resolves a TLB miss whole (Machine::touch: the walk, the (guest's) page
// faults, the hypervisor's VM exits, the retries) and annotates its cycles on the caller's delay;
// the TranslationExt carries back the translation or MMIO and, for a machine whose touch
// result has one (shadow), the TLB flush to apply before the fill. It never waits: loosely
// timed, the core's quantum keeper synchronises. Host memory (contents) is the memory
// module's, and so is the cache model that times each page-table reference: both handed to
// the constructor, so that the walkers call the cache model directly (no port, no virtual
// call between them: models/cache/reference_timing.h).
//
// Several VMs (`vms` > 1): one machine per VM over one shared hostmm::Host (frames, reclaim,
// swap); the TranslationExt's `vm` picks the machine. Each machine's statistics go under its
// VM's group (vm<i>), the host's under the host group.
//
// Machine needs: Machine(const Params&, mem::PhysicalMemory&, mem::MemoryTiming*,
// stats::Group*), for several VMs Machine(const Params&, hostmm::Host&, mem::MemoryTiming*,
// stats::Group*) (the native machine has none: one machine, no VM), and touch(Gva,
// AccessKind, pcid, Observer*) returning a result with outcome (kOk, or kMmio), translation,
// walk.refs, cycles, walk_cycles. A native miss's page fault is resolved inside the touch,
// as a guest's is: no page fault reaches the core.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <memory>
#include <stdexcept>
#include <systemc>
#include <tlm>
#include <type_traits>
#include <vector>

#include "base/stats/stats.h"
#include "base/tlm/cycle_clock.h"
#include "base/tlm/translation_ext.h"
#include "models/hostmm/host.h"
#include "models/machine/native_machine.h"
#include "models/machine/nested_machine.h"
#include "models/machine/shadow_machine.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"

namespace pagesim {

// The machines behind the core's one control port, whatever the mode: each VM's
// machine::Machine (the core's events, host requests, --check), and the direct miss path.
class MachinesIf : public virtual sc_core::sc_interface {
 public:
  // VM `vm`'s machine (0 to vms() - 1).
  virtual machine::Machine& machine(std::size_t vm = 0) = 0;
  virtual std::size_t vms() const = 0;
  // The TLB miss path, called directly (b_transport's work, with no payload).
  virtual DirectTranslateIf& direct() = 0;
};

// Control of the machine outside a translation, with the machine's own type (tests,
// --trace-page).
template <class Machine, class Observer>
class MachineControlIf : public MachinesIf {
 public:
  // VM `vm`'s machine (0 to vms() - 1).
  Machine& machine(std::size_t vm = 0) override = 0;
  // The observer told the steps of traced translations (--trace-page); null: none.
  virtual void set_observer(Observer* observer) = 0;
};

template <class Machine, class Params, class Observer>
class MachineModule final : public sc_core::sc_module,
                            public MachineControlIf<Machine, Observer>,
                            public DirectTranslateIf {
 public:
  tlm_utils::simple_target_socket<MachineModule> translate_socket{"translate_socket"};
  sc_core::sc_export<MachineControlIf<Machine, Observer>> control_export{"control_export"};

  // One machine per entry of `vm_stats` (its statistics' parent); one VM's machine owns its
  // host, several share one whose statistics go under `host_stats`. `memory` and `timing`
  // (the memory module's contents and cache model) must outlive the module.
  MachineModule(sc_core::sc_module_name name, const Params& params, mem::PhysicalMemory& memory,
                mem::MemoryTiming& timing, const CycleClock& clock,
                const std::vector<stats::Group*>& vm_stats, stats::Group* host_stats)
      : sc_core::sc_module(name), m_clock(clock) {
    if (vm_stats.size() == 1) {
      m_machines.push_back(std::make_unique<Machine>(params, memory, &timing, vm_stats[0]));
    } else if constexpr (std::is_constructible_v<Machine, const Params&, hostmm::Host&,
                                                 mem::MemoryTiming*, stats::Group*>) {
      m_host = std::make_unique<hostmm::Host>(params.reclaim, params.host.memory.bytes, memory,
                                              host_stats);
      for (stats::Group* group : vm_stats) {
        m_machines.push_back(std::make_unique<Machine>(params, *m_host, &timing, group));
      }
    } else {
      throw std::logic_error("machine module: this machine runs one VM");
    }
    translate_socket.register_b_transport(this, &MachineModule::b_transport);
    control_export.bind(*this);
  }

  Machine& machine(std::size_t vm = 0) override { return *m_machines[vm]; }
  std::size_t vms() const override { return m_machines.size(); }
  DirectTranslateIf& direct() override { return *this; }
  void set_observer(Observer* observer) override { m_observer = observer; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    auto* ext = gp.template get_extension<TranslationExt>();
    if (ext == nullptr) {
      gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
    }
    translate(*ext);
    delay += m_clock.to_time(ext->cycles);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }

 public:
  // The TLB miss in ext resolved whole, its result in ext (b_transport's work, called
  // directly by the core).
  void translate(TranslationExt& ext) override {
    const auto t =
        m_machines[ext.vm]->touch(ext.gva, ext.kind, ext.pcid, ext.traced ? m_observer : nullptr);
    using Outcome = decltype(t.outcome);
    ext.outcome =
        t.outcome == Outcome::kOk ? TranslationExt::Outcome::kOk : TranslationExt::Outcome::kMmio;
    ext.translation = t.translation;
    ext.refs = t.walk.refs;
    ext.cycles = t.cycles;
    ext.fault_cycles = t.cycles - t.walk_cycles;
    if constexpr (requires { t.flush; }) {
      ext.flush = t.flush;
    }
  }

  void prefetch(Gva next, Gva after, std::uint16_t vm) override {
    if constexpr (requires(const Machine& m) { m.prefetch(next, after); }) {
      m_machines[vm]->prefetch(next, after);
    } else if constexpr (requires(const Machine& m) { m.prefetch(next); }) {
      m_machines[vm]->prefetch(next);
    }
  }

 private:
  const CycleClock& m_clock;
  Observer* m_observer = nullptr;
  std::unique_ptr<hostmm::Host> m_host;  // vms > 1
  std::vector<std::unique_ptr<Machine>> m_machines;
};

// mode=native: the walker and the OS over the memory module's contents (no VM).
using NativeControlIf = MachineControlIf<machine::NativeMachine, machine::NativeTouchObserver>;
using NativeMachineModule = MachineModule<machine::NativeMachine, machine::NativeMachineParams,
                                          machine::NativeTouchObserver>;

// mode=nested: host memory is the memory module's, advised huge pages for
// NestedMachine::huge_page_bytes() of it.
using NestedControlIf = MachineControlIf<host::NestedMachine, host::TouchObserver>;
using NestedMachineModule =
    MachineModule<host::NestedMachine, host::NestedMachineParams, host::TouchObserver>;

// mode=shadow: a translation's TLB flush (KVM's requests) reaches the core in the
// TranslationExt. Host memory is the memory module's, advised huge pages for
// ShadowMachine::huge_page_bytes() of it.
using ShadowControlIf = MachineControlIf<shadow::ShadowMachine, shadow::TouchObserver>;
using ShadowMachineModule =
    MachineModule<shadow::ShadowMachine, shadow::ShadowMachineParams, shadow::TouchObserver>;

}  // namespace pagesim
