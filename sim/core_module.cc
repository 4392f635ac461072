#include "sim/core_module.h"

#include <stdexcept>

namespace pagesim {
namespace {
constexpr std::size_t kBatchRecords = 4096;
constexpr std::uint64_t kProgressMask = (std::uint64_t{1} << 20) - 1;
}  // namespace

CoreModule::CoreModule(sc_core::sc_module_name name, const SimParams& params,
                       const CycleClock& clock, traces::TraceReader& trace,
                       stats::Group* stats_parent, std::function<void(std::uint64_t)> progress)
    : sc_core::sc_module(name),
      m_params(params),
      m_clock(clock),
      m_trace(trace),
      m_progress(std::move(progress)),
      m_stats(stats_parent, "sim"),
      m_batch(kBatchRecords) {
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

void CoreModule::end_of_elaboration() {
  m_tlbs = &tlb_port->hierarchy();
  m_os = os_port.operator->();
  m_walker_control = &walker_port->walker();
}

void CoreModule::run() {
  try {
    m_root = m_os->address_space_root(m_asid);
    std::uint64_t done = 0;
    for (;;) {
      std::size_t n = m_trace.read(m_batch);
      if (n == 0) {
        break;
      }
      std::uint64_t batch_cycles = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const traces::Record& r = m_batch[i];
        if (r.is_event()) {
          handle_event(r, done + i + 1);
        } else {
          batch_cycles += access(r).count();
        }
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
    }
    m_qk.sync();
  } catch (...) {
    m_failure = std::current_exception();
    sc_core::sc_stop();
  }
}

void CoreModule::handle_event(const traces::Record& r, std::uint64_t position) {
  ++m_stats.events;
  switch (r.op) {
    case traces::EventOp::kCr3: {
      // MOV CR3 to the address space's root with CR4.PCIDE = 1 and the no-flush bit set,
      // as Linux switches mm with PCIDs: entries stay, tagged by PCID (SDM 4.10.1). The
      // address-space id is the PCID, which has 12 bits.
      if (r.address >= 4096) {
        throw std::runtime_error("trace record " + std::to_string(position) + ": !cr3 " +
                                 std::to_string(r.address) +
                                 ": address-space ids are PCIDs, 0 to 4095");
      }
      m_asid = static_cast<std::uint16_t>(r.address);
      m_pcid = m_asid;
      m_root = m_os->address_space_root(m_asid);
      ++m_stats.cr3_writes;
      return;
    }
    case traces::EventOp::kInvlpg:
      // INVLPG: the TLB entries for the page (any page size) in the current PCID, and
      // every paging-structure-cache entry of the current PCID (SDM 4.10.4.1).
      m_tlbs->invalidate_page(Gva(r.address), m_pcid, m_vpid);
      m_walker_control->invalidate_page(Gva(r.address), m_pcid);
      ++m_stats.invlpgs;
      return;
    default:
      throw std::runtime_error("trace record " + std::to_string(position) + ": the event '!" +
                               std::string(traces::event_name(r.op)) +
                               "' is not supported in mode native (native mode takes !cr3 "
                               "and !invlpg)");
  }
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
  Cycles translation = translate(r.kind, gva);
  // A split access: its last byte lies in another page than its first (by the size of the
  // page that translated the first byte), so that page is translated too.
  std::uint64_t last = r.address + (r.size == 0 ? 0 : r.size - 1);
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
    cost += walk_and_fill(kind, gva);
  } else if (kind == AccessKind::kWrite && !hit.entry->dirty) {
    ++m_stats.dirty_walks;
    cost += walk_and_fill(kind, gva);
  } else {
    m_last_page_size = hit.entry->size;
  }
  return cost;
}

Cycles CoreModule::walk_and_fill(AccessKind kind, Gva gva) {
  Cycles cost{0};
  for (int attempt = 0;; ++attempt) {
    m_ext.root = m_root;
    m_ext.gva = gva;
    m_ext.kind = kind;
    m_ext.pcid = m_pcid;
    m_ext.vpid = m_vpid;
    m_gp.set_command(kind == AccessKind::kWrite ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    m_gp.set_address(gva.value());
    m_gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    walker_socket->b_transport(m_gp, delay);
    if (m_gp.is_response_error()) {
      throw std::logic_error("walker rejected a translation request");
    }
    cost += m_ext.cycles;
    if (m_ext.outcome == TranslationExt::Outcome::kOk) {
      // The TLBs may hold it splintered into smaller pages, or (with every array for its
      // size and the smaller ones configured off) not at all.
      const Translation* held = m_tlbs->fill(kind, gva, m_pcid, m_vpid, m_ext.translation);
      m_last_page_size = held != nullptr ? held->size : m_ext.translation.size;
      return cost;
    }
    if (attempt > 0) {
      throw std::logic_error("page fault at the same address after the OS mapped it");
    }
    Cycles fault = m_os->handle_page_fault(m_asid, gva, kind);
    m_stats.fault_cycles += fault.count();
    cost += fault;
  }
}

}  // namespace pagesim
