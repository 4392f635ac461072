#include "traces/line_reader.h"

#include <cstring>

#include "traces/trace_reader.h"

namespace pagesim::traces {

LineReader::LineReader(InputFile input)
    : m_input(std::move(input)), m_buffer(new char[kMaxLineBytes]) {}

void LineReader::fail(const std::string& what) const {
  throw TraceError(m_input.path() + ":" + std::to_string(m_line) + ": " + what);
}

void LineReader::refill() {
  const std::size_t tail = m_end - m_begin;
  if (tail == kMaxLineBytes) {
    ++m_line;
    fail("line longer than " + std::to_string(kMaxLineBytes) + " bytes (is this a text file?)");
  }
  std::memmove(m_buffer.get(), m_buffer.get() + m_begin, tail);
  m_begin = 0;
  m_end = tail;
  const std::size_t want = kMaxLineBytes - tail;
  const std::size_t got = m_input.read(m_buffer.get() + tail, want);
  m_end += got;
  m_input_done = got < want;
}

std::optional<std::string_view> LineReader::next() {
  while (true) {
    const char* line = m_buffer.get() + m_begin;
    const auto* newline = static_cast<const char*>(std::memchr(line, '\n', m_end - m_begin));
    const char* line_end;
    if (newline != nullptr) {
      line_end = newline;
      m_begin = static_cast<std::size_t>(newline - m_buffer.get()) + 1;
    } else if (!m_input_done) {
      refill();
      continue;
    } else if (m_begin == m_end) {
      return std::nullopt;
    } else {
      line_end = m_buffer.get() + m_end;  // the last line, without a newline
      m_begin = m_end;
    }
    ++m_line;
    if (line_end != line && line_end[-1] == '\r') {
      --line_end;
    }
    return std::string_view(line, static_cast<std::size_t>(line_end - line));
  }
}

}  // namespace pagesim::traces
