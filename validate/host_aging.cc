#include "validate/host_aging.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "validate/perf_counters.h"

namespace pagesim::validate {

std::string age_hva_filter(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  std::string f;
  for (const auto& [start, bytes] : ranges) {
    if (bytes == 0) continue;
    char one[96];
    // The event's [start, end) overlaps [start, start + bytes).
    std::snprintf(one, sizeof one, "(start < 0x%llx && end > 0x%llx)",
                  static_cast<unsigned long long>(start + bytes),
                  static_cast<unsigned long long>(start));
    if (!f.empty()) f += " || ";
    f += one;
  }
  return f;
}

namespace {

// The online CPUs, from /sys/devices/system/cpu/online ("0-1,4"); empty if unreadable.
std::vector<int> online_cpus() {
  std::ifstream in("/sys/devices/system/cpu/online");
  std::string text;
  std::getline(in, text);
  std::vector<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int a = 0, b = 0;
    if (std::sscanf(part.c_str(), "%d-%d", &a, &b) == 2) {
      for (int c = a; c <= b; ++c) out.push_back(c);
    } else if (std::sscanf(part.c_str(), "%d", &a) == 1) {
      out.push_back(a);
    }
  }
  return out;
}

}  // namespace

HostAging::HostAging(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  const std::string tracefs = find_tracefs();
  const std::string path = tracefs + "/events/kvm/kvm_age_hva/id";
  std::ifstream in(path);
  std::stringstream text;
  if (tracefs.empty() || !(text << in.rdbuf())) {
    m_unavailable = "tracepoint kvm:kvm_age_hva (" + path + " unreadable)";
    return;
  }
  const auto id = parse_tracepoint_id(text.str());
  const std::vector<int> cpus = online_cpus();
  if (!id || cpus.empty()) {
    m_unavailable = !id ? path + ": not a tracepoint id" : "the online CPUs (unreadable)";
    return;
  }
  const std::string filter = age_hva_filter(ranges);
  for (int cpu : cpus) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = *id;
    attr.disabled = 1;
    const int fd = static_cast<int>(
        syscall(SYS_perf_event_open, &attr, -1 /* every task */, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      m_unavailable = std::string("CPU-wide counting of kvm:kvm_age_hva (perf_event_open: ") +
                      std::strerror(errno) +
                      "; needs root, CAP_PERFMON or perf_event_paranoid <= 0)";
      break;
    }
    m_fds.push_back(fd);
    if ((!filter.empty() && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter.c_str()) != 0) ||
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
      m_unavailable = std::string("kvm:kvm_age_hva's filter or enable: ") + std::strerror(errno);
      break;
    }
  }
  if (!m_unavailable.empty()) {
    for (int fd : m_fds) close(fd);
    m_fds.clear();
  }
}

HostAging::~HostAging() {
  for (int fd : m_fds) close(fd);
}

std::optional<std::int64_t> HostAging::count() const {
  if (m_fds.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (int fd : m_fds) {
    std::uint64_t v = 0;
    if (::read(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return std::nullopt;
    n += static_cast<std::int64_t>(v);
  }
  return n;
}

}  // namespace pagesim::validate
