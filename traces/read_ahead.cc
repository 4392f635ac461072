#include "traces/read_ahead.h"

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <utility>

namespace pagesim::traces {

ReadAheadReader::ReadAheadReader(TraceReader& inner, std::size_t chunk_records, std::size_t chunks)
    : m_inner(inner), m_chunks(std::max<std::size_t>(chunks, 1)) {
  if (chunk_records == 0) {
    throw std::invalid_argument("read-ahead: chunks of 0 records");
  }
  for (Chunk& c : m_chunks) {
    c.records.resize(chunk_records);
  }
  m_worker = std::thread([this] { work(); });
}

ReadAheadReader::~ReadAheadReader() {
  {
    std::lock_guard<std::mutex> l(m_lock);
    m_stop = true;
  }
  m_freed.notify_all();
  m_worker.join();
}

void ReadAheadReader::work() {
  // Signals go to the simulation's thread (its stop handlers, a child's SIGCHLD).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    {
      std::unique_lock<std::mutex> l(m_lock);
      m_freed.wait(l, [this] { return m_stop || m_ready < m_chunks.size(); });
      if (m_stop) {
        return;
      }
    }
    // This slot is the worker's until it is published below.
    Chunk& c = m_chunks[m_fill];
    c.count = 0;
    c.error = nullptr;
    try {
      std::lock_guard<std::mutex> g(m_inner_lock);
      c.count = m_inner.read(c.records);
    } catch (...) {
      c.error = std::current_exception();
    }
    const bool last = c.error != nullptr || c.count < c.records.size();
    c.last = last;
    m_fill = (m_fill + 1) % m_chunks.size();
    {
      std::lock_guard<std::mutex> l(m_lock);
      ++m_ready;
    }
    m_filled.notify_one();
    if (last) {
      return;
    }
  }
}

ReadAheadReader::Chunk* ReadAheadReader::front() {
  if (m_ended) {
    return nullptr;
  }
  {
    std::unique_lock<std::mutex> l(m_lock);
    m_filled.wait(l, [this] { return m_ready > 0; });
  }
  Chunk& c = m_chunks[m_take];
  if (c.error != nullptr) {
    m_ended = true;  // the wrapped reader must not be used again: neither is this one
    std::rethrow_exception(c.error);
  }
  return &c;
}

void ReadAheadReader::pop() {
  if (m_chunks[m_take].last) {
    m_ended = true;
  }
  m_take = (m_take + 1) % m_chunks.size();
  m_taken = 0;
  {
    std::lock_guard<std::mutex> l(m_lock);
    --m_ready;
  }
  m_freed.notify_one();
}

std::size_t ReadAheadReader::read_batch(std::vector<Record>& batch) {
  if (m_taken != 0 || batch.size() != m_chunks[m_take].records.size()) {
    // Not a whole chunk to hand over: the copying path.
    return read(batch);
  }
  Chunk* c = front();
  if (c == nullptr) {
    return 0;
  }
  const std::size_t n = c->count;
  std::swap(batch, c->records);  // the consumer's old vector becomes the slot's buffer
  pop();
  return n;
}

std::size_t ReadAheadReader::read(std::span<Record> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    Chunk* c = front();
    if (c == nullptr) {
      break;
    }
    const std::size_t k = std::min(out.size() - n, c->count - m_taken);
    std::copy_n(c->records.begin() + static_cast<std::ptrdiff_t>(m_taken), k, out.begin() + n);
    n += k;
    m_taken += k;
    if (m_taken == c->count) {
      pop();
    }
  }
  return n;
}

std::string ReadAheadReader::describe() const {
  std::lock_guard<std::mutex> g(m_inner_lock);
  return m_inner.describe();
}

std::optional<std::uint64_t> ReadAheadReader::record_count() const {
  std::lock_guard<std::mutex> g(m_inner_lock);
  return m_inner.record_count();
}

}  // namespace pagesim::traces
