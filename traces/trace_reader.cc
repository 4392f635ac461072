#include "traces/trace_reader.h"

#include <string_view>

#include "traces/binary_format.h"
#include "traces/file_io.h"
#include "traces/generator.h"
#include "traces/text_format.h"

namespace pagesim::traces {

TraceReader::~TraceReader() = default;

std::unique_ptr<TraceReader> open_trace(const std::string& path) {
  constexpr std::string_view kGeneratorPrefix = "gen:";
  if (std::string_view(path).starts_with(kGeneratorPrefix)) {
    return make_generator(parse_generator_spec(std::string_view(path).substr(4)));
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
