#include "traces/qemu_stream_reader.h"

#include <bit>
#include <cstring>

#include "traces/qemu_plugin/pagesim_stream.h"

namespace pagesim::traces {

namespace {

static_assert(std::endian::native == std::endian::little,
              "the stream's words are little-endian, read as they lie");

constexpr std::size_t kBufferWords = std::size_t{1} << 17;  // 1 MiB
constexpr std::uint64_t kAddressMask = (std::uint64_t{1} << PAGESIM_STREAM_ADDRESS_BITS) - 1;

}  // namespace

QemuStreamReader::QemuStreamReader(InputFile input)
    : m_input(std::move(input)), m_words(new std::uint64_t[kBufferWords]) {}

std::string QemuStreamReader::describe() const {
  return m_input.path() + " (pagesim qemu plugin stream)";
}

void QemuStreamReader::fail(std::uint64_t byte, const std::string& what) const {
  throw TraceError(m_input.path() + ": byte " + std::to_string(byte) + ": " + what);
}

bool QemuStreamReader::refill() {
  if (!m_magic_read) {
    char magic[PAGESIM_STREAM_MAGIC_BYTES];
    const std::size_t got = m_input.read(magic, sizeof magic);
    if (got == 0) {
      fail(0, "empty: the qemu plugin wrote nothing (qemu did not start or did not load it)");
    }
    if (got == sizeof magic && std::memcmp(magic, PAGESIM_STREAM_MAGIC, sizeof magic) == 0) {
      m_version = 2;
    } else if (got == sizeof magic &&
               std::memcmp(magic, PAGESIM_STREAM_MAGIC_V1, sizeof magic) == 0) {
      m_version = 1;
    } else {
      fail(0, "bad magic: not pagesim's qemu plugin stream");
    }
    m_magic_read = true;
  }
  m_words_offset = m_input.offset();
  const std::size_t bytes = m_input.read(m_words.get(), kBufferWords * sizeof(std::uint64_t));
  if (bytes % sizeof(std::uint64_t) != 0) {
    fail(m_words_offset + bytes - bytes % sizeof(std::uint64_t),
         "truncated: the stream ends inside a word");
  }
  m_next = 0;
  m_count = bytes / sizeof(std::uint64_t);
  return m_count > 0;
}

std::size_t QemuStreamReader::read(std::span<Record> out) {
  std::size_t n = 0;
  while (n < out.size() && !m_done) {
    if (m_next == m_count && !refill()) {
      m_done = true;
      break;
    }
    // The fast loop: near addresses, one word each, as long as both sides have room.
    const std::size_t room = std::min(out.size() - n, m_count - m_next);
    const std::uint64_t* words = m_words.get() + m_next;
    std::size_t i = 0;
    for (; i < room; ++i) {
      const std::uint64_t w = words[i];
      const auto kind = static_cast<unsigned>(w >> PAGESIM_STREAM_KIND_SHIFT);
      const auto size =
          static_cast<std::uint32_t>((w >> PAGESIM_STREAM_SIZE_SHIFT) & PAGESIM_STREAM_SIZE_MASK);
      if (kind == PAGESIM_STREAM_KIND_ESCAPE || size == 0) {
        break;
      }
      out[n + i] = Record{w & kAddressMask, size, static_cast<AccessKind>(kind)};
    }
    n += i;
    m_next += i;
    if (i == room) {
      continue;
    }
    // An escape (or damage) at m_next.
    const std::uint64_t at = m_words_offset + m_next * sizeof(std::uint64_t);
    const std::uint64_t w = m_words[m_next];
    const auto size =
        static_cast<std::uint32_t>((w >> PAGESIM_STREAM_SIZE_SHIFT) & PAGESIM_STREAM_SIZE_MASK);
    constexpr std::uint64_t kNote =
        (std::uint64_t{PAGESIM_STREAM_KIND_ESCAPE} << PAGESIM_STREAM_KIND_SHIFT) |
        PAGESIM_STREAM_NOTE_PROCESSES;
    constexpr std::uint64_t kMarker =
        (std::uint64_t{PAGESIM_STREAM_KIND_ESCAPE} << PAGESIM_STREAM_KIND_SHIFT) |
        PAGESIM_STREAM_NOTE_MARKER;
    if (w == kMarker) {
      // The program's marker: a region of interest begins, or the one open ends.
      ++m_next;
      out[n++] = Record::event(m_markers++ % 2 == 0 ? EventOp::kRoiBegin : EventOp::kRoiEnd);
      continue;
    }
    constexpr std::uint64_t kVcpuNoteMask =
        (std::uint64_t{PAGESIM_STREAM_KIND_ESCAPE} << PAGESIM_STREAM_KIND_SHIFT) |
        (std::uint64_t{PAGESIM_STREAM_SIZE_MASK} << PAGESIM_STREAM_SIZE_SHIFT) | 0xff;
    constexpr std::uint64_t kVcpuNote =
        (std::uint64_t{PAGESIM_STREAM_KIND_ESCAPE} << PAGESIM_STREAM_KIND_SHIFT) |
        PAGESIM_STREAM_NOTE_VCPU;
    if ((w & kVcpuNoteMask) == kVcpuNote && m_version >= 2) {
      // The words that follow are this vCPU's: `!cpu` when it is not the current one.
      const std::uint64_t vcpu = (w & kAddressMask) >> PAGESIM_STREAM_VCPU_SHIFT;
      if (vcpu >= kMaxCpus) {
        fail(at, "vCPU " + std::to_string(vcpu) +
                     ": a trace names CPUs 0 to 255 (the program ran threads past qemu's "
                     "vCPU index 255)");
      }
      ++m_next;
      if (vcpu != m_cpu) {
        m_cpu = vcpu;
        out[n++] = Record::event(EventOp::kCpu, vcpu);
      }
      continue;
    }
    if (w == kNote) {
      ++m_next;
      if (m_next == m_count && !refill()) {
        fail(at, "truncated: the stream ends after a note, before its value");
      }
      m_unrecorded_processes += static_cast<std::int64_t>(m_words[m_next++]);
      continue;
    }
    if (size == 0) {
      fail(at, "access of size 0");
    }
    const auto kind = static_cast<unsigned>(w & 3);
    if (kind > 2 || (w & kAddressMask & ~std::uint64_t{3}) != 0) {
      fail(at, "bad escape word (kind " + std::to_string(kind) + ", reserved bits set)");
    }
    ++m_next;
    if (m_next == m_count && !refill()) {
      fail(at, "truncated: the stream ends after an escape word, before its address");
    }
    out[n++] = Record{m_words[m_next++], size, static_cast<AccessKind>(kind)};
  }
  return n;
}

}  // namespace pagesim::traces
