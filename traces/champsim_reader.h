// Importer of ChampSim binary traces: a stream of `input_instr` records (ChampSim's
// inc/trace_instruction.h), 64 bytes each, little-endian, usually xz-compressed
// (`*.champsimtrace.xz`, as the DPC-3 and CRC-2 traces are distributed; gzip works too).
//
//   offset  size  field                                  becomes
//        0     8  ip                                     X ip, kChampsimFetchBytes bytes
//        8     1  is_branch                              (ignored)
//        9     1  branch_taken                           (ignored)
//       10     2  destination_registers[2]               (ignored)
//       12     4  source_registers[4]                    (ignored)
//       16    16  destination_memory[2]   (u64 each)     W addr, 8 bytes, for each nonzero
//       32    32  source_memory[4]        (u64 each)     R addr, 8 bytes, for each nonzero
//
// Per instruction, in this order: the fetch, the loads (source_memory[0..3]), the stores
// (destination_memory[0..1]): 1 to 7 records. ChampSim records no sizes: a fetch is 1 byte
// (it touches exactly the page of ip, never a false second page; x86 instructions have no
// fixed length) and a load or store 8 bytes (kDefaultAccessSizeBytes). A zero address is
// an empty slot, as in ChampSim itself. The trace has one address space (no events).
//
// A file whose size is not a multiple of 64 ends in a truncated record: an error naming
// the record (instruction) number, counted from 0. Compressed files are read through
// DecompressedInput (errors name the compressed byte). Cloudsuite traces (a larger record
// with asid[2]) are not this format.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "traces/decompressed_input.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

inline constexpr std::size_t kChampsimRecordBytes = 64;
inline constexpr std::uint32_t kChampsimFetchBytes = 1;
inline constexpr std::uint32_t kChampsimDataBytes = kDefaultAccessSizeBytes;
// The most records one instruction becomes: a fetch, 4 loads, 2 stores.
inline constexpr std::size_t kChampsimMaxRecordsPerInstruction = 7;

// One input_instr record as bytes, for tests and tools that build ChampSim traces.
struct ChampsimInstruction {
  std::uint64_t ip = 0;
  std::uint8_t is_branch = 0;
  std::uint8_t branch_taken = 0;
  std::array<std::uint8_t, 2> destination_registers{};
  std::array<std::uint8_t, 4> source_registers{};
  std::array<std::uint64_t, 2> destination_memory{};
  std::array<std::uint64_t, 4> source_memory{};
};
std::array<unsigned char, kChampsimRecordBytes> encode_champsim(const ChampsimInstruction& instr);

class ChampsimTraceReader final : public TraceReader {
 public:
  explicit ChampsimTraceReader(InputFile input);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

 private:
  // Decodes the next instruction's records to `out` (room for 7); returns how many, 0 at
  // the end of the trace.
  std::size_t next_instruction(Record* out);
  void refill();

  DecompressedInput m_input;
  std::unique_ptr<unsigned char[]> m_buffer;
  std::size_t m_pos = 0;  // next undecoded byte of m_buffer
  std::size_t m_end = 0;
  bool m_input_done = false;
  std::uint64_t m_instructions = 0;  // instructions decoded so far
  // Records of an instruction that did not fit in the caller's span.
  std::array<Record, kChampsimMaxRecordsPerInstruction> m_pending{};
  std::size_t m_pending_pos = 0;
  std::size_t m_pending_end = 0;
};

}  // namespace pagesim::traces
