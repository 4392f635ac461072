// What kind of KVM host this is: hardware two-dimensional paging (Intel EPT, AMD NPT) with
// the TDP MMU or the legacy one, or shadow paging (no EPT/NPT, or disabled, or PVM), read
// from the kvm modules' parameters in sysfs. It chooses the simulator's mode.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace pagesim::validate {

struct HostInfo {
  std::string kvm_module;    // kvm_intel, kvm_amd, kvm_pvm or "" (none loaded)
  bool ept = false;          // kvm_intel.ept = Y
  bool npt = false;          // kvm_amd.npt = 1
  bool tdp_mmu = false;      // kvm.tdp_mmu = Y
  bool pvm = false;          // kvm_pvm loaded
  bool mmio_caching = true;  // kvm.mmio_caching: MMIO SPTEs cache GPAs outside every memslot
  // The host kernel's memory settings the simulator's prediction takes (sim_predictor.h):
  // /sys/kernel/mm/transparent_hugepage/use_zero_page (Linux's default 1 when absent).
  bool thp_use_zero_page = true;
  // fault_around_bytes from debugfs (/sys/kernel/debug/fault_around_bytes, which needs
  // debugfs mounted and root): Linux's default 64 KiB when it cannot be read
  // (fault_around_read false).
  std::uint64_t fault_around_bytes = 65536;
  bool fault_around_read = false;
  std::string kernel;  // uname -r
  std::string cpu;     // /proc/cpuinfo model name

  bool two_dimensional() const { return ept || npt; }
  // "shadow" or "nested": the simulator's mode for this host.
  std::string sim_mode() const { return two_dimensional() ? "nested" : "shadow"; }
  // One line for reports: "kvm_pvm, shadow paging (no EPT/NPT), tdp_mmu=N, Linux 6.18".
  std::string describe() const;
};

// Reads a sysfs-like file through `read` (returns nullopt when absent), so tests can feed
// any host.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;
HostInfo detect_host(const FileReader& read);
HostInfo detect_host();

}  // namespace pagesim::validate
