#include "traces/trace_writer.h"

#include "traces/binary_format.h"
#include "traces/csv_writer.h"
#include "traces/text_format.h"

namespace pagesim::traces {

TraceWriter::~TraceWriter() = default;

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kBinary:
      return "binary";
    case Format::kCsv:
      return "csv";
    case Format::kText:
      break;
  }
  return "text";
}

std::unique_ptr<TraceWriter> create_writer(const std::string& path, Format format) {
  if (format == Format::kBinary) {
    return std::make_unique<BinaryTraceWriter>(path);
  }
  if (format == Format::kCsv) {
    return std::make_unique<CsvTraceWriter>(path);
  }
  return std::make_unique<TextTraceWriter>(path);
}

Format format_from_path(const std::string& path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() > suffix.size() && std::string_view(path).ends_with(suffix);
  };
  if (ends_with(".pgt")) {
    return Format::kBinary;
  }
  if (ends_with(".csv")) {
    return Format::kCsv;
  }
  if (path == "-" || ends_with(".trace") || ends_with(".txt")) {
    return Format::kText;
  }
  throw TraceError(path +
                   ": cannot tell the trace format from the name: use .trace or .txt (text), "
                   ".pgt (binary), .csv (CSV), or give the format");
}

}  // namespace pagesim::traces
