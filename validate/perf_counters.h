// Kernel tracepoints counted through perf_event_open (PERF_TYPE_TRACEPOINT, counting mode,
// this thread only: the VMM runs its vCPU, its madvise calls and its memslot ioctls on one
// thread, and KVM's tracepoints fire in that thread's context). A tracepoint may carry a
// filter (PERF_EVENT_IOC_SET_FILTER), e.g. kvm_mmu_get_page with "created == 1".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "validate/kvm_stats.h"

namespace pagesim::validate {

struct TracepointSpec {
  std::string system;  // "kvmmmu"
  std::string event;   // "kvm_mmu_get_page"
  std::string filter;  // "" or a perf filter expression ("created == 1")
  std::string name;    // the counter's name in reports: "kvmmmu.kvm_mmu_get_page.created"
};

// "system:event" or "system:event/filter" (the name gets the filter's first field).
TracepointSpec parse_tracepoint_spec(const std::string& text);
// The contents of tracefs's events/<system>/<event>/id: a decimal number and a newline.
std::optional<std::uint64_t> parse_tracepoint_id(const std::string& text);

// Where tracefs is (mounting it on /sys/kernel/tracing if nothing is mounted); "" if none.
std::string find_tracefs();

// Why a set of counters cannot be opened: what is missing, for the exit-77 message.
struct PerfUnavailable {
  std::string what;
};

class PerfCounters {
 public:
  // Opens every spec; throws PerfUnavailable when tracefs, a tracepoint or the permission
  // is missing, std::runtime_error on anything else.
  explicit PerfCounters(const std::vector<TracepointSpec>& specs);
  ~PerfCounters();
  PerfCounters(const PerfCounters&) = delete;
  PerfCounters& operator=(const PerfCounters&) = delete;

  Counters read() const;

 private:
  struct Open {
    std::string name;
    int fd;
  };
  std::vector<Open> m_open;
};

// The tracepoints pagesim-validate counts (KVM's shadow MMU and emulator) and the
// page-faults software event.
std::vector<TracepointSpec> default_tracepoints();

}  // namespace pagesim::validate
