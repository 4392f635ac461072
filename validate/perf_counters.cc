#include "validate/perf_counters.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pagesim::validate {

namespace {

int perf_event_open(perf_event_attr* attr) {
  return static_cast<int>(syscall(SYS_perf_event_open, attr, 0 /* this thread */, -1 /* any cpu */,
                                  -1 /* no group */, PERF_FLAG_FD_CLOEXEC));
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == ' ')) s.erase(s.begin());
  return s;
}

}  // namespace

TracepointSpec parse_tracepoint_spec(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::invalid_argument("tracepoint '" + text + "': expected system:event[/filter]");
  }
  TracepointSpec s;
  s.system = text.substr(0, colon);
  const auto slash = text.find('/', colon);
  s.event =
      text.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1);
  if (s.event.empty()) throw std::invalid_argument("tracepoint '" + text + "': no event");
  s.name = s.system + "." + s.event;
  if (slash != std::string::npos) {
    s.filter = trim(text.substr(slash + 1));
    if (s.filter.empty()) throw std::invalid_argument("tracepoint '" + text + "': empty filter");
    std::size_t end = 0;
    while (end < s.filter.size() &&
           (std::isalnum(static_cast<unsigned char>(s.filter[end])) || s.filter[end] == '_')) {
      ++end;
    }
    s.name += "." + s.filter.substr(0, end);
  }
  return s;
}

std::optional<std::uint64_t> parse_tracepoint_id(const std::string& text) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = v * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (v > (1ull << 40)) return std::nullopt;
  }
  if (i == 0) return std::nullopt;
  for (; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != ' ') return std::nullopt;
  }
  return v;
}

std::string find_tracefs() {
  for (const char* p : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    if (exists(std::string(p) + "/events")) return p;
  }
  if (exists("/sys/kernel/tracing") &&
      mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
      exists("/sys/kernel/tracing/events")) {
    return "/sys/kernel/tracing";
  }
  return "";
}

PerfCounters::PerfCounters(const std::vector<TracepointSpec>& specs) {
  const std::string tracefs = find_tracefs();
  try {
    for (const TracepointSpec& s : specs) {
      perf_event_attr attr{};
      attr.size = sizeof(attr);
      attr.disabled = 1;
      if (s.system == "software") {
        attr.type = PERF_TYPE_SOFTWARE;
        attr.config = PERF_COUNT_SW_PAGE_FAULTS;
      } else {
        if (tracefs.empty()) {
          throw PerfUnavailable{
              "tracefs (not mounted at /sys/kernel/tracing and cannot be "
              "mounted: tracepoint ids are unreadable)"};
        }
        const std::string path = tracefs + "/events/" + s.system + "/" + s.event + "/id";
        std::ifstream in(path);
        if (!in) {
          throw PerfUnavailable{"tracepoint " + s.system + ":" + s.event + " (" + path + ": " +
                                std::strerror(errno) + ")"};
        }
        std::stringstream text;
        text << in.rdbuf();
        const auto id = parse_tracepoint_id(text.str());
        if (!id) throw std::runtime_error(path + ": not a tracepoint id");
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.config = *id;
      }
      const int fd = perf_event_open(&attr);
      if (fd < 0) {
        const int e = errno;
        if (e == EACCES || e == EPERM) {
          throw PerfUnavailable{"permission to count " + s.system + ":" + s.event +
                                " through perf_event_open (run as root or with CAP_PERFMON; "
                                "kernel.perf_event_paranoid is above what this user may use)"};
        }
        if (e == ENOSYS || e == ENOENT || e == ENODEV) {
          throw PerfUnavailable{"perf_event_open for " + s.system + ":" + s.event + " (" +
                                std::strerror(e) + ")"};
        }
        throw std::runtime_error("perf_event_open " + s.name + ": " + std::strerror(e));
      }
      m_open.push_back(Open{s.name, fd});
      if (!s.filter.empty() && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, s.filter.c_str()) != 0) {
        throw std::runtime_error("perf filter '" + s.filter + "' on " + s.name + ": " +
                                 std::strerror(errno));
      }
      if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
        throw std::runtime_error("perf enable " + s.name + ": " + std::strerror(errno));
      }
    }
  } catch (...) {
    for (const Open& o : m_open) close(o.fd);
    m_open.clear();
    throw;
  }
}

PerfCounters::~PerfCounters() {
  for (const Open& o : m_open) close(o.fd);
}

Counters PerfCounters::read() const {
  Counters out;
  for (const Open& o : m_open) {
    std::uint64_t v = 0;
    if (::read(o.fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) {
      throw std::runtime_error("perf read " + o.name + ": " + std::strerror(errno));
    }
    out[o.name] = static_cast<std::int64_t>(v);
  }
  return out;
}

std::vector<TracepointSpec> default_tracepoints() {
  std::vector<TracepointSpec> out;
  for (const char* t : {
           "kvmmmu:kvm_mmu_pagetable_walk",
           "kvmmmu:kvm_mmu_get_page",
           "kvmmmu:kvm_mmu_get_page/created == 1",
           "kvmmmu:kvm_mmu_prepare_zap_page",
           "kvmmmu:kvm_mmu_sync_page",
           "kvmmmu:kvm_mmu_unsync_page",
           "kvmmmu:kvm_mmu_set_spte",
           "kvmmmu:kvm_mmu_spte_requested",
           "kvmmmu:mark_mmio_spte",
           "kvmmmu:handle_mmio_page_fault",
           "kvmmmu:kvm_mmu_zap_all_fast",
           "kvmmmu:kvm_mmu_set_accessed_bit",
           "kvmmmu:kvm_mmu_set_dirty_bit",
           "kvm:kvm_emulate_insn",
           "kvm:kvm_mmio",
           "kvm:kvm_cr",
       }) {
    out.push_back(parse_tracepoint_spec(t));
  }
  out.push_back(TracepointSpec{
      .system = "software", .event = "page-faults", .filter = "", .name = "perf.page_faults"});
  return out;
}

}  // namespace pagesim::validate
