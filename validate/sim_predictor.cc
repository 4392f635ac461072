#include "validate/sim_predictor.h"

#include <cstring>
#include <span>
#include <stdexcept>

#include "base/stats/stats.h"
#include "models/machine/shadow_machine.h"
#include "sim/machine_params.h"
#include "sim/sim_params.h"
#include "validate/kvm_model.h"

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k4K = 4096;

// Memslot ids of the simulated VM: the data slot first, so that its HVA (the VMM's RAM
// base, 1 GiB aligned) is as aligned as the real VMM's own mapping of it (vm.layout puts
// slot i after the slots before it).
constexpr std::uint32_t kSimDataSlot = 0;

std::string kib(std::uint64_t bytes) { return std::to_string(bytes / 1024) + "k"; }

std::string hex_text(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

// Each counter, and the simulator statistics that make it (predict()):
//   vcpu.exits                     vmexits.page_fault + vmexits.mmio + vmexits.wp_write +
//                                  vmexits.root_load (the CR3 writes' and INVLPGs' exits are
//                                  in the VMM's baseline)
//   vcpu.pf_taken                  shadow.page_faults (the trace's shadow page faults,
//                                  retries included)
//   vcpu.pf_fixed                  shadow.pf_fixed
//   vcpu.pf_spurious               shadow.pf_spurious
//   vcpu.pf_emulate                vmexits.mmio + shadow.wp_writes (emulated accesses)
//   vcpu.mmio_exits                vmexits.mmio
//   kvmmmu.kvm_mmu_pagetable_walk  shadow.sw_walks + vmexits.mmio (the emulator's walk)
//   kvmmmu.kvm_mmu_get_page        shadow.get_page
//   kvmmmu.kvm_mmu_get_page.created, vm.mmu_cache_miss
//                                  shadow.pages_created
//   kvmmmu.kvm_mmu_set_spte        shadow.sptes_set
//   kvmmmu.kvm_mmu_unsync_page     shadow.unsync
//   kvmmmu.kvm_mmu_sync_page       shadow.sync + shadow.unsync_zapped (kvm_unlink_unsync_page)
//   vm.mmu_recycled                shadow.recycled
//   vm.remote_tlb_flush_requests   shadow.flush_requests
//   kvmmmu.kvm_mmu_prepare_zap_page, vm.mmu_shadow_zapped
//                                  shadow.zaps
//   kvmmmu.kvm_mmu_zap_all_fast    shadow.zap_all
//   vm.pages_4k, vm.pages_2m       the change in present shadow leaves of each size
//   vm.mmu_unsync                  the change in unsync shadow pages
//   rusage.minflt                  host.page_faults + vm0.zero_page_faults
//   kvm.kvm_mmio                   2 per vmexits.mmio (the request and its completion)
// and, compared with the simulator's alone:
//   vcpu.pf_guest                  shadow.pf_guest
//   vcpu.insn_emulation, kvm.kvm_emulate_insn
//                                  vmexits.mmio + shadow.wp_writes (one per emulation)
//   vm.mmu_pte_write, vm.mmu_flooded
//                                  shadow.wp_writes, shadow.flooded
//   vcpu.invlpg, kvm.kvm_cr        vmexits.invlpg, vmexits.cr3_write, less one per INVLPG or
//                                  CR3 command (the baseline's own, as the VMM subtracts)
//   rusage.majflt                  vm0.swap_ins
//   kvmmmu.kvm_mmu_spte_requested  shadow.page_faults - shadow.fault_retries - vmexits.mmio
//                                  - shadow.pf_guest (the faults that reach FNAME(fetch))
const std::vector<std::string>& simulated_counters() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v = predicted_counters();
    for (const char* c : {"vcpu.pf_guest", "vcpu.insn_emulation", "kvm.kvm_emulate_insn",
                          "vm.mmu_pte_write", "vm.mmu_flooded", "vcpu.invlpg", "kvm.kvm_cr",
                          "rusage.majflt", "kvmmmu.kvm_mmu_spte_requested"}) {
      v.push_back(c);
    }
    return v;
  }();
  return names;
}

SimulatorPredictor::SimulatorPredictor(const Scenario& s, const GuestLayout& layout,
                                       const HostInfo& host)
    : m_s(s), m_layout(layout) {
  const std::uint64_t data = layout.data().size();
  const std::uint64_t ram = data + kLowSlotSize + layout.sys_bytes();
  m_settings = {
      "mode=shadow",
      "vm.memory=" + kib(ram),
      "vm.layout=" + hex_text(kDataGpa) + ":" + kib(data) +
          (s.backing == HostMemory::Kind::kMemfd ? ":memfd" : "") + ",0x0:" + kib(kLowSlotSize) +
          ":nothp," + hex_text(kSysSlotGpa) + ":" + kib(layout.sys_bytes()) + ":nothp",
      // host.thp is the data slot's MADV_HUGEPAGE: THP enabled=madvise (which the report
      // checks) gives huge pages to advised mappings only, and the VMM advises no other.
      std::string("host.thp=") + (s.host_thp ? "2m" : "never"),
      "host.zero_page=true",
      std::string("host.thp_zero_page=") + (host.thp_use_zero_page ? "true" : "false"),
      "host.fault_around_bytes=" + kib(host.fault_around_bytes),
      "host.memory=8GiB",
      "host.swap=0",
      "shadow.wp_policy=unsync",
      "shadow.cache_roots=true",
      "shadow.prefetch=true",
      "shadow.max_pages=0",
      "shadow.memslot_zap=all",
      // kvm_pvm builds a root a CR3 write found no cached root for in an exit of its own
      // (shadow_params.h, new_root_exit).
      std::string("shadow.new_root_exit=") + (host.pvm ? "true" : "false"),
      // kvm_pvm's recycling zaps no unsync page with its parent (shadow_params.h).
      std::string("shadow.recycle_unsync_children=") + (host.pvm ? "false" : "true"),
      // kvm_pvm's vCPUs walk their own copies of the root's top-level entries
      // (shadow_params.h, vcpu_root_copy).
      std::string("shadow.vcpu_root_copy=") + (host.pvm ? "true" : "false"),
      "guest.levels=4",
  };
  if (s.vcpus != 1) m_settings.push_back("vm.vcpus=" + std::to_string(s.vcpus));
  m_cpu_pcid.assign(static_cast<std::size_t>(s.vcpus), 0);
  Configuration config;
  for (const std::string& a : m_settings) config.set(a);
  config.validate();
  m_machine = std::make_unique<shadow::ShadowMachine>(shadow_machine_params(config.params()));

  // What the VMM wrote before the guest ran: GDT, IDT, TSS and code in slot 0, the command
  // list and every table page in slot 1 (the kernel-rules model's resident pages).
  for (std::uint64_t g : {kGdtGpa, kIdtGpa, kTssGpa, kCodeGpa}) {
    m_machine->load_guest_memory(Gpa(g),
                                 std::span<const std::uint8_t>(layout.gpa_ptr(Gpa(g)), k4K));
  }
  const std::uint64_t sys_written = layout.pool_next().value() - kSysSlotGpa;
  m_machine->load_guest_memory(
      Gpa(kSysSlotGpa),
      std::span<const std::uint8_t>(layout.gpa_ptr(Gpa(kSysSlotGpa)), sys_written));
  // A trace's fetched pages: the instruction the VMM put in each (GuestLayout::build_trace).
  for (const Gpa page : layout.preloaded_data_pages()) {
    m_machine->load_guest_memory(page, std::span<const std::uint8_t>(layout.gpa_ptr(page), k4K));
  }
  for (std::size_t i = 0; i < layout.trees(); ++i) {
    m_machine->adopt_address_space(static_cast<std::uint16_t>(i), layout.tree(i).root());
  }
}

SimulatorPredictor::~SimulatorPredictor() = default;

SimulatorPredictor::Snapshot SimulatorPredictor::snapshot() const {
  Snapshot out;
  for (const stats::Row& r : stats::collect(m_machine->stats_root())) {
    if (const auto* v = std::get_if<std::uint64_t>(&r.value)) out[r.path] = *v;
  }
  std::uint64_t leaves_4k = 0, leaves_2m = 0;
  m_machine->mmu().for_each_leaf([&](const shadow::ShadowMmu::Leaf& l) {
    (l.size == PageSize::k4K ? leaves_4k : leaves_2m) += 1;
  });
  out["#leaves_4k"] = leaves_4k;
  out["#leaves_2m"] = leaves_2m;
  out["#unsync"] = m_machine->mmu().unsync_pages();
  return out;
}

void SimulatorPredictor::touch(Gva gva, bool write) {
  m_machine->touch(gva, write ? AccessKind::kWrite : AccessKind::kRead, m_pcid);
}

// The guest code's instruction fetches between its loads and stores (guest_code.S): every
// load of a command word and every access is followed by instructions of the loop on the
// code page (the decode after `mov rax, [rsi]`, `jmp next` after the access), so a fault
// that recycled the code page's shadow table (kvm_mmu_zap_oldest_mmu_pages) makes the very
// next fetch fault, before the next command word is read (a trace of kvmmmu events shows
// the code page's fault right after the recycling one). replay_commands fetches the code
// page only where the list starts and after the handler; the fetches here come after each
// other touch, and cost nothing while the code page stays mapped.
void SimulatorPredictor::fetch_code() { touch(Gva(kCodeGpa), false); }

void SimulatorPredictor::run_commands(const CommandList& l) {
  replay_commands(l, CommandHandlers{
                         .touch =
                             [this](Gva gva, bool write) {
                               touch(gva, write);
                               if (gva.value() != kCodeGpa) fetch_code();
                             },
                         // A trace's instruction fetch: the jump to the stub, whose `jmp rdx`
                         // comes back to the loop on the code page.
                         .fetch =
                             [this](Gva gva) {
                               m_machine->touch(gva, AccessKind::kFetch, m_pcid);
                               fetch_code();
                             },
                         .store =
                             [this](Gva target, std::uint64_t value) {
                               m_machine->guest_store_u64(target, value, m_pcid);
                               fetch_code();
                             },
                         .invlpg =
                             [this](Gva gva) {
                               ++m_invlpgs;
                               m_machine->invlpg(gva, m_pcid);
                             },
                         .cr3 =
                             [this](Gpa root) {
                               ++m_cr3_writes;
                               cr3_write(root);
                             },
                     });
}

void SimulatorPredictor::cr3_write(Gpa root) {
  std::optional<std::uint16_t> pcid;
  for (std::size_t t = 0; t < m_layout.trees(); ++t) {
    if (m_layout.tree(t).root() == root) pcid = static_cast<std::uint16_t>(t);
  }
  if (!pcid) throw std::logic_error("simulator predictor: CR3 of no known tree");
  m_pcid = *pcid;
  m_machine->cr3_write(m_pcid);
}

void SimulatorPredictor::madvise(const ReclaimAction& r) {
  using Advice = hostmm::VmmMemory::Advice;
  Advice advice = Advice::kDontneed;
  switch (r.action) {
    case Madvise::kDontneed:
      break;
    case Madvise::kFree:
      advice = Advice::kFree;
      break;
    case Madvise::kPageout:
      advice = Advice::kPageout;
      break;
    case Madvise::kRemove:
      advice = Advice::kRemove;
      break;
  }
  // One call per contiguous run of data pages, as the VMM does.
  const auto pages = data_pages(m_s);
  const host::Memslot* slot = m_machine->vmm().memslots().find_id(kSimDataSlot);
  std::uint64_t i = 0;
  while (i < r.pages) {
    std::uint64_t j = i + 1;
    while (j < r.pages && pages[j].gpa.value() == pages[j - 1].gpa.value() + k4K) ++j;
    const Hva begin = slot->to_hva(pages[i].gpa);
    try {
      m_machine->vmm().memory().madvise(advice, begin, begin + (j - i) * k4K);
    } catch (const hostmm::MadviseError&) {
      return;  // EINVAL, as the VMM's own call fails (the report notes its errno)
    }
    m_machine->take_host_flush();
    i = j;
  }
}

// KVM_SET_USER_MEMORY_REGION deleting the data slot, then adding it again over the same
// VMM memory (the VMM keeps its mapping): shadow.memslot_zap = all zaps every shadow page.
void SimulatorPredictor::memslot_readd() {
  const host::Memslot old = *m_machine->vmm().memslots().find_id(kSimDataSlot);
  m_machine->remove_memslot(kSimDataSlot);
  m_machine->add_memslot(kSimDataSlot, old.base, old.bytes, old.readonly, old.hva);
}

void SimulatorPredictor::switch_cpu(unsigned cpu) {
  if (cpu == m_cpu) return;
  m_cpu_pcid.at(m_cpu) = m_pcid;
  m_cpu = cpu;
  m_pcid = m_cpu_pcid.at(cpu);
  m_machine->switch_cpu(cpu);
}

std::vector<Counters> SimulatorPredictor::predict(const std::vector<PhaseInfo>& phases) {
  // Each vCPU's warm-up in turn, as the VMM runs them.
  for (unsigned cpu = 0; cpu < static_cast<unsigned>(m_s.vcpus); ++cpu) {
    switch_cpu(cpu);
    run_commands(m_layout.warm_up_commands());
    CommandList again;
    again.end();
    run_commands(again);
  }

  std::vector<Counters> out;
  for (const PhaseInfo& p : phases) {
    const Snapshot before = snapshot();
    m_invlpgs = m_cr3_writes = 0;
    switch (p.kind) {
      case PhaseInfo::Kind::kMadvise:
        madvise(p.madvise);
        break;
      case PhaseInfo::Kind::kMemslotReadd:
        memslot_readd();
        break;
      default:
        switch_cpu(static_cast<unsigned>(p.cpu));
        run_commands(m_layout.commands(p));
    }
    const Snapshot after = snapshot();
    auto d = [&](const std::string& k) {
      const auto a = after.find(k), b = before.find(k);
      const std::int64_t va = a == after.end() ? 0 : static_cast<std::int64_t>(a->second);
      const std::int64_t vb = b == before.end() ? 0 : static_cast<std::int64_t>(b->second);
      return va - vb;
    };
    Counters c;
    const std::int64_t mmio = d("vmexits.mmio");
    c["vcpu.exits"] =
        d("vmexits.page_fault") + mmio + d("vmexits.wp_write") + d("vmexits.root_load");
    c["vcpu.pf_taken"] = d("shadow.page_faults");
    c["vcpu.pf_fixed"] = d("shadow.pf_fixed");
    c["vcpu.pf_spurious"] = d("shadow.pf_spurious");
    c["vcpu.pf_emulate"] = mmio + d("shadow.wp_writes");
    c["vcpu.mmio_exits"] = mmio;
    c["kvmmmu.kvm_mmu_pagetable_walk"] = d("shadow.sw_walks") + mmio;
    c["kvmmmu.kvm_mmu_get_page"] = d("shadow.get_page");
    c["kvmmmu.kvm_mmu_get_page.created"] = d("shadow.pages_created");
    c["vm.mmu_cache_miss"] = d("shadow.pages_created");
    c["kvmmmu.kvm_mmu_set_spte"] = d("shadow.sptes_set");
    c["vm.pages_4k"] = d("#leaves_4k");
    c["vm.pages_2m"] = d("#leaves_2m");
    c["vm.mmu_recycled"] = d("shadow.recycled");
    c["vm.remote_tlb_flush_requests"] = d("shadow.flush_requests");
    c["kvmmmu.kvm_mmu_prepare_zap_page"] = d("shadow.zaps");
    c["vm.mmu_shadow_zapped"] = d("shadow.zaps");
    c["kvmmmu.kvm_mmu_zap_all_fast"] = d("shadow.zap_all");
    c["kvmmmu.kvm_mmu_unsync_page"] = d("shadow.unsync");
    c["vm.mmu_unsync"] = d("#unsync");
    // kvm_unlink_unsync_page's event: a page synced, or zapped while unsync.
    c["kvmmmu.kvm_mmu_sync_page"] = d("shadow.sync") + d("shadow.unsync_zapped");
    c["kvm.kvm_mmio"] = 2 * mmio;
    c["rusage.minflt"] = d("host.page_faults") + d("vm0.zero_page_faults");
    // Compared with the simulator's only (report.cc, compared_counters()).
    c["vcpu.pf_guest"] = d("shadow.pf_guest");
    c["vcpu.insn_emulation"] = mmio + d("shadow.wp_writes");  // one instruction per emulation
    c["kvm.kvm_emulate_insn"] = mmio + d("shadow.wp_writes");
    c["vm.mmu_pte_write"] = d("shadow.wp_writes");
    c["vm.mmu_flooded"] = d("shadow.flooded");
    // The baseline runs every INVLPG and CR3 write too (of an unmapped address, of the
    // current root): what is left is the simulator's count beyond one per command.
    c["vcpu.invlpg"] = d("vmexits.invlpg") - static_cast<std::int64_t>(m_invlpgs);
    c["kvm.kvm_cr"] = d("vmexits.cr3_write") - static_cast<std::int64_t>(m_cr3_writes);
    c["rusage.majflt"] = d("vm0.swap_ins");  // no file pages: a major fault reads swap
    // FNAME(fetch)'s tracepoint: every fault but those retried (is_page_fault_stale), those
    // with no slot (MMIO) and those reflected to the guest.
    c["kvmmmu.kvm_mmu_spte_requested"] =
        d("shadow.page_faults") - d("shadow.fault_retries") - mmio - d("shadow.pf_guest");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace pagesim::validate
