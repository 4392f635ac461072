// The trace sources open_trace() knows by name: the native formats and the importers of
// other tools' traces (docs/trace-format.md, "Choosing a reader"). One table, so the
// dispatch, the name detection and `pagesim trace --help` agree.
//
//   "<name>:PATH"   reads PATH with that source, whatever its name (e.g. "csv:run.log")
//   PATH            a source whose extension PATH ends in (optionally followed by ".xz" or
//                   ".gz": importers read compressed files), else the native formats by
//                   their magic (trace_reader.h)
//
// Adding an importer: a TraceReader with an `explicit R(InputFile)` constructor, and one
// row in kImporters (importers.cc): {"name", {".ext"}, &open_as<R>, "one line for --help"}.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traces/file_io.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

struct Importer {
  std::string_view name;                     // the prefix, "champsim" in "champsim:PATH"
  std::vector<std::string_view> extensions;  // names ending so are read by it
  std::unique_ptr<TraceReader> (*open)(InputFile input);
  std::string_view summary;  // one line for --help
};

template <class Reader>
std::unique_ptr<TraceReader> open_as(InputFile input) {
  return std::make_unique<Reader>(std::move(input));
}

// Every source, in the order --help lists them.
std::span<const Importer> importers();

// The source named `name`, or nullptr.
const Importer* importer_named(std::string_view name);

// The source whose extension `path` ends in (after dropping a ".xz" or ".gz"), or nullptr.
const Importer* importer_for_extension(std::string_view path);

// "  champsim  ChampSim input_instr traces (.champsim, .champsimtrace; .xz/.gz)\n" ... for
// --help.
std::string describe_importers();

}  // namespace pagesim::traces
