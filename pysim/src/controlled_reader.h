// The trace reader pysim's worker hands to run_simulation(): it wraps the real reader,
// publishes how many records were read (the parent's progress bar polls it from another
// thread) and ends the trace early when a stop is requested (KeyboardInterrupt in the
// parent). Ending the trace is how a run stops between batches without any change to the
// core: the core sees the end of its input, finishes the batch in hand, synchronises and
// returns, and the statistics collected are those of the records replayed so far.
#pragma once

#include <atomic>
#include <cstdint>

#include "traces/trace_reader.h"

namespace pagesim::pysim {

class ControlledReader final : public traces::TraceReader {
 public:
  // `stop` and `records` outlive the reader; `records` is set, not added to.
  ControlledReader(traces::TraceReader& inner, const std::atomic<bool>& stop,
                   std::atomic<std::uint64_t>& records)
      : m_inner(inner), m_stop(stop), m_records(records) {}

  std::size_t read(std::span<traces::Record> out) override {
    if (m_stop.load(std::memory_order_relaxed)) {
      const auto total = m_inner.record_count();
      m_stopped = !m_ended && !(total && m_read == *total);
      return 0;
    }
    const std::size_t n = m_inner.read(out);
    m_ended = n == 0;
    m_read += n;
    m_records.store(m_read, std::memory_order_relaxed);
    return n;
  }
  std::string describe() const override { return m_inner.describe(); }
  std::optional<std::uint64_t> record_count() const override { return m_inner.record_count(); }

  // Did a stop end the trace before its end?
  bool stopped() const { return m_stopped; }
  std::uint64_t records_read() const { return m_read; }

 private:
  traces::TraceReader& m_inner;
  const std::atomic<bool>& m_stop;
  std::atomic<std::uint64_t>& m_records;
  std::uint64_t m_read = 0;
  bool m_ended = false;
  bool m_stopped = false;
};

}  // namespace pagesim::pysim
