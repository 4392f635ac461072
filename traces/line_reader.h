// Lines of a text input, for the line-based importers (CSV, lackey): read in big chunks
// through DecompressedInput (so `.gz` and `.xz` files work), handed out as string_views with
// their line numbers, and an error helper that names the file and the line.
//
//   LineReader lines(InputFile(path));
//   while (std::optional<std::string_view> line = lines.next()) {
//     if (bad) lines.fail("bad address ...");   // throws "<path>:<line>: bad address ..."
//   }
//
// A line ends at '\n'; a '\r' before it is dropped; the last line may lack its '\n'. A line
// longer than kMaxLineBytes is an error (the file is most likely not text).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "traces/decompressed_input.h"

namespace pagesim::traces {

class LineReader {
 public:
  static constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;

  explicit LineReader(InputFile input);

  // The next line without its line end, or nullopt at the end of the input. The view stays
  // valid until the next call.
  std::optional<std::string_view> next();

  // The number of the line last returned, from 1.
  std::uint64_t line_number() const { return m_line; }
  const std::string& path() const { return m_input.path(); }
  Compression compression() const { return m_input.compression(); }

  // Throws TraceError "<path>:<line>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void refill();

  DecompressedInput m_input;
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_begin = 0;  // first byte not yet returned
  std::size_t m_end = 0;    // one past the last byte read
  bool m_input_done = false;
  std::uint64_t m_line = 0;
};

}  // namespace pagesim::traces
