// The trace-driven core: one SC_THREAD that replays a trace through the translation
// hardware, loosely timed.
//
// Per access (no SystemC kernel call, no allocation):
//   1. TLB lookup through the TlbIf port (a direct call: L1 i/d, then the STLB);
//   2. on a miss, or a store through an entry whose dirty flag is clear (the processor
//      walks to set D: Intel SDM Vol. 3A 4.8), a walk: b_transport of the reused payload
//      with its TranslationExt to the walker;
//   3. a walk that meets a non-present entry is a page fault: the OS model maps the page
//      and the access is retried, which walks again (a faulting walk caches nothing, SDM
//      4.10.2.3); the trace access still counts one TLB miss at each level;
//   4. the TLBs are filled with the translation (L2 and the L1).
// The access costs core.cycles_per_access + TLB latencies + walk latency + fault latency.
// An access that crosses a page boundary translates both pages.
//
// Events: `!cr3 ID` switches to address space ID (its PCID; entries of other PCIDs stay),
// `!invlpg GVA` invalidates that page's TLB entries and the current PCID's
// paging-structure-cache entries. Other events need the modes that model them.
//
// Time: cycles are summed as integers per batch of records; the quantum keeper is told
// once per batch and synchronises only when the quantum is used up.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <exception>
#include <functional>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/os/os_module.h"
#include "models/tlb/tlb_module.h"
#include "models/walker/walker_module.h"
#include "sim/sim_params.h"
#include "sim/stats/stats.h"
#include "sim/time.h"
#include "sim/translation_ext.h"
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
  stats::Counter page_splits{*this, "page_splits", "accesses that cross a page boundary"};
  stats::Counter events{*this, "events", "trace events replayed"};
  stats::Counter cr3_writes{*this, "cr3_writes", "address-space switches (!cr3)"};
  stats::Counter invlpgs{*this, "invlpgs", "INVLPG instructions (!invlpg)"};
  stats::Counter dirty_walks{*this, "dirty_walks",
                             "walks to set the dirty flag for a store through a clean TLB entry"};
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

class CoreModule final : public sc_core::sc_module {
 public:
  sc_core::sc_port<tlb::TlbIf> tlb_port{"tlb_port"};
  sc_core::sc_port<os::OsIf> os_port{"os_port"};
  tlm_utils::simple_initiator_socket<CoreModule> walker_socket{"walker_socket"};
  // Invalidations (INVLPG) reach the walker's paging-structure caches directly.
  sc_core::sc_port<walker::WalkerControlIf> walker_port{"walker_port"};

  // `progress` is called every 2^20 records with the count so far (may be empty).
  CoreModule(sc_core::sc_module_name name, const SimParams& params, const CycleClock& clock,
             traces::TraceReader& trace, stats::Group* stats_parent,
             std::function<void(std::uint64_t)> progress);
  ~CoreModule() override;

  // An exception thrown inside the thread (a damaged trace, out of memory), rethrown by
  // the caller of sc_start.
  std::exception_ptr failure() const { return m_failure; }

 private:
  void end_of_elaboration() override;
  void run();
  Cycles access(const traces::Record& r);
  // A trace event; `position` is the record's number in the trace (from 1) for errors.
  void handle_event(const traces::Record& r, std::uint64_t position);
  Cycles translate(AccessKind kind, Gva gva);
  Cycles walk_and_fill(AccessKind kind, Gva gva);

  const SimParams& m_params;
  const CycleClock& m_clock;
  traces::TraceReader& m_trace;
  std::function<void(std::uint64_t)> m_progress;
  CoreStats m_stats;
  tlb::TlbHierarchy* m_tlbs = nullptr;
  os::OsIf* m_os = nullptr;
  walker::Walker* m_walker_control = nullptr;
  tlm_utils::tlm_quantumkeeper m_qk;
  tlm::tlm_generic_payload m_gp;
  TranslationExt m_ext;
  std::vector<traces::Record> m_batch;
  std::uint16_t m_asid = 0;
  std::uint16_t m_pcid = 0;
  std::uint16_t m_vpid = 0;
  Hpa m_root;
  PageSize m_last_page_size = PageSize::k4K;  // of the last translation (split accesses)
  std::exception_ptr m_failure;
};

}  // namespace pagesim
