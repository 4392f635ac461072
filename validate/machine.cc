#include "validate/machine.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "validate/host_aging.h"
#include "validate/timing.h"

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k4K = 4096;
constexpr std::uint64_t k2M = 2ull << 20;
constexpr std::uint64_t kChainLine = 64;  // one pointer per cache line (validate/timing.h)

int madvise_advice(Madvise m) {
  switch (m) {
    case Madvise::kDontneed:
      return MADV_DONTNEED;
    case Madvise::kFree:
      return MADV_FREE;
    case Madvise::kPageout:
      return MADV_PAGEOUT;
    case Madvise::kRemove:
      return MADV_REMOVE;
  }
  return -1;
}

// The counters now. getrusage is read last before a phase and first after it, so that the
// VMM's own allocations while reading the other counters (heap pages, and a sanitizer's
// shadow memory) fall outside the phase.
Counters snapshot(const Vm& vm, const PerfCounters& perf, bool after_phase) {
  Counters early;
  if (after_phase) early = rusage_counters();
  Counters c = vm.stats();
  for (const auto& [k, v] : perf.read()) c[k] = v;
  if (!after_phase) early = rusage_counters();
  for (const auto& [k, v] : early) c[k] = v;
  return c;
}

// The counters now, with two vCPUs: the VM's statistics; over a guest phase on vCPU `cpu`
// its statistics and `perf` (its thread's, where this runs), the other vCPU's prefixed
// "idle."; over a host phase (no `cpu`) the vCPUs' statistics summed. getrusage as above
// (this thread's).
Counters snapshot_vcpus(const Vm& vm, const PerfCounters& perf, bool after_phase,
                        std::optional<unsigned> cpu) {
  Counters early;
  if (after_phase) early = rusage_counters();
  Counters c = vm.vm_stats();
  for (unsigned i = 0; i < vm.vcpus(); ++i) {
    for (const auto& [k, v] : vm.vcpu_stats(i)) {
      if (!cpu || *cpu == i) {
        c[k] += v;
      } else {
        c["idle." + k] += v;
      }
    }
  }
  for (const auto& [k, v] : perf.read()) c[k] = v;
  if (!after_phase) early = rusage_counters();
  for (const auto& [k, v] : early) c[k] = v;
  return c;
}

// A thread that runs the calls given to it, one at a time, the caller waiting for each: the
// thread of one vCPU (KVM wants a vCPU's ioctls from one thread; perf counters opened there
// and getrusage(RUSAGE_THREAD) count that vCPU's work alone). An exception in the call is
// the caller's.
class VcpuThread {
 public:
  VcpuThread() : m_thread([this] { loop(); }) {}
  ~VcpuThread() {
    {
      std::lock_guard<std::mutex> lk(m_mu);
      m_stop = true;
    }
    m_cv.notify_all();
    m_thread.join();
  }
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  void call(std::function<void()> f) {
    std::unique_lock<std::mutex> lk(m_mu);
    m_task = std::move(f);
    m_done = false;
    m_error = nullptr;
    m_cv.notify_all();
    m_cv.wait(lk, [&] { return m_done; });
    if (m_error) std::rethrow_exception(m_error);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(m_mu);
    for (;;) {
      m_cv.wait(lk, [&] { return m_stop || m_task; });
      if (!m_task) return;
      std::function<void()> f = std::move(m_task);
      m_task = nullptr;
      lk.unlock();
      std::exception_ptr error;
      try {
        f();
      } catch (...) {
        error = std::current_exception();
      }
      lk.lock();
      m_error = error;
      m_done = true;
      m_cv.notify_all();
    }
  }

  std::mutex m_mu;
  std::condition_variable m_cv;
  std::function<void()> m_task;
  bool m_done = false;
  bool m_stop = false;
  std::exception_ptr m_error;
  std::thread m_thread;  // last: it starts once the rest is constructed
};

}  // namespace

namespace {
// Every entry the VMM writes: P (added by map), R/W, U/S, A and D, as Linux maps a page it
// has written.
constexpr std::uint64_t kDataPteFlags = kPteWritable | kPteUser | kPteAccessed | kPteDirty;
}  // namespace

// Slots 0 and 1, identity-mapped in the first tree (the others share its PML4 entry 0).
void GuestLayout::map_identity(GuestPageTables& tree) const {
  for (std::uint64_t g = 0; g < kLowSlotSize; g += k4K) {
    tree.map(Gva(g), Gpa(g), GuestPageTables::Size::k4K, kDataPteFlags);
  }
  for (std::uint64_t g = kSysSlotGpa; g < kSysSlotGpa + m_sys_bytes; g += k4K) {
    tree.map(Gva(g), Gpa(g), GuestPageTables::Size::k4K, kDataPteFlags);
  }
}

GuestLayout::GuestLayout(const Scenario& s) : m_s(s) {
  m_list_bytes = validate::list_bytes(s);
  m_sys_bytes = sys_slot_bytes(s);

  m_low = std::make_unique<HostMemory>(kLowSlotSize, HostMemory::Kind::kAnon, false);
  m_sys = std::make_unique<HostMemory>(m_sys_bytes, HostMemory::Kind::kAnon, false);
  m_data = std::make_unique<HostMemory>(data_slot_bytes(s), s.backing, s.host_thp);
  if (s.trace) {
    build_trace();
    return;
  }
  const auto pages = data_pages(s);

  m_pool_next = pool_begin();
  const Gpa pool_end(kSysSlotGpa + m_sys_bytes);
  auto resolver = [this](Gpa g) { return gpa_ptr(g); };
  m_trees.push_back(std::make_unique<GuestPageTables>(resolver, &m_pool_next, pool_end));
  if (s.two_cr3) {
    m_trees.push_back(std::make_unique<GuestPageTables>(resolver, &m_pool_next, pool_end));
  }
  GuestPageTables& a = *m_trees[0];
  map_identity(a);
  for (std::uint64_t i = 0; i < s.hole_pages; ++i) {
    a.map(Gva(kHoleGva + i * k4K), Gpa(kHoleGpa + i * k4K), GuestPageTables::Size::k4K,
          kDataPteFlags);
  }
  for (auto& tree : m_trees) {
    if (tree.get() != &a) tree->share_pml4e(a, Gva(0));
    if (s.guest_pages == GuestPages::k4K) {
      for (const DataPage& p : pages)
        tree->map(p.gva, p.gpa, GuestPageTables::Size::k4K, kDataPteFlags);
    } else {
      std::optional<std::uint64_t> last;
      for (const DataPage& p : pages) {
        const std::uint64_t region = p.gva.value() & ~(k2M - 1);
        if (last == region) continue;
        last = region;
        tree->map(Gva(region), Gpa(p.gpa.value() & ~(k2M - 1)), GuestPageTables::Size::k2M,
                  kDataPteFlags);
      }
    }
  }
}

// A tree per address space, the first with the identity map of slots 0 and 1 (the others
// share its PML4 entry 0, as for --two-cr3), the trace's pages mapped where
// trace_program.h places them, and the fetched pages' kFetchStub written.
void GuestLayout::build_trace() {
  const TraceProgram& t = *m_s.trace;
  m_pool_next = pool_begin();
  const Gpa pool_end(kSysSlotGpa + m_sys_bytes);
  auto resolver = [this](Gpa g) { return gpa_ptr(g); };
  for (std::size_t i = 0; i < t.address_spaces(); ++i) {
    m_trees.push_back(std::make_unique<GuestPageTables>(resolver, &m_pool_next, pool_end));
  }
  GuestPageTables& a = *m_trees[0];
  map_identity(a);
  for (std::size_t i = 1; i < m_trees.size(); ++i) m_trees[i]->share_pml4e(a, Gva(0));
  bool fetched_remapped = false;
  for (const TraceProgram::Step& st : t.steps()) {
    if (st.kind == TraceProgram::Step::Kind::kRemap && t.pages()[st.value].fetched) {
      fetched_remapped = true;
    }
  }
  auto stub = [&](Gpa page) {
    std::memcpy(gpa_ptr(Gpa(page.value() + TraceProgram::kFetchOffset)), kFetchStub,
                sizeof kFetchStub);
    m_preloaded.push_back(page);
  };
  for (std::uint64_t j = 0; j < t.pages().size(); ++j) {
    const TraceProgram::Page& p = t.pages()[j];
    const Gpa gpa = trace_page_gpa(m_s, j);
    GuestPageTables& tree = *m_trees[p.space];
    if (m_s.guest_pages == GuestPages::k4K) {
      tree.map(Gva(p.gva), gpa, GuestPageTables::Size::k4K, kDataPteFlags);
    } else if (!tree.leaf_entry(Gva(p.gva))) {
      tree.map(Gva(p.gva & ~(k2M - 1)), Gpa(gpa.value() & ~(k2M - 1)), GuestPageTables::Size::k2M,
               kDataPteFlags);
    }
    if (p.fetched) stub(gpa);
  }
  if (fetched_remapped) {
    for (std::uint64_t i = 0; i < t.remaps() * static_cast<std::uint64_t>(m_s.passes); ++i) {
      stub(spare_gpa(m_s, i));
    }
  }
  std::sort(m_preloaded.begin(), m_preloaded.end());
  make_trace_lists();
}

// Every pass's lists, in order, with the guest's state carried from one to the next: the
// current address space (a pass after the first starts with a CR3 write back to the first
// when the trace ended in another), and each page's frame and whether its PTE is present.
void GuestLayout::make_trace_lists() {
  using K = TraceProgram::Step::Kind;
  const TraceProgram& t = *m_s.trace;
  struct PageState {
    Gpa frame;
    bool present = true;
  };
  std::vector<PageState> state(t.pages().size());
  for (std::uint64_t j = 0; j < state.size(); ++j) state[j].frame = trace_page_gpa(m_s, j);
  auto pte_of = [&](std::uint64_t page) {
    const TraceProgram::Page& p = t.pages()[page];
    const auto pte = m_trees[p.space]->leaf_entry(Gva(p.gva));
    if (!pte) throw std::logic_error("--trace: a trace page is not mapped");
    return Gva(pte->value());  // slot 1 is identity-mapped
  };
  std::uint32_t space = 0;
  std::uint64_t spare = 0;
  for (int pass = 1; pass <= m_s.passes; ++pass) {
    for (const TraceProgram::Segment& seg : t.segments()) {
      CommandList l;
      if (seg.begin == 0 && space != 0) {
        l.cr3(m_trees[0]->root());
        space = 0;
      }
      for (std::size_t i = seg.begin; i < seg.end; ++i) {
        const TraceProgram::Step& st = t.steps()[i];
        switch (st.kind) {
          case K::kRead:
          case K::kWrite:
          case K::kFetch: {
            PageState& ps = state[st.value];
            if (!ps.present) {
              l.store(pte_of(st.value), ps.frame.value() | kPtePresent | kDataPteFlags);
              ps.present = true;
            }
            const Gva gva(t.pages()[st.value].gva);
            if (st.kind == K::kFetch) {
              l.fetch(Gva(gva.value() + TraceProgram::kFetchOffset));
            } else {
              l.access(st.kind == K::kRead ? Op::kRead : Op::kWrite, gva);
            }
            break;
          }
          case K::kCr3:
            l.cr3(m_trees[st.value]->root());
            space = static_cast<std::uint32_t>(st.value);
            break;
          case K::kInvlpg:
            l.invlpg(Gva(st.value));
            break;
          case K::kUnmap:
            l.store(pte_of(st.value), 0);
            state[st.value].present = false;
            break;
          case K::kRemap: {
            PageState& ps = state[st.value];
            ps.frame = spare_gpa(m_s, spare++);
            ps.present = true;
            l.store(pte_of(st.value), ps.frame.value() | kPtePresent | kDataPteFlags);
            break;
          }
        }
      }
      l.end();
      m_trace_lists.push_back(std::move(l));
    }
  }
}

std::uint8_t* GuestLayout::gpa_ptr(Gpa gpa) const {
  const std::uint64_t g = gpa.value();
  if (g < kLowSlotSize) return m_low->data() + g;
  if (g >= kSysSlotGpa && g < kSysSlotGpa + m_sys_bytes) return m_sys->data() + (g - kSysSlotGpa);
  if (m_data && g >= kDataGpa && g < kDataGpa + m_data->size()) {
    return m_data->data() + (g - kDataGpa);
  }
  return nullptr;
}

// The warm-up: every page of the command list, the code and the handler's operations, so
// that the measured phases start with the VMM's own pages mapped.
CommandList GuestLayout::warm_up_commands() const {
  CommandList l;
  l.sys_nop();
  l.invlpg(Gva(kDummyGva));
  l.cr3(m_trees[0]->root());
  // Every list page read once; a trace's long lists are read without the handler's exits.
  while (l.bytes() + 8 < m_list_bytes) {
    if (m_s.trace) {
      l.skip();
    } else {
      l.sys_nop();
    }
  }
  l.end();
  return l;
}

CommandList GuestLayout::commands(const PhaseInfo& info) const {
  if (m_s.trace) {
    if (info.kind != PhaseInfo::Kind::kPass) throw std::logic_error("commands: not a guest phase");
    return m_trace_lists.at(static_cast<std::size_t>(info.pass - 1) * m_s.trace->segments().size() +
                            static_cast<std::size_t>(info.segment));
  }
  CommandList l;
  switch (info.kind) {
    case PhaseInfo::Kind::kPass:
      for (Gva g : touch_order(m_s)) l.access(m_s.op, g);
      break;
    case PhaseInfo::Kind::kPteRewrite: {
      const auto pages = data_pages(m_s);
      for (std::uint64_t i = 0; i < m_s.rewrite_pages; ++i) {
        const auto pte = m_trees[0]->leaf_entry(pages[i].gva);
        if (!pte) throw std::logic_error("pte-rewrite: page not mapped");
        l.store(Gva(pte->value()), spare_gpa(m_s, i).value() | kPtePresent | kPteWritable |
                                       kPteUser | kPteAccessed | kPteDirty);
      }
      if (m_s.pte_rewrite == PteRewrite::kInvlpg) {
        for (std::uint64_t i = 0; i < m_s.rewrite_pages; ++i) l.invlpg(pages[i].gva);
      } else {
        l.cr3(m_trees[0]->root());
      }
      break;
    }
    case PhaseInfo::Kind::kCr3Switch:
      l.cr3(m_trees[static_cast<std::size_t>(info.cr3)]->root());
      break;
    case PhaseInfo::Kind::kHole:
      for (int twice = 0; twice < 2; ++twice) {
        for (std::uint64_t i = 0; i < m_s.hole_pages; ++i) {
          l.access(Op::kRead, Gva(kHoleGva + i * k4K));
        }
      }
      break;
    default:
      throw std::logic_error("commands: not a guest phase");
  }
  l.end();
  return l;
}

namespace {

// The machine of one run: the layout on a VM.
class Machine {
 public:
  Machine(const Scenario& s, bool baseline)
      : m_s(s),
        m_baseline(baseline),
        m_layout(s),
        m_aging(
            {{reinterpret_cast<std::uint64_t>(m_layout.low().data()), kLowSlotSize},
             {reinterpret_cast<std::uint64_t>(m_layout.sys().data()), m_layout.sys_bytes()},
             {reinterpret_cast<std::uint64_t>(m_layout.data().data()), m_layout.data().size()}}) {
    m_vm.set_slot(0, Gpa(0), kLowSlotSize, m_layout.low().data());
    m_vm.set_slot(1, Gpa(kSysSlotGpa), m_layout.sys_bytes(), m_layout.sys().data());
    m_vm.set_slot(kDataSlot, Gpa(kDataGpa), m_layout.data().size(), m_layout.data().data());
    if (s.vcpus == 1) {
      m_vm.create_vcpu(m_layout.tree(0).root(), Gva(kSysSlotGpa));
      return;
    }
    // Two vCPUs: each created, run and counted by a thread of its own, every thread of the
    // VMM on the host CPU this one runs on. A page a thread faults in waits in its CPU's LRU
    // batch (lru_add) until that batch drains, and MADV_PAGEOUT and MADV_COLD drain only the
    // calling CPU's (lru_add_drain) before they isolate pages from the LRU: a page a vCPU
    // thread faulted in on another CPU would be skipped. On one CPU, as with one vCPU (run
    // on this thread), the host's LRU is the one the model has.
    const int cpu = sched_getcpu();
    if (cpu >= 0 && sched_getaffinity(0, sizeof m_affinity, &m_affinity) == 0) {
      m_pinned = true;
      pin_to(cpu);
    }
    for (unsigned i = 0; i < static_cast<unsigned>(s.vcpus); ++i) {
      m_threads.push_back(std::make_unique<VcpuThread>());
      m_perf.emplace_back();
      m_threads.back()->call([this, i, cpu] {
        if (m_pinned) pin_to(cpu);
        m_vm.create_vcpu(m_layout.tree(0).root(), Gva(kSysSlotGpa), i);
        m_perf[i] = std::make_unique<PerfCounters>(default_tracepoints());
      });
    }
  }

  ~Machine() {
    m_threads.clear();  // joined before the VM and the counters go
    if (m_pinned) sched_setaffinity(0, sizeof m_affinity, &m_affinity);  // this thread's, back
  }

  // The warm-up of each vCPU in turn.
  void warm_up() {
    for (unsigned cpu = 0; cpu < static_cast<unsigned>(m_s.vcpus); ++cpu) {
      run(m_layout.warm_up_commands(), cpu);
      CommandList again;
      again.end();
      run(again, cpu);
    }
  }

  PhaseCounts phase(const PhaseInfo& info, const PerfCounters& perf) {
    PhaseCounts out{.info = info, .measured = {}, .baseline = {}};
    // The command list is built before the phase starts: its allocation is the VMM's.
    const bool guest =
        info.kind != PhaseInfo::Kind::kMadvise && info.kind != PhaseInfo::Kind::kMemslotReadd;
    CommandList l;
    if (guest) {
      l = m_layout.commands(info);
      if (m_baseline) l = l.neutralized(Gva(kDummyGva), m_layout.tree(0).root());
    }
    // So are the madvise ranges: a large scenario's page list is fresh heap memory, whose
    // first touches would be counted as the phase's minor faults.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    if (info.kind == PhaseInfo::Kind::kMadvise && !m_baseline) {
      ranges = madvise_ranges(info.madvise);
    }
    if (m_s.vcpus != 1) return phase_vcpus(info, l, ranges, perf);
    const Counters before = snapshot(m_vm, perf, false);
    switch (info.kind) {
      case PhaseInfo::Kind::kMadvise:
        if (!m_baseline) out.info.madvise_errno = do_madvise(info.madvise, ranges);
        break;
      case PhaseInfo::Kind::kMemslotReadd:
        if (!m_baseline) {
          m_vm.delete_slot(kDataSlot);
          m_vm.set_slot(kDataSlot, Gpa(kDataGpa), m_layout.data().size(), m_layout.data().data());
        }
        break;
      default:
        run(l);
    }
    const Counters after = snapshot(m_vm, perf, true);
    out.measured = subtract(after, before);
    out.aged = m_aging.count();
    out.aging_unavailable = m_aging.unavailable();
    return out;
  }

  const GuestLayout& layout() const { return m_layout; }

  void run(const CommandList& l, unsigned cpu = 0) {
    load(l);
    if (m_threads.empty()) {
      m_vm.run_phase();
    } else {
      m_threads.at(cpu)->call([this, cpu] { m_vm.run_phase(cpu); });
    }
  }

 private:
  // The command list where the guest reads it (both vCPUs read the one list: they run one
  // at a time).
  void load(const CommandList& l) {
    if (l.bytes() > m_layout.list_bytes()) {
      throw std::logic_error("command list larger than its area");
    }
    std::memcpy(m_layout.gpa_ptr(Gpa(kSysSlotGpa)), l.words().data(), l.bytes());
  }

  // A phase with two vCPUs: a guest phase runs on its vCPU's thread, which counts it; the
  // other vCPU waits outside KVM_RUN. A host phase runs on this thread (`perf`).
  PhaseCounts phase_vcpus(const PhaseInfo& info, const CommandList& l,
                          const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges,
                          const PerfCounters& perf) {
    PhaseCounts out{.info = info, .measured = {}, .baseline = {}};
    Counters before, after;
    if (info.kind == PhaseInfo::Kind::kMadvise) {
      before = snapshot_vcpus(m_vm, perf, false, std::nullopt);
      if (!m_baseline) out.info.madvise_errno = do_madvise(info.madvise, ranges);
      after = snapshot_vcpus(m_vm, perf, true, std::nullopt);
    } else if (info.kind == PhaseInfo::Kind::kMemslotReadd) {
      before = snapshot_vcpus(m_vm, perf, false, std::nullopt);
      if (!m_baseline) {
        m_vm.delete_slot(kDataSlot);
        m_vm.set_slot(kDataSlot, Gpa(kDataGpa), m_layout.data().size(), m_layout.data().data());
      }
      after = snapshot_vcpus(m_vm, perf, true, std::nullopt);
    } else {
      const auto cpu = static_cast<unsigned>(info.cpu);
      load(l);
      m_threads.at(cpu)->call([&, cpu] {
        before = snapshot_vcpus(m_vm, *m_perf.at(cpu), false, cpu);
        m_vm.run_phase(cpu);
        after = snapshot_vcpus(m_vm, *m_perf.at(cpu), true, cpu);
      });
    }
    out.measured = subtract(after, before);
    out.aged = m_aging.count();
    out.aging_unavailable = m_aging.unavailable();
    return out;
  }

  // The first r.pages data pages in address order, contiguous ranges merged: (offset in the
  // data slot, bytes).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> madvise_ranges(const ReclaimAction& r) {
    const auto pages = data_pages(m_s);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (std::uint64_t i = 0; i < r.pages; ++i) {
      const std::uint64_t off = pages[i].gpa.value() - kDataGpa;
      if (!out.empty() && out.back().first + out.back().second == off) {
        out.back().second += k4K;
      } else {
        out.emplace_back(off, k4K);
      }
    }
    return out;
  }

  // One madvise call per range; the first error's errno (0: none).
  int do_madvise(const ReclaimAction& r,
                 const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
    int err = 0;
    for (const auto& [start, len] : ranges) {
      if (madvise(m_layout.data().data() + start, len, madvise_advice(r.action)) != 0 && err == 0) {
        err = errno;
      }
    }
    return err;
  }

  const Scenario& m_s;
  bool m_baseline;
  GuestLayout m_layout;
  HostAging m_aging;  // on the three slots' memory, from now on
  Vm m_vm;
  // Two vCPUs: vCPU i's thread and its perf counters (opened on that thread).
  std::vector<std::unique_ptr<PerfCounters>> m_perf;
  std::vector<std::unique_ptr<VcpuThread>> m_threads;
  // Two vCPUs: the VMM's threads share one host CPU; this thread's affinity before.
  bool m_pinned = false;
  cpu_set_t m_affinity{};

  // The calling thread runs on host CPU `cpu` only (an error leaves it where it was).
  static void pin_to(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
};

}  // namespace

Counters rusage_counters() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return {{"rusage.minflt", u.ru_minflt},
          {"rusage.majflt", u.ru_majflt},
          {"rusage.nivcsw", u.ru_nivcsw}};
}

std::vector<PhaseInfo> phases_of(const Scenario& s) {
  using K = PhaseInfo::Kind;
  std::vector<PhaseInfo> out;
  auto pass = [&](int n, int cr3) {
    if (!s.trace) {
      out.push_back(
          PhaseInfo{.kind = K::kPass, .name = "pass" + std::to_string(n), .pass = n, .cr3 = cr3});
      return;
    }
    const auto& segs = s.trace->segments();
    for (std::size_t i = 0; i < segs.size(); ++i) {
      out.push_back(PhaseInfo{
          .kind = K::kPass,
          .name = "pass" + std::to_string(n) + (segs.size() == 1 ? "" : ":" + segs[i].name),
          .pass = n,
          .segment = static_cast<int>(i)});
    }
  };
  // Pass n >= 2: with --two-cr3, the switch to the second CR3 before pass 2 (which runs
  // under it) and back to the first before pass 3.
  auto later_pass = [&](int n) {
    if (s.two_cr3 && n == 2) {
      out.push_back(PhaseInfo{.kind = K::kCr3Switch, .name = "cr3-second", .cr3 = 1});
      pass(n, 1);
      return;
    }
    if (s.two_cr3 && n == 3) {
      out.push_back(PhaseInfo{.kind = K::kCr3Switch, .name = "cr3-first", .cr3 = 0});
    }
    pass(n, 0);
  };
  // One phase per madvise; a repeated action's phase is named madvise-ACTION-2, -3, ...
  auto madvise_phases = [&] {
    std::map<Madvise, int> seen;
    for (const ReclaimAction& r : s.reclaim) {
      const int n = ++seen[r.action];
      out.push_back(PhaseInfo{.kind = K::kMadvise,
                              .name = std::string("madvise-") + to_string(r.action) +
                                      (n > 1 ? "-" + std::to_string(n) : ""),
                              .madvise = r});
    }
  };
  if (s.vcpus == 2) {
    auto on = [&](int cpu, std::size_t from) {
      for (std::size_t i = from; i < out.size(); ++i) {
        out[i].cpu = cpu;
        out[i].name = "cpu" + std::to_string(cpu) + ":" + out[i].name;
      }
    };
    std::size_t at = out.size();
    pass(1, 0);
    on(0, at);
    at = out.size();
    pass(1, 0);
    on(1, at);
    madvise_phases();
    if (s.memslot_readd) out.push_back(PhaseInfo{.kind = K::kMemslotReadd, .name = "memslot"});
    if (s.pte_rewrite != PteRewrite::kNone) {
      out.push_back(PhaseInfo{.kind = K::kPteRewrite,
                              .name = std::string("cpu0:pte-") + to_string(s.pte_rewrite),
                              .cpu = 0});
      out.push_back(
          PhaseInfo{.kind = K::kCr3Switch, .name = "cpu1:cr3-reload", .cr3 = 0, .cpu = 1});
    }
    if (s.hole_pages != 0) {
      for (int cpu : {1, 0}) {
        out.push_back(PhaseInfo{.kind = K::kHole, .name = "hole"});
        on(cpu, out.size() - 1);
      }
    }
    for (int n = 2; n <= s.passes; ++n) {
      for (int cpu : {1, 0}) {
        at = out.size();
        later_pass(n);  // each vCPU's --two-cr3 switches, as one vCPU's
        on(cpu, at);
      }
    }
    return out;
  }
  pass(1, 0);
  madvise_phases();
  if (s.memslot_readd) out.push_back(PhaseInfo{.kind = K::kMemslotReadd, .name = "memslot"});
  if (s.pte_rewrite != PteRewrite::kNone) {
    out.push_back(
        PhaseInfo{.kind = K::kPteRewrite, .name = std::string("pte-") + to_string(s.pte_rewrite)});
  }
  if (s.hole_pages != 0) out.push_back(PhaseInfo{.kind = K::kHole, .name = "hole"});
  for (int n = 2; n <= s.passes; ++n) later_pass(n);
  return out;
}

GuestChainRun run_guest_chain(const Scenario& s, const std::vector<std::uint32_t>& order,
                              std::uint64_t bursts, std::uint64_t burst_loads) {
  check(s);
  if (s.pattern != Pattern::kSeq || s.trace || order.size() < 2 ||
      order.size() * kChainLine > s.pages * k4K) {
    throw std::invalid_argument("run_guest_chain: a sequential scenario holding the chain");
  }
  Machine m(s, false);
  m.warm_up();
  const GuestLayout& layout = m.layout();
  // Sequential data pages: GVA and GPA offsets are equal, line by line (data_pages).
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::uint64_t next = order[(i + 1) % order.size()];
    const std::uint64_t at = std::uint64_t{order[i]} * kChainLine;
    const std::uint64_t value = kDataGva + next * kChainLine;
    std::memcpy(layout.gpa_ptr(Gpa(kDataGpa + at)), &value, sizeof value);
  }
  // One lap untimed: the guest's faults and KVM's shadow pages, every line cached once.
  CommandList lap;
  lap.chase(Gva(kDataGva + std::uint64_t{order[0]} * kChainLine), order.size());
  lap.end();
  m.run(lap);
  GuestChainRun out;
  const std::uint64_t per_list = (layout.list_bytes() / 8 - 1) / 2;
  for (std::uint64_t done = 0; done < bursts;) {
    const std::uint64_t n = std::min(per_list, bursts - done);
    CommandList l;
    for (std::uint64_t i = 0; i < n; ++i) l.chase(Gva(0), burst_loads);
    l.end();
    m.run(l);
    const std::uint8_t* words = layout.gpa_ptr(Gpa(kSysSlotGpa));
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t ticks = 0;
      std::memcpy(&ticks, words + (2 * i + 1) * 8, sizeof ticks);
      out.ticks.push_back(ticks);
    }
    done += n;
  }
  out.host_huge_bytes = anon_huge_bytes(layout.data().data());
  return out;
}

std::vector<PhaseCounts> run_scenario(const Scenario& s, const PerfCounters& perf) {
  check(s);
  const std::vector<PhaseInfo> phases = phases_of(s);
  std::vector<PhaseCounts> out;
  {
    Machine m(s, false);
    m.warm_up();
    for (const PhaseInfo& p : phases) out.push_back(m.phase(p, perf));
  }
  {
    Machine m(s, true);
    m.warm_up();
    for (std::size_t i = 0; i < phases.size(); ++i) {
      PhaseCounts b = m.phase(phases[i], perf);
      out[i].baseline = std::move(b.measured);
      out[i].baseline_aged = b.aged;
    }
  }
  return out;
}

}  // namespace pagesim::validate
