#include "sim/top.h"

namespace pagesim {
namespace {

bool nested(const SimParams& p) { return p.mode == Mode::kNested; }
bool shadowed(const SimParams& p) { return p.mode == Mode::kShadow; }
bool native(const SimParams& p) { return p.mode == Mode::kNative; }

std::uint64_t physical_bytes(const SimParams& p) {
  return native(p) ? p.os.memory.bytes : p.host.memory.bytes;
}

std::uint64_t huge_page_bytes(const SimParams& p) {
  return nested(p)     ? host::NestedMachine::huge_page_bytes(p.host.memory.bytes)
         : shadowed(p) ? shadow::ShadowMachine::huge_page_bytes(p.host.memory.bytes)
                       : ~std::uint64_t{0};
}

// The statistics parent of each VM: the root for one VM (the names of a single machine),
// vm<i> groups for several.
std::vector<std::unique_ptr<stats::Group>> vm_groups(const SimParams& p, stats::Group& root) {
  std::vector<std::unique_ptr<stats::Group>> groups;
  if (!native(p) && p.vms > 1) {
    for (std::uint32_t i = 0; i < p.vms; ++i) {
      groups.push_back(std::make_unique<stats::Group>(&root, "vm" + std::to_string(i)));
    }
  }
  return groups;
}

// The CPUs of each VM: native mode's cores, a VM's vCPUs (nested and shadow mode).
std::uint32_t cpus_per_vm(const SimParams& p) { return native(p) ? p.cores : p.vm.vcpus; }

std::vector<stats::Group*> vm_stats(const std::vector<std::unique_ptr<stats::Group>>& groups,
                                    stats::Group& root) {
  if (groups.empty()) {
    return {&root};
  }
  std::vector<stats::Group*> out;
  for (const auto& g : groups) {
    out.push_back(g.get());
  }
  return out;
}

}  // namespace

Top::Top(sc_core::sc_module_name name, const SimParams& params, traces::TraceReader& trace,
         std::function<void(std::uint64_t)> progress, PageLife* page_life)
    : sc_core::sc_module(name),
      m_params(params),
      m_clock(params.core.frequency_ghz),
      m_vm_groups(vm_groups(params, m_stats_root)),
      m_memory("memory", physical_bytes(params), params.cache, &m_stats_root,
               huge_page_bytes(params)),
      m_native(native(params) ? std::make_unique<NativeMachineModule>(
                                    "native", native_machine_params(params), m_memory.contents(),
                                    m_memory.caches(), m_clock, vm_stats(m_vm_groups, m_stats_root),
                                    &m_stats_root)
                              : nullptr),
      m_nested(nested(params) ? std::make_unique<NestedMachineModule>(
                                    "nested", nested_machine_params(params), m_memory.contents(),
                                    m_memory.caches(), m_clock, vm_stats(m_vm_groups, m_stats_root),
                                    &m_stats_root)
                              : nullptr),
      m_shadow(shadowed(params) ? std::make_unique<ShadowMachineModule>(
                                      "shadow", shadow_machine_params(params), m_memory.contents(),
                                      m_memory.caches(), m_clock,
                                      vm_stats(m_vm_groups, m_stats_root), &m_stats_root)
                                : nullptr),
      m_core("core", params, m_clock, trace, &m_stats_root, std::move(progress), page_life) {
  if (params.cache.data) {
    m_core.set_data_cache(&m_memory.caches());
  }
  if (m_memory.contents().tracks_stores()) {
    m_core.set_store_memory(&m_memory.contents());  // the shadow machine tracks them
  }
  // Each CPU of each VM has its TLBs (the seed differs per VM and CPU, for random
  // replacement; one CPU per VM keeps the seeds it had).
  const std::vector<stats::Group*> tlb_stats = vm_stats(m_vm_groups, m_stats_root);
  const std::uint32_t cpus = cpus_per_vm(params);
  for (std::size_t vm = 0; vm < tlb_stats.size(); ++vm) {
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
      std::string module = tlb_stats.size() == 1 ? "tlb" : "tlb_vm" + std::to_string(vm);
      stats::Group* parent = tlb_stats[vm];
      if (cpus > 1) {
        module += "_cpu" + std::to_string(cpu);
        m_cpu_groups.push_back(std::make_unique<stats::Group>(parent, "cpu" + std::to_string(cpu)));
        parent = m_cpu_groups.back().get();
      }
      m_tlbs.push_back(std::make_unique<tlb::TlbModule>(
          module.c_str(), params.tlb, params.seed + vm + std::uint64_t{cpu} * 1000003, parent));
      m_core.tlb_port.bind(m_tlbs.back()->tlb_export);
    }
  }
  if (m_nested) {
    m_core.walker_socket.bind(m_nested->translate_socket);
    m_core.machine_port.bind(static_cast<MachinesIf&>(*m_nested));
    if (page_life != nullptr) {
      page_life->set_machine(&m_nested->machine(0));
      m_nested->set_observer(page_life);
    }
  } else if (m_shadow) {
    m_core.walker_socket.bind(m_shadow->translate_socket);
    m_core.machine_port.bind(static_cast<MachinesIf&>(*m_shadow));
    if (page_life != nullptr) {
      page_life->set_shadow_machine(&m_shadow->machine(0));
      m_shadow->set_observer(page_life);
    }
  } else {
    m_core.walker_socket.bind(m_native->translate_socket);
    m_core.machine_port.bind(static_cast<MachinesIf&>(*m_native));
    if (page_life != nullptr) {
      m_native->set_observer(page_life);
    }
  }
}

}  // namespace pagesim
