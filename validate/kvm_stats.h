// KVM's binary statistics (KVM_GET_STATS_FD on a VM or vCPU fd; Linux
// Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD"): a header (struct kvm_stats_header),
// an id string, descriptors (struct kvm_stats_desc, each followed by its name in name_size
// bytes) and the data block of u64 values. The layout is read once; values are re-read
// with pread at every snapshot. Only single-value counters are kept (histograms skipped).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace pagesim::validate {

struct KvmStatDesc {
  std::string name;
  std::uint32_t flags = 0;   // KVM_STATS_TYPE_*, _UNIT_*, _BASE_*
  std::uint16_t size = 0;    // u64 values
  std::uint32_t offset = 0;  // bytes from the data block's start
};

struct KvmStatsLayout {
  std::string id;
  std::uint32_t data_offset = 0;
  std::vector<KvmStatDesc> descs;
};

using Counters = std::map<std::string, std::int64_t>;

// Parses the header, id and descriptors from the first bytes of a stats fd's contents
// (`bytes` must reach at least the end of the descriptors). Throws std::runtime_error
// naming what is wrong (truncated, offsets out of range, unterminated name).
KvmStatsLayout parse_kvm_stats_layout(std::span<const std::uint8_t> bytes);

// Values of the single-value statistics, named `prefix + name`, from the data block
// (bytes starting at layout.data_offset).
Counters kvm_stats_values(const KvmStatsLayout& layout, std::span<const std::uint8_t> data,
                          const std::string& prefix);

// A stats fd opened on a VM or vCPU fd.
class KvmStatsFd {
 public:
  KvmStatsFd(int kvm_object_fd, std::string prefix);
  ~KvmStatsFd();
  KvmStatsFd(const KvmStatsFd&) = delete;
  KvmStatsFd& operator=(const KvmStatsFd&) = delete;
  Counters read() const;
  const KvmStatsLayout& layout() const { return m_layout; }

 private:
  int m_fd = -1;
  std::string m_prefix;
  KvmStatsLayout m_layout;
  std::size_t m_data_bytes = 0;
};

// a - b for every key of a (missing in b: counted from 0).
Counters subtract(const Counters& a, const Counters& b);

}  // namespace pagesim::validate
