#include "sim/sim_params.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "base/config/output_loader.h"
#include "base/config/toml_loader.h"
#include "models/host/memslot_layout.h"

namespace pagesim {

void CoreParams::describe(config::Schema& s) {
  s.field("cycles_per_access", cycles_per_access,
          "cycles of non-translation work charged per trace access");
  // At least 0.1 GHz: SystemC time counts femtoseconds in 64 bits (base/tlm/cycle_clock.h), and a
  // cycle of a slower clock would make the quantum's 2^32 cycles overflow it (no x86 core
  // runs below 100 MHz either); at most 100 GHz, a period of 10,000 fs, exact to 1e-4.
  s.field("frequency_ghz", frequency_ghz, "core clock, converts cycles to simulated time")
      .limit("0.1 to 100")
      .check([this]() {
        std::optional<std::string> err;
        if (!(frequency_ghz >= 0.1 && frequency_ghz <= 100)) {
          std::ostringstream text;
          text << frequency_ghz
               << " is outside 0.1..100 (GHz): SystemC time counts femtoseconds in 64 bits";
          err = text.str();
        }
        return err;
      });
  s.field("page_walkers", page_walkers,
          "page walks in flight at once (Skylake 2: Intel's optimization manual; Golden Cove "
          "4); used with walk_window")
      .range(1, 16);
  s.field("walk_window", walk_window,
          "accesses an out-of-order core issues past a walk, whose walks overlap it on the "
          "free page walkers (about its load buffer: Skylake 72); only the part of a walk "
          "past the core's time is charged (models/walker/page_walkers.h); a trace carries "
          "no dependences, so 0 (each walk waited for) for dependent accesses")
      .range(0, 4096);
  s.field("ipi_cycles", ipi_cycles,
          "a TLB shootdown's cost to the sender per target CPU (the ICR write, the IPI's "
          "delivery); it also waits one ipi_handler_cycles for the handlers (an estimate)");
  s.field("ipi_handler_cycles", ipi_handler_cycles,
          "a TLB shootdown's cost to each target CPU: interrupt entry, Linux's flush_tlb_func "
          "with its INVLPGs, EOI, return (an estimate)");
}

void PagingParams::describe(config::Schema& s) {
  s.field("levels", levels, "paging levels: 4, or 5 with LA57 (Intel SDM Vol. 3A, 4.5)")
      .range(4, 5);
}

void SimControlParams::describe(config::Schema& s) {
  s.field("quantum", quantum,
          "temporal-decoupling quantum in core cycles; with several CPUs and "
          "sim.interleave=time, the bound on how far one CPU's records run ahead of the "
          "others' in simulated time")
      .positive();
  s.field("check", check,
          "compare every translation the TLBs and walker caches return with a walk from "
          "scratch; a mismatch stops the run (slow; replay --check)");
  s.field("warmup", warmup,
          "accesses replayed with every structure live (TLBs, caches, tables, the host) "
          "before the statistics start counting, for steady-state figures (replay --warmup); "
          "with !roi events only their regions after it count; 0: count everything");
  s.field("interval", interval,
          "a time series: every counter's delta each this many accesses, the warm-up "
          "included (replay --interval; the JSON's \"timeseries\", --timeseries CSV, "
          "pysim's Result.timeseries); 0: none")
      .check([this]() -> std::optional<std::string> {
        // Each sample collects every statistic (some microseconds): every 1000 accesses
        // at most keeps it under a few nanoseconds per access.
        if (interval != 0 && interval < 1000) {
          return std::to_string(interval) +
                 " is below 1000 accesses: each sample collects every statistic (0: none)";
        }
        return std::nullopt;
      })
      .limit("0, or at least 1000");
  s.field("interleave", interleave,
          "several CPUs (cores, vm.vcpus, vms): trace runs every record in trace order on one "
          "thread (`!cpu N`, `!vm N` switch the CPU); time gives each CPU a thread and a "
          "quantum keeper of its own, `!cpu`/`!vm` sending the records that follow to that "
          "CPU's stream, and the streams run side by side in simulated time, at most "
          "sim.quantum apart, the VMM's and host's events (!memslot, !madvise, !balloon) and "
          "!exit being barriers that every CPU reaches in trace order (docs/model.md); one "
          "CPU in all: the same as trace");
}

void SimParams::describe(config::Schema& s) {
  s.field("mode", mode,
          "translation mode: native (one walk dimension), nested (a guest on a host: the 2D "
          "walk through guest tables and the EPT/NPT), shadow (a guest on a host without "
          "EPT/NPT: the hardware walks KVM's shadow tables)");
  s.field("vms", vms,
          "VMs sharing the host (nested and shadow mode), 1 to 64: each has the vm.* and "
          "guest.* configuration, its own memslots, guest kernel and vm.vcpus vCPUs on cores "
          "of their own (TLBs, walker caches); host.memory, reclaim and swap are shared. `!vm "
          "N` in the trace sends the records that follow to VM N")
      .range(1, kMaxHostVms)
      .check([this]() {
        std::optional<std::string> err;
        if (vms > 1 && mode == Mode::kNative) {
          err = "more than one VM needs mode nested or shadow";
        }
        return err;
      });
  s.field("cores", cores,
          "cores of the host in native mode, 1 to 256: each has its TLBs, paging-structure "
          "caches and CR3; `!cpu N` in the trace sends the records that follow to core N, and "
          "an `!invlpg` on one core shoots the page down on the others in its address space "
          "(IPIs). A VM's vCPUs are vm.vcpus")
      .range(1, 256)
      .check([this]() {
        std::optional<std::string> err;
        if (cores > 1 && mode != Mode::kNative) {
          err = "cores is native mode's; a VM's vCPUs are vm.vcpus";
        }
        return err;
      });
  s.field("seed", seed, "seed of every random choice (random replacement, generators)");
  s.group("sim", sim);
  s.group("core", core);
  s.group("paging", paging);
  s.group("tlb", tlb);
  s.group("walker", walker);
  s.group("walker", nested_walker);
  s.group("cache", cache);
  s.group("os", os);
  s.group("vm", vm);
  s.group("guest", guest);
  s.group("ept", ept);
  s.group("host", host);
  s.group("host", reclaim);
  s.rule("host.zero_page", [this]() {
    std::optional<std::string> err;
    if (reclaim.zero_page && mode != Mode::kShadow) {
      err = "the shared zero page is modelled in shadow mode only (mode = shadow)";
    }
    return err;
  });
  s.group("vmexit", vmexit);
  s.group("shadow", shadow);
  describe_relations(s);
}

// Relations between keys of different groups, checked by Schema::validate() once every
// source (defaults, --config, --set, pysim) is merged. Each names the key whose value breaks
// it, with the values involved.
void SimParams::describe_relations(config::Schema& s) {
  using config::format_byte_size;
  // hostmm::Host hands out host frames from 1 MiB: the low megabyte is never free memory.
  auto managed = [this] { return host.memory.bytes - std::min(host.memory.bytes, kHostLowBytes); };

  // Watermarks: min <= low <= high (Linux's order; HostMm relies on it), and all of them
  // below the memory the host manages, which free memory can never exceed: a watermark at
  // or above it would make every fault reclaim and never reach the mark.
  auto marks = [this] { return reclaim.watermarks.effective(host.memory.bytes); };
  auto wm_text = [](const config::ByteSize& set, std::uint64_t effective) {
    return format_byte_size(effective) + (set.bytes == 0 ? " by default for host.memory" : "");
  };
  s.rule("host.watermarks.low", [this, marks, wm_text]() -> std::optional<std::string> {
    const auto m = marks();
    if (reclaim.watermarks.low.bytes != 0 && m.low < m.min) {
      return format_byte_size(m.low) + " is below host.watermarks.min (" +
             wm_text(reclaim.watermarks.min, m.min) + "): need min <= low <= high";
    }
    return std::nullopt;
  });
  s.rule("host.watermarks.high", [this, marks, wm_text]() -> std::optional<std::string> {
    const auto m = marks();
    if (reclaim.watermarks.high.bytes != 0 && m.high < m.low) {
      return format_byte_size(m.high) + " is below host.watermarks.low (" +
             wm_text(reclaim.watermarks.low, m.low) + "): need min <= low <= high";
    }
    return std::nullopt;
  });
  for (auto [name, mark] : {std::pair{"min", &reclaim.watermarks.min},
                            {"low", &reclaim.watermarks.low},
                            {"high", &reclaim.watermarks.high}}) {
    s.rule(std::string("host.watermarks.") + name,
           [this, mark, managed]() -> std::optional<std::string> {
             if (mark->bytes != 0 && mark->bytes >= managed()) {
               return format_byte_size(mark->bytes) + " is not below the " +
                      format_byte_size(managed()) +
                      " the host manages (host.memory = " + format_byte_size(host.memory.bytes) +
                      " less the low 1 MiB it never hands out): free memory never reaches it";
             }
             return std::nullopt;
           });
  }
  // A default (0) high watermark derived from a set min or low can pass host.memory too:
  // reported against the highest watermark set.
  for (const char* key : {"min", "low"}) {
    s.rule(std::string("host.watermarks.") + key,
           [this, key, marks, managed]() -> std::optional<std::string> {
             const auto& w = reclaim.watermarks;
             const bool is_low = key[0] == 'l';
             const std::uint64_t set = is_low ? w.low.bytes : w.min.bytes;
             const auto m = marks();
             if (w.high.bytes != 0 || set == 0 || (!is_low && w.low.bytes != 0) ||
                 set >= managed() || m.high < managed()) {
               return std::nullopt;  // fine, or reported by another rule
             }
             return format_byte_size(set) + " makes the default high watermark " +
                    format_byte_size(m.high) +
                    " (each default one step above the one below), not below the " +
                    format_byte_size(managed()) +
                    " the host manages: lower it or set host.watermarks.high";
           });
  }

  // host.load is taken page by page at start, before any VM runs; what does not fit in the
  // managed memory goes to swap. More than both could hold cannot be placed at all (the
  // run would spend minutes reclaiming and then fail), so it is refused here.
  s.rule("host.load", [this, managed]() -> std::optional<std::string> {
    const std::uint64_t room = managed() + std::min(reclaim.swap.bytes, ~managed());
    if (reclaim.load.bytes > room) {
      return format_byte_size(reclaim.load.bytes) +
             " is more than the host can hold: " + format_byte_size(managed()) +
             " of managed memory (host.memory = " + format_byte_size(host.memory.bytes) +
             " less the low 1 MiB) plus host.swap = " + format_byte_size(reclaim.swap.bytes) +
             ", " + format_byte_size(room);
    }
    return std::nullopt;
  });

  // The guest-physical addresses of vm.layout's slots (for "qemu", vm.memory's) must be
  // ones the VM's tables can map: the guest's own entries hold 52-bit addresses (MAXPHYADDR,
  // 4 PiB), and in nested mode the EPT/NPT maps 2^(12 + 9 * ept.levels) bytes of GPA
  // (256 TiB with 4 levels; 128 PiB with 5, so 52 bits bind). The slots' HVA block must end
  // below the 2^48 bytes the VMM's 4-level tables map (host_params.h, kVmmHvaLimit).
  // Reported against vm.memory when vm.layout is "qemu" (vm.memory places the RAM), else
  // against vm.layout.
  for (const bool qemu : {true, false}) {
    s.rule(qemu ? "vm.memory" : "vm.layout", [this, qemu]() -> std::optional<std::string> {
      if (mode == Mode::kNative || (vm.layout == "qemu") != qemu ||
          vm.memory.bytes > host::kMaxVmMemoryBytes || host::memslot_layout_error(vm)) {
        return std::nullopt;  // not used, or reported by vm.memory's or vm.layout's own check
      }
      const std::string what =
          qemu ? format_byte_size(vm.memory.bytes) + " (QEMU's pc layout)" : vm.layout;
      if (mode == Mode::kNested && (ept.levels < 4 || ept.levels > 5)) {
        return std::nullopt;  // reported by ept.levels' own check
      }
      const std::uint64_t entry_limit = std::uint64_t{1} << 52;
      const std::uint64_t ept_limit = std::uint64_t{1} << (12 + 9 * ept.levels);
      const bool by_ept = mode == Mode::kNested && ept_limit < entry_limit;
      const std::uint64_t gpa_limit = by_ept ? ept_limit : entry_limit;
      for (const host::Memslot& slot : host::memslot_layout(vm, Hva(host::kVmmRamBase))) {
        const std::uint64_t end = slot.base.value() + slot.bytes;
        if (end > gpa_limit || end < slot.base.value()) {
          std::ostringstream text;
          text << what << " puts a memslot up to GPA 0x" << std::hex << end << std::dec
               << ", past the " << format_byte_size(gpa_limit) << " of GPA "
               << (by_ept ? "a " + std::to_string(ept.levels) + "-level EPT/NPT maps (ept.levels)"
                          : std::string("the guest's page-table entries hold (52-bit addresses)"));
          return text.str();
        }
        if (slot.hva.value() + slot.bytes > host::kVmmHvaLimit) {
          return what + " needs a " +
                 format_byte_size(slot.hva.value() + slot.bytes - host::kVmmRamBase) +
                 " block of VMM memory from HVA 0x7f0000000000, past the 2^48 bytes of HVA the "
                 "VMM's 4-level tables map";
        }
      }
      return std::nullopt;
    });
  }
}

Configuration::Configuration() : m_params(std::make_unique<SimParams>()) {
  m_schema.group("", *m_params);
}

void Configuration::load_file(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    config::load_output_configuration(m_schema, path);  // a pagesim output's provenance
  } else {
    config::load_toml_file(m_schema, path);
  }
}

void Configuration::set(std::string_view assignment) {
  config::apply_override(m_schema, assignment);
}

void Configuration::set(std::string_view key, std::string_view value, std::string_view origin) {
  m_schema.set(key, value, origin);
}

std::string Configuration::dump() const { return m_notes + m_schema.dump(); }

void Configuration::add_dump_note(std::string_view text) {
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    m_notes += "#" + (line.empty() ? "" : " " + line) + "\n";
  }
}

}  // namespace pagesim
