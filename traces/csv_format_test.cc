// CSV traces: the importer's field mapping exactly, its errors with file:line, and the
// writer's round trip (accesses and address-space switches) and refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/csv_reader.h"
#include "traces/csv_writer.h"
#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

std::vector<Record> parse_csv(std::string_view text, std::size_t batch = 1000) {
  ScratchDir dir;
  write_bytes(dir.file("t.csv"), text);
  return read_all(dir.file("t.csv"), batch);
}

std::string csv_error(std::string_view text) { return read_error("t.csv", text); }

TEST(CsvReader, MapsEveryColumn) {
  const std::string text =
      "Address,Kind,Size,CPU,ASID\r\n"  // header, any case, CRLF
      "# a comment\n"
      "0x7f0000001000,R\n"  // two columns: size 8, asid unchanged (0)
      "\n"
      " 4096 , w , 4 \n"    // decimal, lower case, blanks
      "0x2000,X,1,0,0\n"    // asid 0 is the current one: no event
      "0x3000,R,,,7\n"      // empty size and cpu: defaults; asid 7: !cr3 7 first
      "0x3008,W,16,0,7\n"   // still 7
      "0x4000,R,8,0,0x2\n"  // asid 2: !cr3 2
      "0x4008,R,8,0,\n"     // empty asid: stays 2
      "0x5000,R,8,,7";      // back to 7, no final newline
  const std::vector<Record> expected = {
      {0x7f0000001000, 8, R},          {4096, 4, W},   {0x2000, 1, X},
      Record::event(EventOp::kCr3, 7), {0x3000, 8, R}, {0x3008, 16, W},
      Record::event(EventOp::kCr3, 2), {0x4000, 8, R}, {0x4008, 8, R},
      Record::event(EventOp::kCr3, 7), {0x5000, 8, R},
  };
  EXPECT_EQ(parse_csv(text), expected);
  // A batch of one: the access after a !cr3 waits for the next read.
  EXPECT_EQ(parse_csv(text, 1), expected);
  // No header at all.
  EXPECT_EQ(parse_csv("0x10,R\n0x20,W,2\n"), (std::vector<Record>{{0x10, 8, R}, {0x20, 2, W}}));
  // A header naming only the first columns.
  EXPECT_EQ(parse_csv("address,kind\n0x10,X\n"), (std::vector<Record>{{0x10, 8, X}}));
}

TEST(CsvReader, ErrorsNameFileAndLine) {
  EXPECT_EQ(csv_error("address,kind\n0x12g4,R\n"),
            "t.csv:2: bad address '0x12g4' (expected 0x-hex or decimal, at most 64 bits)");
  EXPECT_EQ(csv_error("0x1000,Q\n"), "t.csv:1: bad kind 'Q' (expected R, W or X)");
  EXPECT_EQ(csv_error("0x1000\n"), "t.csv:1: expected at least address,kind, found '0x1000'");
  EXPECT_EQ(csv_error("0x1000,R,0\n"), "t.csv:1: bad size '0' (expected 1 to 4294967295 bytes)");
  EXPECT_EQ(csv_error("0x1000,R,4294967296\n"),
            "t.csv:1: bad size '4294967296' (expected 1 to 4294967295 bytes)");
  EXPECT_EQ(csv_error("0x1000,R\n0x1000,R,8,256\n"), "t.csv:2: cpu 256 is not below 256");
  EXPECT_EQ(csv_error("0x1000,R,8,one\n"), "t.csv:1: bad cpu 'one' (expected 0x-hex or decimal)");
  EXPECT_EQ(csv_error("0x1000,R,8,0,x\n"),
            "t.csv:1: bad asid 'x' (expected 0x-hex or decimal, at most 64 bits)");
  EXPECT_EQ(csv_error("0x1000,R,8,0,1,9\n"),
            "t.csv:1: more than 5 fields (expected address,kind[,size,cpu,asid])");
  EXPECT_EQ(csv_error("address,type\n"),
            "t.csv:1: header column 2 is 'type', expected 'kind' (the header is "
            "address,kind[,size,cpu,asid])");
  // A header after the first row is not a header any more.
  EXPECT_EQ(csv_error("0x1,R\naddress,kind\n"),
            "t.csv:2: bad address 'address' (expected 0x-hex or decimal, at most 64 bits)");
}

TEST(CsvWriter, RoundTripsAccessesAndAddressSpaces) {
  const std::vector<Record> records = {
      {0x7f0000001000, 8, R},        Record::event(EventOp::kCr3, 3), {0x1000, 1, X},
      {0xffffffffffffffff, 4096, W}, Record::event(EventOp::kCr3, 0), {0x2000, 8, R},
  };
  ScratchDir dir;
  write_records(dir.file("t.csv"), Format::kCsv, records);
  EXPECT_EQ(read_bytes(dir.file("t.csv")),
            "address,kind,size,cpu,asid\n"
            "0x7f0000001000,R,8,0,0\n"
            "0x1000,X,1,0,3\n"
            "0xffffffffffffffff,W,4096,0,3\n"
            "0x2000,R,8,0,0\n");
  EXPECT_EQ(read_all(dir.file("t.csv")), records);
}

TEST(CsvReader, CpuColumnPrecedesARowOnAnotherCpuWithCpuEvent) {
  // Each CPU keeps its own address space (CR3 is per CPU, record.h): a row on another CPU
  // gets `!cpu`, then `!cr3` only if its asid is not that CPU's current one.
  const std::string text =
      "address,kind,size,cpu,asid\n"
      "0x1000,R,8,0,1\n"      // cpu 0 (current): asid 0 -> 1: !cr3 1
      "0x2000,R,8,1,1\n"      // cpu 1: !cpu 1; cpu 1's asid is 0: !cr3 1
      "0x3000,W,8,1,\n"       // same cpu, asid kept
      "0x4000,R,8,0,1\n"      // back to cpu 0: !cpu 0; cpu 0 is still in asid 1: nothing
      "0x5000,R,8,,2\n"       // empty cpu: stays 0; !cr3 2
      "0x6000,X,1,0xff,0\n";  // cpu 255: !cpu 255; its asid is 0 already
  const std::vector<Record> expected = {
      Record::event(EventOp::kCr3, 1),
      {0x1000, 8, R},
      Record::event(EventOp::kCpu, 1),
      Record::event(EventOp::kCr3, 1),
      {0x2000, 8, R},
      {0x3000, 8, W},
      Record::event(EventOp::kCpu, 0),
      {0x4000, 8, R},
      Record::event(EventOp::kCr3, 2),
      {0x5000, 8, R},
      Record::event(EventOp::kCpu, 255),
      {0x6000, 1, X},
  };
  for (std::size_t batch : {1, 2, 3, 1000}) {
    EXPECT_EQ(parse_csv(text, batch), expected) << batch;
  }
  // Files without the column (or with cpu 0 throughout) read as before: no !cpu.
  EXPECT_EQ(parse_csv("address,kind,size\n0x10,R,4\n"), (std::vector<Record>{{0x10, 4, R}}));
  EXPECT_EQ(parse_csv("0x10,R,4,0,0\n0x20,W,4,0\n"),
            (std::vector<Record>{{0x10, 4, R}, {0x20, 4, W}}));
}

TEST(CsvWriter, RoundTripsCpus) {
  const std::vector<Record> records = {
      {0x1000, 8, R},
      Record::event(EventOp::kCpu, 3),
      Record::event(EventOp::kCr3, 5),
      {0x2000, 8, W},
      Record::event(EventOp::kCpu, 0),
      {0x3000, 8, R},  // cpu 0 is still in address space 0
      Record::event(EventOp::kCpu, 3),
      {0x4000, 8, R},  // cpu 3 is still in address space 5
  };
  ScratchDir dir;
  write_records(dir.file("t.csv"), Format::kCsv, records);
  EXPECT_EQ(read_bytes(dir.file("t.csv")),
            "address,kind,size,cpu,asid\n"
            "0x1000,R,8,0,0\n"
            "0x2000,W,8,3,5\n"
            "0x3000,R,8,0,0\n"
            "0x4000,R,8,3,5\n");
  EXPECT_EQ(read_all(dir.file("t.csv")), records);
  auto same_cpu = [&] {
    write_records(dir.file("b.csv"), Format::kCsv,
                  {Record::event(EventOp::kCpu, 1), Record::event(EventOp::kCpu, 1)});
  };
  EXPECT_EQ(trace_error_of(same_cpu),
            dir.file("b.csv") +
                ": cannot write record 1 as CSV: '!cpu 1' does not change the CPU, which CSV "
                "cannot say (write text or binary)");
  auto cpu_256 = [&] {
    write_records(dir.file("c.csv"), Format::kCsv, {Record::event(EventOp::kCpu, 256)});
  };
  EXPECT_EQ(trace_error_of(cpu_256), dir.file("c.csv") +
                                         ": cannot write record 0 as CSV: event '!cpu': CPU "
                                         "index is not below 256");
}

TEST(CsvWriter, RefusesWhatCsvCannotSay) {
  ScratchDir dir;
  auto invlpg = [&] {
    write_records(dir.file("a.csv"), Format::kCsv,
                  {{0x1000, 8, R}, Record::event(EventOp::kInvlpg, 0x1000)});
  };
  EXPECT_EQ(trace_error_of(invlpg), dir.file("a.csv") +
                                        ": cannot write record 1 as CSV: event '!invlpg' (CSV "
                                        "holds accesses, CPU and address-space switches only; "
                                        "write text or binary)");
  auto same_asid = [&] {
    write_records(dir.file("b.csv"), Format::kCsv,
                  {Record::event(EventOp::kCr3, 1), Record::event(EventOp::kCr3, 1)});
  };
  EXPECT_EQ(trace_error_of(same_asid),
            dir.file("b.csv") +
                ": cannot write record 1 as CSV: '!cr3 1' does not change the address space, "
                "which CSV cannot say (write text or binary)");
  // Nothing is left behind.
  EXPECT_EQ(dir.list(), std::vector<std::string>{});
}

TEST(CsvReader, ReadsCompressedCsv) {
  ScratchDir dir;
  write_bytes(dir.file("t.csv"), "address,kind\n0x10,R\n0x20,W\n");
  const std::string gz = compress_file(dir.file("t.csv"), "gzip");
  EXPECT_EQ(read_all(gz), (std::vector<Record>{{0x10, 8, R}, {0x20, 8, W}}));
  EXPECT_EQ(open_trace(gz)->describe(), gz + " (CSV trace, gzip)");
}

}  // namespace
}  // namespace pagesim::traces
