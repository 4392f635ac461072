#include "validate/kvm_stats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pagesim::validate {

namespace {

// KVM_STATS_NAME_SIZE in Linux's uapi (not in every libc's copy of the header).
constexpr std::size_t kIdSize = 48;

// struct kvm_stats_desc before its name, as C lays it out (16 bytes); C++ compilers may
// size the uapi header's flexible array differently, so the layout is spelled here.
struct StatsDescHead {
  std::uint32_t flags;
  std::int16_t exponent;
  std::uint16_t size;
  std::uint32_t offset;
  std::uint32_t bucket_size;
};
static_assert(sizeof(StatsDescHead) == 16);

template <class T>
T load(std::span<const std::uint8_t> bytes, std::size_t at, const char* what) {
  if (at + sizeof(T) > bytes.size()) {
    throw std::runtime_error(std::string("KVM stats: truncated at ") + what + " (byte " +
                             std::to_string(at) + " of " + std::to_string(bytes.size()) + ")");
  }
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

}  // namespace

KvmStatsLayout parse_kvm_stats_layout(std::span<const std::uint8_t> bytes) {
  const auto h = load<kvm_stats_header>(bytes, 0, "the header");
  KvmStatsLayout out;
  out.data_offset = h.data_offset;
  if (h.id_offset + kIdSize <= bytes.size()) {
    const char* id = reinterpret_cast<const char*>(bytes.data() + h.id_offset);
    out.id.assign(id, strnlen(id, kIdSize));
  }
  const std::size_t desc_bytes = sizeof(StatsDescHead) + h.name_size;
  for (std::uint32_t i = 0; i < h.num_desc; ++i) {
    const std::size_t at = h.desc_offset + i * desc_bytes;
    const auto d = load<StatsDescHead>(bytes, at, "a descriptor");
    if (at + desc_bytes > bytes.size()) {
      throw std::runtime_error("KVM stats: truncated at descriptor " + std::to_string(i));
    }
    const char* name = reinterpret_cast<const char*>(bytes.data() + at + sizeof(StatsDescHead));
    const std::size_t len = strnlen(name, h.name_size);
    if (len == h.name_size) {
      throw std::runtime_error("KVM stats: descriptor " + std::to_string(i) +
                               ": name not terminated within name_size");
    }
    out.descs.push_back(KvmStatDesc{
        .name = std::string(name, len), .flags = d.flags, .size = d.size, .offset = d.offset});
  }
  return out;
}

Counters kvm_stats_values(const KvmStatsLayout& layout, std::span<const std::uint8_t> data,
                          const std::string& prefix) {
  Counters out;
  for (const KvmStatDesc& d : layout.descs) {
    const std::uint32_t type = d.flags & KVM_STATS_TYPE_MASK;
    if (d.size != 1 || type == KVM_STATS_TYPE_LINEAR_HIST || type == KVM_STATS_TYPE_LOG_HIST) {
      continue;
    }
    out[prefix + d.name] = static_cast<std::int64_t>(load<std::uint64_t>(data, d.offset, "data"));
  }
  return out;
}

KvmStatsFd::KvmStatsFd(int kvm_object_fd, std::string prefix) : m_prefix(std::move(prefix)) {
  m_fd = ioctl(kvm_object_fd, KVM_GET_STATS_FD, nullptr);
  if (m_fd < 0) {
    throw std::runtime_error(std::string("KVM_GET_STATS_FD: ") + std::strerror(errno));
  }
  std::vector<std::uint8_t> buf(1 << 16);
  for (;;) {
    const ssize_t n = pread(m_fd, buf.data(), buf.size(), 0);
    if (n < 0) throw std::runtime_error(std::string("KVM stats read: ") + std::strerror(errno));
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      break;
    }
    buf.resize(buf.size() * 2);
  }
  m_layout = parse_kvm_stats_layout(buf);
  for (const KvmStatDesc& d : m_layout.descs) {
    m_data_bytes = std::max<std::size_t>(m_data_bytes, d.offset + 8ull * d.size);
  }
}

KvmStatsFd::~KvmStatsFd() {
  if (m_fd >= 0) close(m_fd);
}

Counters KvmStatsFd::read() const {
  std::vector<std::uint8_t> data(m_data_bytes);
  const ssize_t n = pread(m_fd, data.data(), data.size(), m_layout.data_offset);
  if (n != static_cast<ssize_t>(data.size())) {
    throw std::runtime_error("KVM stats: short read of the data block");
  }
  return kvm_stats_values(m_layout, data, m_prefix);
}

Counters subtract(const Counters& a, const Counters& b) {
  Counters out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    out[k] = v - (it == b.end() ? 0 : it->second);
  }
  return out;
}

}  // namespace pagesim::validate
