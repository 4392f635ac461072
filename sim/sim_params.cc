#include "sim/sim_params.h"

#include "sim/config/toml_loader.h"

namespace pagesim {

void CoreParams::describe(config::Schema& s) {
  s.field("cycles_per_access", cycles_per_access,
          "cycles of non-translation work charged per trace access");
  s.field("frequency_ghz", frequency_ghz, "core clock, converts cycles to simulated time")
      .check([this]() {
        std::optional<std::string> err;
        if (!(frequency_ghz > 0 && frequency_ghz <= 100)) {
          err = "must be above 0 and at most 100";
        }
        return err;
      });
}

void PagingParams::describe(config::Schema& s) {
  s.field("levels", levels, "paging levels: 4, or 5 with LA57 (Intel SDM Vol. 3A, 4.5)")
      .range(4, 5);
}

void SimControlParams::describe(config::Schema& s) {
  s.field("quantum", quantum, "temporal-decoupling quantum in core cycles").positive();
  s.field("check", check,
          "compare every translation the TLBs and walker caches return with a walk from "
          "scratch; a mismatch stops the run (slow; replay --check)");
}

void SimParams::describe(config::Schema& s) {
  s.field("mode", mode,
          "translation mode: native (one walk dimension), nested (a guest on a host: the 2D "
          "walk through guest tables and the EPT/NPT), shadow (a guest on a host without "
          "EPT/NPT: the hardware walks KVM's shadow tables)");
  s.field("vms", vms,
          "VMs sharing the host (nested and shadow mode), 1 to 64: each has the vm.* and "
          "guest.* configuration, its own memslots, guest kernel and one vCPU on a core of "
          "its own (TLBs, walker caches); host.memory, reclaim and swap are shared. `!vm N` "
          "in the trace sends the records that follow to VM N")
      .range(1, kMaxHostVms)
      .check([this]() {
        std::optional<std::string> err;
        if (vms > 1 && mode == Mode::kNative) {
          err = "more than one VM needs mode nested or shadow";
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
}

Configuration::Configuration() : m_params(std::make_unique<SimParams>()) {
  m_schema.group("", *m_params);
}

void Configuration::load_file(const std::string& path) { config::load_toml_file(m_schema, path); }

void Configuration::set(std::string_view assignment) {
  config::apply_override(m_schema, assignment);
}

void Configuration::set(std::string_view key, std::string_view value, std::string_view origin) {
  m_schema.set(key, value, origin);
}

}  // namespace pagesim
