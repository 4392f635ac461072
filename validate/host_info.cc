#include "validate/host_info.h"

#include <sys/utsname.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pagesim::validate {

namespace {

bool yes(const std::optional<std::string>& v) {
  return v && !v->empty() && ((*v)[0] == 'Y' || (*v)[0] == 'y' || (*v)[0] == '1');
}

}  // namespace

std::string HostInfo::describe() const {
  std::string s = kvm_module.empty() ? "no KVM module" : kvm_module;
  if (ept) {
    s += ", EPT";
  } else if (npt) {
    s += ", NPT";
  } else {
    s += ", shadow paging (no EPT/NPT)";
  }
  s += std::string(", tdp_mmu=") + (tdp_mmu ? "Y" : "N");
  s += std::string(", mmio_caching=") + (mmio_caching ? "Y" : "N");
  s += std::string(", thp use_zero_page=") + (thp_use_zero_page ? "1" : "0");
  s += ", fault_around_bytes=" + std::to_string(fault_around_bytes) +
       (fault_around_read ? "" : " (default: debugfs not readable)");
  if (!kernel.empty()) s += ", Linux " + kernel;
  if (!cpu.empty()) s += ", " + cpu;
  return s;
}

HostInfo detect_host(const FileReader& read) {
  HostInfo h;
  if (read("/sys/module/kvm_intel/parameters/ept")) {
    h.kvm_module = "kvm_intel";
    h.ept = yes(read("/sys/module/kvm_intel/parameters/ept"));
  } else if (read("/sys/module/kvm_amd/parameters/npt")) {
    h.kvm_module = "kvm_amd";
    h.npt = yes(read("/sys/module/kvm_amd/parameters/npt"));
  } else if (read("/sys/module/kvm_pvm/parameters/force")) {
    h.kvm_module = "kvm_pvm";
    h.pvm = true;
  }
  h.tdp_mmu = yes(read("/sys/module/kvm/parameters/tdp_mmu")) && h.two_dimensional();
  const auto mmio = read("/sys/module/kvm/parameters/mmio_caching");
  h.mmio_caching = !mmio || yes(mmio);
  const auto zero = read("/sys/kernel/mm/transparent_hugepage/use_zero_page");
  h.thp_use_zero_page = !zero || yes(zero);
  // The value the kernel uses (fault_around_bytes_get: a power of two pages, at most
  // PTRS_PER_PTE of them); anything else read is ignored.
  if (const auto around = read("/sys/kernel/debug/fault_around_bytes")) {
    try {
      const std::uint64_t b = std::stoull(*around);
      if (b >= 4096 && b <= (2u << 20) && (b & (b - 1)) == 0) {
        h.fault_around_bytes = b;
        h.fault_around_read = true;
      }
    } catch (const std::exception&) {
    }
  }
  return h;
}

HostInfo detect_host() {
  HostInfo h = detect_host([](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  });
  utsname u{};
  if (uname(&u) == 0) h.kernel = u.release;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) h.cpu = line.substr(colon + 2);
      break;
    }
  }
  return h;
}

}  // namespace pagesim::validate
