#include "traces/command_line.h"

#include <unistd.h>

#include <iostream>

namespace pagesim::traces {

namespace po = boost::program_options;

bool parse_command(const std::vector<std::string>& args, const po::options_description& visible,
                   const char* positional_name, int max_count, po::variables_map& vm) {
  po::options_description all;
  if (max_count == 1) {
    all.add(visible).add_options()(positional_name, po::value<std::string>());
  } else {
    all.add(visible).add_options()(positional_name, po::value<std::vector<std::string>>());
  }
  po::positional_options_description positional;
  positional.add(positional_name, max_count);
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return false;
  }
  return true;
}

Format parse_format_option(const std::string& text) {
  if (text == "text") {
    return Format::kText;
  }
  if (text == "binary") {
    return Format::kBinary;
  }
  if (text == "csv") {
    return Format::kCsv;
  }
  throw UsageError("--format: '" + text + "' is not a format (text, binary or csv)");
}

Format output_format(const po::variables_map& vm, const std::string& out) {
  Format format = vm.count("format") ? parse_format_option(vm["format"].as<std::string>())
                                     : as_usage_error([&] { return format_from_path(out); });
  if (format == Format::kBinary && out == "-" && ::isatty(STDOUT_FILENO)) {
    throw UsageError("will not write a binary trace to a terminal: give --out FILE");
  }
  return format;
}

// Copies every record of `reader` to `writer`; returns how many.
std::uint64_t copy_records(TraceReader& reader, TraceWriter& writer, std::vector<Record>& batch) {
  std::uint64_t total = 0;
  while (std::size_t n = reader.read(batch)) {
    writer.write(std::span<const Record>(batch.data(), n));
    total += n;
  }
  return total;
}

void report_written(const std::string& out, std::uint64_t records, Format format) {
  if (out != "-") {
    std::cout << out << ": " << records << " records (" << format_name(format) << ")\n";
  }
}

}  // namespace pagesim::traces
