#include "traces/importers.h"

#include "traces/binary_format.h"
#include "traces/champsim_reader.h"
#include "traces/csv_reader.h"
#include "traces/lackey_reader.h"
#include "traces/text_format.h"

namespace pagesim::traces {

namespace {

// The native formats have no extension here: open_trace tells them apart by their magic
// (a name ending in .pgt included); their prefixes force one.
const std::vector<Importer>& table() {
  static const std::vector<Importer> kImporters = {
      {"text", {}, &open_as<TextTraceReader>, "pagesim text trace (.trace, .txt)"},
      {"binary", {}, &open_as<BinaryTraceReader>, "pagesim binary trace (.pgt)"},
      {"champsim",
       {".champsim", ".champsimtrace"},
       &open_as<ChampsimTraceReader>,
       "ChampSim input_instr trace, 64-byte records"},
      {"csv", {".csv"}, &open_as<CsvTraceReader>, "CSV: address,kind[,size,cpu,asid]"},
      {"lackey",
       {".lackey"},
       &open_as<LackeyTraceReader>,
       "valgrind --tool=lackey --trace-mem=yes output"},
  };
  return kImporters;
}

std::string_view drop_compression_suffix(std::string_view path) {
  for (std::string_view suffix : {".xz", ".gz"}) {
    if (path.size() > suffix.size() && path.ends_with(suffix)) {
      return path.substr(0, path.size() - suffix.size());
    }
  }
  return path;
}

}  // namespace

std::span<const Importer> importers() { return table(); }

const Importer* importer_named(std::string_view name) {
  for (const Importer& importer : table()) {
    if (importer.name == name) {
      return &importer;
    }
  }
  return nullptr;
}

const Importer* importer_for_extension(std::string_view path) {
  const std::string_view name = drop_compression_suffix(path);
  for (const Importer& importer : table()) {
    for (std::string_view extension : importer.extensions) {
      if (name.size() > extension.size() && name.ends_with(extension)) {
        return &importer;
      }
    }
  }
  return nullptr;
}

std::string describe_importers() {
  std::string text;
  for (const Importer& importer : table()) {
    std::string line = "  " + std::string(importer.name) + ":PATH";
    line.resize(std::max<std::size_t>(line.size() + 1, 18), ' ');
    line += importer.summary;
    if (!importer.extensions.empty()) {
      line += " (";
      for (std::size_t i = 0; i < importer.extensions.size(); ++i) {
        line += (i ? ", " : "") + std::string(importer.extensions[i]);
      }
      line += "; .xz/.gz too)";
    }
    text += line + "\n";
  }
  return text;
}

}  // namespace pagesim::traces
