// Several traces interleaved into one stream, as a scheduler runs processes on CPUs (and a
// host runs VMs) (docs/trace-format.md, "Mixing traces"):
//
//   pagesim trace mix --quantum 10000 a.pgt@asid=1 b.pgt@asid=2,cpu=1 c.pgt@vm=1 --out m.pgt
//
// Round robin: each input in turn gives `quantum` accesses (its events pass through and do
// not count), then the next input that still has records takes over. A switch to an input
// is a context switch: a `!vm <vm>` when the input runs on another VM than the records
// before, then a `!cpu <cpu>` when that VM's current CPU is not the input's, then a
// `!cr3 <asid>` when that CPU's current address space is not the input's. They are emitted
// only when the next input has a record to give, so no switch leads nowhere. An input's own
// `!cr3`, `!cpu` and `!vm` events pass through and move its context: the mixer restores it
// when the input's next slice begins.
//
// VMs, CPUs and address spaces start as the simulator's do (record.h): VM 0; CPU 0 in every
// VM, each VM keeping its own current CPU across `!vm` switches; address space 0 on every
// CPU, each CPU keeping its own (CR3 is per CPU). So the context is tracked per VM (its
// current CPU) and per (VM, CPU) (its current asid). A `!vm` in an input lands on that VM's
// current CPU and its address space; a `!cpu` on that CPU's address space.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traces/trace_reader.h"

namespace pagesim::traces {

// One input of a mix as the user writes it: "PATH[@asid=A][,vm=V][,cpu=C]" (`vcpu=C` is a
// synonym of `cpu=C`).
struct MixInputSpec {
  std::string path;
  std::uint64_t asid = 0;
  std::uint64_t vm = 0;
  std::uint64_t cpu = 0;  // the CPU of VM `vm` the input runs on, below kMaxCpus
};

// Parses `text`, the `index`-th input (from 0); an input without asid= gets index + 1, so
// inputs are distinct processes unless told otherwise. Throws TraceError naming the text
// for an unknown key or a bad value (a vm or cpu of 256 or more).
MixInputSpec parse_mix_input(std::string_view text, std::size_t index);

struct MixSource {
  std::unique_ptr<TraceReader> reader;
  std::uint64_t asid = 0;
  std::uint64_t vm = 0;
  std::uint64_t cpu = 0;
};

class TraceMixer final : public TraceReader {
 public:
  // `quantum`: accesses per slice, at least 1.
  TraceMixer(std::vector<MixSource> sources, std::uint64_t quantum);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

 private:
  struct Input {
    MixSource source;  // source.asid, .vm and .cpu: the input's current context
    std::vector<Record> buffer;
    std::size_t pos = 0;
    std::size_t end = 0;
    bool done = false;
  };
  // True if `input` has a record at buffer[pos] (reading more when needed).
  bool has_record(Input& input);
  // The next input after m_current (round robin) that is not done; false if none.
  bool advance();
  // Queues the !vm / !cpu / !cr3 of a switch to m_inputs[m_current].
  void switch_to_current();
  // The current address space of the current CPU of the current VM.
  std::uint64_t& current_asid() { return m_asid_of_cpu[m_vm * kMaxCpus + m_cpu_of_vm[m_vm]]; }

  std::vector<Input> m_inputs;
  std::uint64_t m_quantum;
  std::size_t m_current = 0;
  bool m_slice_started = false;
  std::uint64_t m_slice_accesses = 0;
  std::uint64_t m_vm = 0;
  std::vector<std::uint64_t> m_cpu_of_vm;    // each VM's current CPU
  std::vector<std::uint64_t> m_asid_of_cpu;  // each (VM, CPU)'s address space: vm * 256 + cpu
  Record m_switch[3];                        // queued !vm, !cpu, !cr3
  std::size_t m_switch_pos = 0;
  std::size_t m_switch_end = 0;
};

}  // namespace pagesim::traces
