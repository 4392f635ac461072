#include "traces/trace_reader.h"

#include <string_view>

#include "traces/binary_format.h"
#include "traces/file_io.h"
#include "traces/generator.h"
#include "traces/importers.h"
#include "traces/text_format.h"

namespace pagesim::traces {

TraceReader::~TraceReader() = default;

namespace {

constexpr std::string_view kGeneratorPrefix = "gen:";

// The importer a "<name>:" prefix names, or nullptr; `rest` is what follows the colon.
const Importer* importer_prefix(std::string_view path, std::string_view& rest) {
  const std::size_t colon = path.find(':');
  if (colon == std::string_view::npos) {
    return nullptr;
  }
  const Importer* importer = importer_named(path.substr(0, colon));
  if (importer != nullptr) {
    rest = path.substr(colon + 1);
  }
  return importer;
}

}  // namespace

std::string trace_file_of(const std::string& spec) {
  std::string_view rest = spec;
  if (rest.starts_with(kGeneratorPrefix)) {
    return "";
  }
  importer_prefix(spec, rest);
  return rest == "-" ? "" : std::string(rest);
}

std::unique_ptr<TraceReader> open_trace(const std::string& path) {
  if (std::string_view(path).starts_with(kGeneratorPrefix)) {
    return make_generator(parse_generator_spec(std::string_view(path).substr(4)));
  }
  std::string_view file = path;
  if (const Importer* importer = importer_prefix(path, file)) {
    return importer->open(InputFile(std::string(file)));
  }
  if (const Importer* importer = importer_for_extension(path)) {
    return importer->open(InputFile(path));
  }
  InputFile input(path);
  unsigned char first[kBinaryMagic.size()];
  std::size_t got = input.read(first, sizeof first);
  input.unread(first, got);
  const bool binary = has_binary_magic(std::span(first, got)) ||
                      (got > 0 && first[0] == kBinaryMagic[0]) ||
                      std::string_view(path).ends_with(".pgt");
  if (binary) {
    return std::make_unique<BinaryTraceReader>(std::move(input));
  }
  return std::make_unique<TextTraceReader>(std::move(input));
}

}  // namespace pagesim::traces
