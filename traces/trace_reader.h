// Reading traces: one streaming interface over the text format, the binary format and the
// synthetic generators (docs/trace-format.md).
//
//   auto reader = open_trace("run.pgt");          // or "run.trace", or "gen:uniform:count=1000"
//   std::array<Record, 4096> batch;
//   while (std::size_t n = reader->read(batch)) {
//     for (const Record& r : std::span(batch).first(n)) { ... }
//   }
//
// Readers stream: they hold one buffer of the input (about a megabyte at most), never the
// whole trace, and do not allocate per record. A damaged trace throws TraceError naming the
// place: "t.txt:12: ..." (file and line) or "t.pgt: byte 4096: ..." (file and byte offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "traces/record.h"

namespace pagesim::traces {

// A trace could not be opened, read, parsed or written. The message names the file and the
// place (line or byte offset) and says what is wrong; it is meant for the user as is.
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TraceReader {
 public:
  TraceReader() = default;
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;
  virtual ~TraceReader();

  // Fills `out` with the next records and returns how many. It returns out.size() unless the
  // trace ends, and 0 at the end (and on every later call). Throws TraceError when the input
  // is damaged; the records of that call are then lost and the reader must not be used again.
  virtual std::size_t read(std::span<Record> out) = 0;

  // What is being read, for summaries: e.g. "demo.trace (text trace v1.1)".
  virtual std::string describe() const = 0;

  // The number of records the whole trace holds, when known before reading it (binary
  // header, generators); std::nullopt for text traces. For progress lines only: read()
  // checks the binary header's count against what the stream holds.
  virtual std::optional<std::uint64_t> record_count() const { return std::nullopt; }
};

// Opens a trace for reading.
//  - "gen:<spec>": a generator (generator.h), e.g. "gen:zipf:count=1000000,footprint=1GiB".
//  - "<source>:PATH": PATH read by that source (importers.h): text, binary, champsim, csv,
//    ...; e.g. "csv:-" reads CSV from standard input.
//  - a path ending in an importer's extension (".csv", ".champsimtrace.xz", ...): that
//    importer.
//  - "-": standard input (text or binary, told apart as for files).
//  - any other path: binary if the file starts with the binary magic; also binary (so the
//    error is "byte 0: bad magic") if its name ends in ".pgt" or its first byte is the
//    magic's first byte (0x89), which no text trace starts with; text otherwise.
// A missing or unreadable file throws TraceError naming it.
std::unique_ptr<TraceReader> open_trace(const std::string& path);

// The file a trace spec reads ("csv:run.log" -> "run.log"), or "" for a generator and for
// standard input.
std::string trace_file_of(const std::string& spec);

}  // namespace pagesim::traces
