// Reading a trace ahead of its replay, on a thread of its own: the decoding of a binary
// trace (zstd and the record format), a text parser or a generator runs beside the
// simulation instead of before each batch of it. The records, their order, the errors and
// where they come are those of the reader it wraps: the worker reads the wrapped reader in
// chunks of the size the consumer asks for (the core's batch), so the k-th read answers
// what the k-th read of the wrapped reader would, a damaged trace included (its error
// comes at the read that reaches it, with the wrapped reader's message, and the records of
// that chunk are lost as they would be).
//
//   ReadAheadReader ahead(*open_trace("run.pgt"));   // the wrapped reader outlives it
//   while (std::size_t n = ahead.read_batch(batch)) { ... }
//
// read_batch() hands over a whole chunk by swapping vectors (no copy); read() copies, for
// callers that read into spans of their own. describe() and record_count() ask the wrapped
// reader under the lock the worker holds while it reads. The destructor stops the worker
// (after its current chunk) and joins it. The worker blocks every signal, so a Ctrl-C
// reaches the simulation's thread as without it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "traces/record.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

class ReadAheadReader final : public TraceReader {
 public:
  // `inner` must outlive this reader and be read through it only. `chunk_records`: the
  // records per chunk (the size the consumer reads), `chunks`: how many are read ahead.
  explicit ReadAheadReader(TraceReader& inner, std::size_t chunk_records = 4096,
                           std::size_t chunks = 4);
  ~ReadAheadReader() override;

  std::size_t read(std::span<Record> out) override;
  std::size_t read_batch(std::vector<Record>& batch) override;
  std::string describe() const override;
  std::optional<std::uint64_t> record_count() const override;

 private:
  struct Chunk {
    std::vector<Record> records;
    std::size_t count = 0;     // records read into it
    std::exception_ptr error;  // the wrapped reader threw (count is 0)
    bool last = false;         // the trace ends with it (count < size, or an error)
  };

  void work();
  // The next filled chunk, waiting for the worker; null once the trace ended.
  Chunk* front();
  void pop();  // the front chunk consumed: its slot goes back to the worker

  TraceReader& m_inner;
  mutable std::mutex m_inner_lock;  // held while the wrapped reader is used
  std::mutex m_lock;                // guards m_ready, m_stop
  std::condition_variable m_filled;
  std::condition_variable m_freed;
  std::vector<Chunk> m_chunks;  // a ring: the worker fills, the consumer empties, in order
  std::size_t m_ready = 0;      // filled chunks not yet consumed
  bool m_stop = false;
  std::size_t m_fill = 0;   // the worker's next slot (worker only)
  std::size_t m_take = 0;   // the consumer's next slot (consumer only)
  std::size_t m_taken = 0;  // records of the front chunk already copied out by read()
  bool m_ended = false;     // the consumer reached the end (or an error): reads give 0
  std::thread m_worker;
};

}  // namespace pagesim::traces
