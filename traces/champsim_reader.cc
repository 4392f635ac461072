#include "traces/champsim_reader.h"

#include <algorithm>
#include <cstring>

namespace pagesim::traces {

namespace {

// 1024 instructions per read of the (decompressed) input.
constexpr std::size_t kBufferBytes = 1024 * kChampsimRecordBytes;

constexpr std::size_t kIpOffset = 0;
constexpr std::size_t kDestinationMemoryOffset = 16;
constexpr std::size_t kSourceMemoryOffset = 32;

std::uint64_t load_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

void store_le64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<unsigned char>(v >> (8 * i));
  }
}

}  // namespace

std::array<unsigned char, kChampsimRecordBytes> encode_champsim(const ChampsimInstruction& instr) {
  std::array<unsigned char, kChampsimRecordBytes> bytes{};
  store_le64(bytes.data() + kIpOffset, instr.ip);
  bytes[8] = instr.is_branch;
  bytes[9] = instr.branch_taken;
  std::copy(instr.destination_registers.begin(), instr.destination_registers.end(),
            bytes.begin() + 10);
  std::copy(instr.source_registers.begin(), instr.source_registers.end(), bytes.begin() + 12);
  for (std::size_t i = 0; i < instr.destination_memory.size(); ++i) {
    store_le64(bytes.data() + kDestinationMemoryOffset + 8 * i, instr.destination_memory[i]);
  }
  for (std::size_t i = 0; i < instr.source_memory.size(); ++i) {
    store_le64(bytes.data() + kSourceMemoryOffset + 8 * i, instr.source_memory[i]);
  }
  return bytes;
}

ChampsimTraceReader::ChampsimTraceReader(InputFile input)
    : m_input(std::move(input)), m_buffer(new unsigned char[kBufferBytes]) {}

std::string ChampsimTraceReader::describe() const {
  std::string text = m_input.path() + " (ChampSim trace";
  if (m_input.compression() != Compression::kNone) {
    text += ", " + std::string(compression_name(m_input.compression()));
  }
  return text + ")";
}

void ChampsimTraceReader::refill() {
  const std::size_t tail = m_end - m_pos;
  std::memmove(m_buffer.get(), m_buffer.get() + m_pos, tail);
  m_pos = 0;
  m_end = tail;
  const std::size_t want = kBufferBytes - tail;
  const std::size_t got = m_input.read(m_buffer.get() + tail, want);
  m_end += got;
  m_input_done = got < want;
}

std::size_t ChampsimTraceReader::next_instruction(Record* out) {
  if (m_end - m_pos < kChampsimRecordBytes && !m_input_done) {
    refill();
  }
  const std::size_t left = m_end - m_pos;
  if (left < kChampsimRecordBytes) {
    if (left != 0) {
      throw TraceError(m_input.path() + ": record " + std::to_string(m_instructions) +
                       " (decompressed byte " + std::to_string(m_input.offset() - left) +
                       "): truncated: the trace ends " + std::to_string(left) +
                       " bytes into a 64-byte input_instr record");
    }
    return 0;
  }
  const unsigned char* p = m_buffer.get() + m_pos;
  m_pos += kChampsimRecordBytes;
  ++m_instructions;
  std::size_t n = 0;
  out[n++] = Record{load_le64(p + kIpOffset), kChampsimFetchBytes, AccessKind::kFetch};
  for (std::size_t i = 0; i < 4; ++i) {
    if (const std::uint64_t address = load_le64(p + kSourceMemoryOffset + 8 * i)) {
      out[n++] = Record{address, kChampsimDataBytes, AccessKind::kRead};
    }
  }
  for (std::size_t i = 0; i < 2; ++i) {
    if (const std::uint64_t address = load_le64(p + kDestinationMemoryOffset + 8 * i)) {
      out[n++] = Record{address, kChampsimDataBytes, AccessKind::kWrite};
    }
  }
  return n;
}

std::size_t ChampsimTraceReader::read(std::span<Record> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    if (m_pending_pos < m_pending_end) {
      const std::size_t k = std::min(m_pending_end - m_pending_pos, out.size() - n);
      std::copy_n(m_pending.begin() + static_cast<std::ptrdiff_t>(m_pending_pos), k,
                  out.begin() + static_cast<std::ptrdiff_t>(n));
      m_pending_pos += k;
      n += k;
      continue;
    }
    if (out.size() - n >= kChampsimMaxRecordsPerInstruction) {
      const std::size_t k = next_instruction(out.data() + n);
      if (k == 0) {
        break;
      }
      n += k;
    } else {
      m_pending_pos = 0;
      m_pending_end = next_instruction(m_pending.data());
      if (m_pending_end == 0) {
        break;
      }
    }
  }
  return n;
}

}  // namespace pagesim::traces
