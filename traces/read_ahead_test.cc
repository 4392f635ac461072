#include "traces/read_ahead.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "traces/test_util.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {
namespace {

constexpr std::size_t kBatch = 4096;  // the core's batch

// Every record of `reader`, read in batches of `batch` records; the error message of the
// read that threw, if one did, with the records read before it.
struct Drained {
  std::vector<Record> records;
  std::string error;
};
Drained drain(TraceReader& reader, std::size_t batch, bool swap) {
  Drained d;
  std::vector<Record> buffer(batch);
  try {
    for (;;) {
      const std::size_t n = swap ? reader.read_batch(buffer) : reader.read(buffer);
      d.records.insert(d.records.end(), buffer.begin(),
                       buffer.begin() + static_cast<std::ptrdiff_t>(n));
      if (n == 0) {
        break;
      }
    }
  } catch (const TraceError& e) {
    d.error = e.what();
  }
  return d;
}

TEST(ReadAhead, SameRecordsAsTheWrappedReaderWhateverTheReadSizes) {
  const std::string spec = "gen:uniform:count=50001,footprint=1GiB,seed=7";
  const Drained want = drain(*open_trace(spec), kBatch, false);
  ASSERT_EQ(want.records.size(), 50001u);
  for (const bool swap : {true, false}) {
    for (const std::size_t batch : {kBatch, std::size_t{1000}, std::size_t{5000}}) {
      auto inner = open_trace(spec);
      ReadAheadReader ahead(*inner, kBatch, 3);
      const Drained got = drain(ahead, batch, swap);
      EXPECT_EQ(got.error, "");
      EXPECT_EQ(got.records, want.records) << "batch " << batch << " swap " << swap;
      EXPECT_EQ(ahead.read(std::span<Record>()), 0u);
      EXPECT_EQ(ahead.describe(), inner->describe());
      EXPECT_EQ(ahead.record_count(), std::optional<std::uint64_t>(50001));
    }
  }
}

// A damaged trace: the error comes with the wrapped reader's message, after exactly the
// records the wrapped reader gives before it when read in the same batches.
TEST(ReadAhead, ADamagedTraceFailsWhereTheWrappedReaderFails) {
  ScratchDir dir;
  const std::string path = dir.file("t.trace");
  {
    std::ofstream out(path);
    for (int i = 0; i < 10000; ++i) {
      out << "R 0x" << std::hex << (0x1000 + 64 * i) << std::dec << "\n";
    }
    out << "Q 0x1000\n";  // no such operation: line 10001
    for (int i = 0; i < 10; ++i) {
      out << "W 0x2000\n";
    }
  }
  const Drained want = drain(*open_trace(path), kBatch, false);
  ASSERT_NE(want.error, "");
  EXPECT_NE(want.error.find("10001"), std::string::npos) << want.error;
  EXPECT_EQ(want.records.size(), 2 * kBatch);  // the third batch's records are lost with it
  for (const bool swap : {true, false}) {
    auto inner = open_trace(path);
    ReadAheadReader ahead(*inner, kBatch);
    const Drained got = drain(ahead, kBatch, swap);
    EXPECT_EQ(got.error, want.error);
    EXPECT_EQ(got.records, want.records);
    // A reader that failed gives nothing more.
    std::vector<Record> more(kBatch);
    EXPECT_EQ(ahead.read_batch(more), 0u);
  }
}

// The consumer stops early (a stop request, --max-records): the reader goes at once, its
// worker with it, whatever it had read ahead.
TEST(ReadAhead, StoppingEarlyJoinsTheWorker) {
  auto inner = open_trace("gen:uniform:count=100000000,footprint=1GiB");
  {
    ReadAheadReader ahead(*inner, kBatch, 4);
    std::vector<Record> batch(kBatch);
    EXPECT_EQ(ahead.read_batch(batch), kBatch);
  }
  // The wrapped reader is whole and usable again: it read at most the chunks ahead.
  std::vector<Record> batch(kBatch);
  EXPECT_EQ(inner->read(batch), kBatch);
}

TEST(ReadAhead, AnEmptyTraceEndsAtOnce) {
  ScratchDir dir;
  const std::string path = dir.file("empty.trace");
  write_bytes(path, "# nothing\n");
  auto inner = open_trace(path);
  ReadAheadReader ahead(*inner);
  std::vector<Record> batch(kBatch);
  EXPECT_EQ(ahead.read_batch(batch), 0u);
  EXPECT_EQ(ahead.read_batch(batch), 0u);
}

}  // namespace
}  // namespace pagesim::traces
