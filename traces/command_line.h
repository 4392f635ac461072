// Pieces the `pagesim trace` subcommands share: usage errors, option parsing, the output
// format of a file name (trace_command.cc, trace_stat_command.cc, trace_mix_command.cc).
#pragma once

#include <boost/program_options.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

// A mistake in the command line: reported with a pointer to --help, exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a subcommand's `args`: the options of `visible`, and the positional arguments
// under `positional_name` (a std::string when `max_count` is 1, else a
// std::vector<std::string>; -1: any number). Prints `visible` and returns false for
// --help (the caller exits 0); throws boost's errors and UsageError as the rest does.
bool parse_command(const std::vector<std::string>& args,
                   const boost::program_options::options_description& visible,
                   const char* positional_name, int max_count,
                   boost::program_options::variables_map& vm);

// Errors in what the user typed (a generator spec, an output name) are usage errors.
template <class F>
auto as_usage_error(F&& f) {
  try {
    return f();
  } catch (const TraceError& e) {
    throw UsageError(e.what());
  }
}

// "text", "binary" or "csv", else a UsageError.
Format parse_format_option(const std::string& text);

// The format of output `out`: --format if given (vm["format"]), else from the name. Refuses
// binary output to a terminal.
Format output_format(const boost::program_options::variables_map& vm, const std::string& out);

// Copies every record of `reader` to `writer`; returns how many.
std::uint64_t copy_records(TraceReader& reader, TraceWriter& writer, std::vector<Record>& batch);

// "<out>: <records> records (<format>)" on stdout, unless out is "-".
void report_written(const std::string& out, std::uint64_t records, Format format);

// `pagesim trace stat` and `pagesim trace mix` (args after the subcommand).
int run_stat(const std::vector<std::string>& args);
int run_mix(const std::vector<std::string>& args);

}  // namespace pagesim::traces
