// The ChampSim importer: hand-built input_instr records, plain and compressed as ChampSim
// distributes them, expand to exactly the documented accesses.
#include "traces/champsim_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string bytes_of(const std::vector<ChampsimInstruction>& instructions) {
  std::string bytes;
  for (const ChampsimInstruction& instr : instructions) {
    const auto encoded = encode_champsim(instr);
    bytes.append(reinterpret_cast<const char*>(encoded.data()), encoded.size());
  }
  return bytes;
}

// Three instructions: one with two loads (slots 0 and 2) and a store, one without memory
// operands, one with every slot full (and branch fields set, which the importer ignores).
std::vector<ChampsimInstruction> three_instructions() {
  ChampsimInstruction a;
  a.ip = 0x401000;
  a.source_memory = {0x7f0000001000, 0, 0x7f0000002008, 0};
  a.destination_memory = {0x7f0000003000, 0};
  a.source_registers = {1, 2, 0, 0};
  ChampsimInstruction b;
  b.ip = 0x401004;
  b.is_branch = 1;
  b.branch_taken = 1;
  ChampsimInstruction c;
  c.ip = 0x401008;
  c.source_memory = {0x10, 0x20, 0x30, 0x40};
  c.destination_memory = {0x50, 0x60};
  return {a, b, c};
}

// What they become: per instruction the fetch (1 byte), the loads in slot order, the
// stores in slot order (8 bytes each); 4 + 1 + 7 = 12 records.
std::vector<Record> three_instructions_records() {
  return {
      {0x401000, 1, X}, {0x7f0000001000, 8, R}, {0x7f0000002008, 8, R}, {0x7f0000003000, 8, W},
      {0x401004, 1, X}, {0x401008, 1, X},       {0x10, 8, R},           {0x20, 8, R},
      {0x30, 8, R},     {0x40, 8, R},           {0x50, 8, W},           {0x60, 8, W},
  };
}

TEST(ChampsimReader, LayoutIsChampsimsInputInstr) {
  ChampsimInstruction instr;
  instr.ip = 0x0102030405060708;
  instr.is_branch = 0x11;
  instr.branch_taken = 0x12;
  instr.destination_registers = {0x21, 0x22};
  instr.source_registers = {0x31, 0x32, 0x33, 0x34};
  instr.destination_memory = {0xa1, 0xa2};
  instr.source_memory = {0xb1, 0xb2, 0xb3, 0xb4};
  const auto bytes = encode_champsim(instr);
  // trace_instruction.h: ip, is_branch, branch_taken, destination_registers[2],
  // source_registers[4], destination_memory[2], source_memory[4]; packed, little-endian.
  EXPECT_EQ(bytes[0], 0x08);
  EXPECT_EQ(bytes[7], 0x01);
  EXPECT_EQ(bytes[8], 0x11);
  EXPECT_EQ(bytes[9], 0x12);
  EXPECT_EQ(bytes[10], 0x21);
  EXPECT_EQ(bytes[12], 0x31);
  EXPECT_EQ(bytes[15], 0x34);
  EXPECT_EQ(bytes[16], 0xa1);
  EXPECT_EQ(bytes[24], 0xa2);
  EXPECT_EQ(bytes[32], 0xb1);
  EXPECT_EQ(bytes[56], 0xb4);
}

TEST(ChampsimReader, ExpandsEachInstructionToItsAccesses) {
  ScratchDir dir;
  write_bytes(dir.file("t.champsim"), bytes_of(three_instructions()));
  // Batch sizes that split an instruction's records over two reads (1, 3, 5) and one that
  // holds them all.
  for (std::size_t batch : {1, 3, 5, 7, 1000}) {
    EXPECT_EQ(read_all(dir.file("t.champsim"), batch), three_instructions_records()) << batch;
  }
}

TEST(ChampsimReader, ReadsXzAndGzipAsDistributed) {
  ScratchDir dir;
  const std::string raw = dir.file("t.champsimtrace");
  write_bytes(raw, bytes_of(three_instructions()));
  for (const char* tool : {"xz", "gzip"}) {
    const std::string compressed = compress_file(raw, tool);
    EXPECT_EQ(read_all(compressed), three_instructions_records()) << tool;
    auto reader = open_trace(compressed);
    EXPECT_EQ(reader->describe(), compressed + " (ChampSim trace, " + tool + ")");
  }
}

TEST(ChampsimReader, ManyInstructionsAcrossBuffers) {
  // 5000 instructions (more than one 1024-instruction buffer), each a fetch and one load:
  // 10000 records.
  std::vector<ChampsimInstruction> instructions(5000);
  for (std::size_t i = 0; i < instructions.size(); ++i) {
    instructions[i].ip = 0x400000 + 4 * i;
    instructions[i].source_memory[1] = 0x7f0000000000 + 64 * i;
  }
  ScratchDir dir;
  write_bytes(dir.file("t.champsim"), bytes_of(instructions));
  const std::string xz = compress_file(dir.file("t.champsim"), "xz");
  const std::vector<Record> records = read_all(xz, 4096);
  ASSERT_EQ(records.size(), 10000u);
  EXPECT_EQ(records[9998], (Record{0x400000 + 4 * 4999, 1, X}));
  EXPECT_EQ(records[9999], (Record{0x7f0000000000 + 64 * 4999, 8, R}));
}

TEST(ChampsimReader, TruncatedRecordNamesItsNumber) {
  // Two whole records, then 17 bytes of a third: record 2 (from 0) at decompressed byte 128.
  const std::string bytes = bytes_of(three_instructions()).substr(0, 2 * 64 + 17);
  EXPECT_EQ(read_error("t.champsim", bytes),
            "t.champsim: record 2 (decompressed byte 128): truncated: the trace ends 17 bytes "
            "into a 64-byte input_instr record");
}

TEST(ChampsimReader, TruncatedRecordInsideACompressedFile) {
  ScratchDir dir;
  write_bytes(dir.file("t.champsim"), bytes_of(three_instructions()).substr(0, 64 + 5));
  const std::string gz = compress_file(dir.file("t.champsim"), "gzip");
  EXPECT_THAT(trace_error_of([&] { read_all(gz); }),
              HasSubstr("t.champsim.gz: record 1 (decompressed byte 64): truncated: the trace "
                        "ends 5 bytes into"));
}

TEST(ChampsimReader, DamagedCompressedDataNamesTheByte) {
  ScratchDir dir;
  std::vector<ChampsimInstruction> instructions(2000);
  for (std::size_t i = 0; i < instructions.size(); ++i) {
    instructions[i].ip = 0x400000 + 0x9e3779b97f4a7c15ULL * i;  // poorly compressible
  }
  write_bytes(dir.file("t.champsim"), bytes_of(instructions));
  const std::string xz = compress_file(dir.file("t.champsim"), "xz");
  std::string compressed = read_bytes(xz);
  // Cut in the middle: the decoder runs out of input inside the stream.
  write_bytes(xz, compressed.substr(0, compressed.size() / 2));
  EXPECT_THAT(trace_error_of([&] { read_all(xz); }),
              StartsWith(xz + ": byte " + std::to_string(compressed.size() / 2) +
                         " (xz data): truncated: the file ends inside the compressed data"));
  // A flipped byte in the middle: the block's check (CRC64) or the LZMA decoder fails.
  compressed[compressed.size() / 2] = static_cast<char>(compressed[compressed.size() / 2] ^ 0x55);
  write_bytes(xz, compressed);
  EXPECT_THAT(trace_error_of([&] { read_all(xz); }), StartsWith(xz + ": byte "));
  EXPECT_THAT(trace_error_of([&] { read_all(xz); }), HasSubstr("(xz data): "));
}

}  // namespace
}  // namespace pagesim::traces
