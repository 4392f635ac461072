// Text trace format v1.2 (docs/trace-format.md): one access or event per line,
//
//   R|W|X <address> [size]      # address: 0x-hex or decimal; size: bytes, default 8
//   !memslot add <id> <gpa> <size> [ro]      !cr3 <address-space id>     ...
//
// '#' starts a comment (whole line or after a record), blank lines are ignored, and lines
// starting with '!' are events (record.h lists them). The reader parses accesses by hand
// from 1 MiB reads: no iostream, no allocation per access line.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "traces/decompressed_input.h"
#include "traces/file_io.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

// The longest line the reader accepts, newline included; longer lines are an error (they
// are not traces: a binary file read as text, a missing newline in a huge file).
inline constexpr std::size_t kMaxTextLineBytes = std::size_t{1} << 20;

class TextTraceReader final : public TraceReader {
 public:
  explicit TextTraceReader(InputFile input);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

 private:
  // Parses one line (without its '\n'); true if it held a record, false if blank/comment.
  bool parse_line(const char* begin, const char* end, Record& record) const;
  // Parses an event line from just after its '!'.
  void parse_event(const char* begin, const char* end, Record& record) const;
  // Moves the unparsed tail to the front of the buffer and reads more after it.
  void refill();
  [[noreturn]] void fail(const std::string& what) const;

  DecompressedInput m_input;  // xz, gzip and zstd text traces are read directly
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_begin = 0;  // first unparsed byte
  std::size_t m_end = 0;    // one past the last byte read
  bool m_input_done = false;
  std::uint64_t m_line = 0;  // number of the line last parsed (1-based)
};

class TextTraceWriter final : public TraceWriter {
 public:
  explicit TextTraceWriter(const std::string& path);

  void write(std::span<const Record> records) override;
  void add_comment(std::string_view comment) override;
  void finish() override;

 private:
  void flush();
  void write_event(const Record& record);

  OutputFile m_output;
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_used = 0;
  bool m_finished = false;
};

}  // namespace pagesim::traces
