#include "traces/trace_command.h"

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "traces/byte_size.h"
#include "traces/command_line.h"
#include "traces/generator.h"
#include "traces/importers.h"
#include "traces/progress_line.h"
#include "traces/record_command.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

namespace {

namespace po = boost::program_options;

constexpr std::size_t kBatchRecords = 4096;

std::string trace_usage() {
  return "usage: pagesim trace <subcommand> [options]\n"
         "\n"
         "  gen PATTERN [options]   generate a synthetic trace (sequential, strided, uniform,\n"
         "                          zipf, pointer_chase)\n"
         "  convert IN... OUT       convert (and concatenate) traces between formats\n"
         "  info TRACE              read a whole trace: record count, kinds, address range, "
         "events\n"
         "  stat TRACE [--json]     footprint in 4K/2M/1G pages, pages per address space,\n"
         "                          4 KiB-page reuse distances\n"
         "  mix IN@asid=A,vm=V... --out OUT [--quantum N]\n"
         "                          interleave traces as processes and VMs (!cr3, !vm)\n"
         "  record [--tracer qemu|lackey] -- COMMAND...\n"
         "                          run a program under qemu-user or valgrind, record its\n"
         "                          loads and stores (and fetches) as a trace\n"
         "\n"
         "A TRACE or IN is a file, '-' (standard input), gen:<spec>, or SOURCE:PATH to read\n"
         "PATH with one source whatever its name. Sources (an importer is also chosen by its\n"
         "extensions, optionally followed by .xz or .gz):\n" +
         describe_importers() +
         "Other files are pagesim binary traces (by their magic, or a .pgt name) or text.\n"
         "Outputs: .trace/.txt text, .pgt binary, .csv CSV (or --format). A file is written\n"
         "through a temporary beside it, renamed over it at the end (links are followed to\n"
         "their target); a device or FIFO (/dev/null, a named pipe, /dev/stdout) is written\n"
         "in place as the records come; a folder is refused.\n"
         "\n"
         "'pagesim trace <subcommand> --help' describes each. Formats: docs/trace-format.md.\n";
}

int run_gen(const std::vector<std::string>& args) {
  const GeneratorSpec defaults;
  po::options_description visible(
      "usage: pagesim trace gen PATTERN [options]\n"
      "\n"
      "Generates a synthetic trace, the same records for the same options on every machine.\n"
      "PATTERN is sequential, strided, uniform, zipf or pointer_chase, or a whole spec such\n"
      "as 'zipf:alpha=1.2,footprint=1GiB' (docs/trace-format.md); options add keys to it.\n"
      "Sizes take binary suffixes: 4K, 2MiB, 64GiB (K = 1024).\n"
      "\n"
      "options");
  visible.add_options()              //
      ("help,h", "print this help")  //
      ("count,n", po::value<std::string>()->value_name("N"),
       ("records to generate (default " + std::to_string(defaults.count) + ")").c_str())  //
      ("footprint,f", po::value<std::string>()->value_name("SIZE"),
       ("bytes the addresses spread over (default " + format_byte_size(defaults.footprint_bytes) +
        ")")
           .c_str())  //
      ("stride", po::value<std::string>()->value_name("B"),
       ("strided: bytes between accesses (default " + std::to_string(defaults.stride_bytes) + ")")
           .c_str())  //
      ("size", po::value<std::string>()->value_name("B"),
       ("bytes per access (default " + std::to_string(defaults.size_bytes) + ")").c_str())  //
      ("seed", po::value<std::string>()->value_name("S"),
       ("random seed (default " + std::to_string(defaults.seed) + ")").c_str())  //
      ("writes", po::value<std::string>()->value_name("F"),
       "fraction of stores (W), 0..1 (default 0)")  //
      ("fetches", po::value<std::string>()->value_name("F"),
       "fraction of instruction fetches (X), 0..1 (default 0)")                             //
      ("alpha", po::value<std::string>()->value_name("A"), "zipf exponent (default 0.99)")  //
      ("base", po::value<std::string>()->value_name("ADDR"),
       "lowest address (default 0x7f0000000000)")  //
      ("out,o", po::value<std::string>()->value_name("FILE")->default_value("-"),
       "output file; '-' is standard output")  //
      ("format", po::value<std::string>()->value_name("F"),
       "text, binary or csv (default: from the --out name: .pgt binary, .trace/.txt text, "
       ".csv CSV)");
  po::variables_map vm;
  if (!parse_command(args, visible, "pattern", 1, vm)) {
    return 0;
  }
  if (!vm.count("pattern")) {
    throw UsageError("missing PATTERN (sequential, strided, uniform, zipf, pointer_chase)");
  }
  std::string spec_text = vm["pattern"].as<std::string>();
  bool has_keys = spec_text.find(':') != std::string::npos;
  for (const char* key :
       {"count", "footprint", "stride", "size", "seed", "writes", "fetches", "alpha", "base"}) {
    if (!vm.count(key)) {
      continue;
    }
    const std::string& value = vm[key].as<std::string>();
    if (value.find_first_of(",=:") != std::string::npos) {
      throw UsageError(std::string("--") + key + ": '" + value + "' is not a single value");
    }
    spec_text += (has_keys ? "," : ":") + std::string(key) + "=" + value;
    has_keys = true;
  }
  const GeneratorSpec spec = as_usage_error([&] { return parse_generator_spec(spec_text); });
  const std::string out = vm["out"].as<std::string>();
  const Format format = output_format(vm, out);

  auto reader = make_generator(spec);
  auto writer = create_writer(out, format);
  writer->add_comment("pagesim trace gen " + format_generator_spec(spec));
  std::vector<Record> batch(kBatchRecords);
  const std::uint64_t records = copy_records(*reader, *writer, batch);
  writer->finish();
  report_written(out, records, format);
  return 0;
}

int run_convert(const std::vector<std::string>& args) {
  po::options_description visible(
      "usage: pagesim trace convert IN... OUT [--format text|binary|csv]\n"
      "\n"
      "Reads each IN in turn (a trace file, '-' for standard input, gen:<spec>, or\n"
      "SOURCE:PATH, e.g. champsim:run.xz or csv:run.log; 'pagesim trace --help' lists the\n"
      "sources) and writes their records, concatenated, to OUT. The format of OUT comes from\n"
      "its name (.pgt binary, .trace/.txt text, .csv CSV) unless --format says. CSV holds\n"
      "accesses and !cr3 only: any other event is an error. Nothing is left at OUT if any\n"
      "input is damaged (unless OUT is a device or FIFO, written as the records come).\n"
      "\n"
      "options");
  visible.add_options()                                                             //
      ("help,h", "print this help")                                                 //
      ("format", po::value<std::string>()->value_name("F"), "text, binary or csv")  //
      ("progress", po::value<std::string>()->value_name("WHEN")->default_value("auto"),
       ProgressLine::help());
  po::variables_map vm;
  if (!parse_command(args, visible, "files", -1, vm)) {
    return 0;
  }
  std::vector<std::string> files;
  if (vm.count("files")) {
    files = vm["files"].as<std::vector<std::string>>();
  }
  if (files.size() < 2) {
    throw UsageError("needs at least one input and an output: convert IN... OUT");
  }
  const std::string out = files.back();
  files.pop_back();
  const Format format = output_format(vm, out);

  ProgressLine progress(vm["progress"].as<std::string>(), "pagesim trace convert");
  // Open every input first, so a missing one fails before anything is written.
  std::vector<std::unique_ptr<TraceReader>> readers;
  std::optional<std::uint64_t> total = 0;
  for (const std::string& in : files) {
    readers.push_back(open_trace(in));
    const std::optional<std::uint64_t> n = readers.back()->record_count();
    total = total && n ? std::optional(*total + *n) : std::nullopt;
  }
  progress.set_total(total);
  auto writer = create_writer(out, format);
  std::string command = "pagesim trace convert";
  for (const std::string& in : files) {
    command += " " + in;
  }
  writer->add_comment(command + " " + out);
  std::vector<Record> batch(kBatchRecords);
  std::uint64_t records = 0;
  for (auto& reader : readers) {
    while (std::size_t n = reader->read(batch)) {
      writer->write(std::span<const Record>(batch.data(), n));
      records += n;
      progress.update(records);
    }
    reader.reset();  // close each input when done
  }
  progress.clear();
  writer->finish();
  report_written(out, records, format);
  return 0;
}

int run_info(const std::vector<std::string>& args) {
  po::options_description visible(
      "usage: pagesim trace info TRACE [--progress WHEN]\n"
      "\n"
      "Reads the whole trace (checking it on the way) and prints its record count, access\n"
      "kinds, address and size ranges of the accesses, and the events by kind.\n"
      "\n"
      "options");
  visible.add_options()              //
      ("help,h", "print this help")  //
      ("progress", po::value<std::string>()->value_name("WHEN")->default_value("auto"),
       ProgressLine::help());
  po::variables_map vm;
  if (!parse_command(args, visible, "trace", 1, vm)) {
    return 0;
  }
  if (!vm.count("trace")) {
    throw UsageError("missing TRACE");
  }
  ProgressLine progress(vm["progress"].as<std::string>(), "pagesim trace info");
  auto reader = open_trace(vm["trace"].as<std::string>());
  progress.set_total(reader->record_count());
  std::vector<Record> batch(kBatchRecords);
  std::uint64_t kinds[3] = {};
  std::uint64_t events[kLastEventOp + 1] = {};
  std::uint64_t records = 0;
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t highest = 0;  // of the last byte accessed
  std::uint32_t smallest = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t largest = 0;
  while (std::size_t n = reader->read(batch)) {
    for (const Record& r : std::span(batch).first(n)) {
      if (r.is_event()) {
        ++events[static_cast<unsigned>(r.op)];  // readers check op <= kLastEventOp
        continue;
      }
      ++kinds[static_cast<unsigned>(r.kind)];
      lowest = std::min(lowest, r.address);
      highest = std::max(highest, r.address + (r.size - 1));
      smallest = std::min(smallest, r.size);
      largest = std::max(largest, r.size);
    }
    records += n;
    progress.update(records);
  }
  progress.clear();
  std::uint64_t event_total = 0;
  for (std::uint64_t count : events) {
    event_total += count;
  }
  const std::uint64_t accesses = records - event_total;
  // Shares of the accesses.
  auto share = [&](std::uint64_t k) {
    char text[64];
    std::snprintf(text, sizeof text, "%" PRIu64 " (%.1f%%)", k,
                  accesses ? 100.0 * static_cast<double>(k) / static_cast<double>(accesses) : 0.0);
    return std::string(text);
  };
  std::cout << "trace:     " << reader->describe() << "\n"
            << "records:   " << records << " (" << accesses << " accesses, " << event_total
            << " events)\n"
            << "reads:     " << share(kinds[0]) << "\n"
            << "writes:    " << share(kinds[1]) << "\n"
            << "fetches:   " << share(kinds[2]) << "\n";
  // Events by op, in op order, those that occur.
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    if (events[op] != 0) {
      std::cout << "event:     " << event_name(static_cast<EventOp>(op)) << ": " << events[op]
                << "\n";
    }
  }
  if (accesses > 0) {
    char text[96];
    std::snprintf(text, sizeof text, "0x%" PRIx64 " .. 0x%" PRIx64, lowest, highest);
    std::cout << "addresses: " << text << " (first to last byte accessed)\n"
              << "sizes:     " << smallest << " .. " << largest << " bytes\n";
  }
  return 0;
}

}  // namespace

int run_trace_command(int argc, char** argv) {
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (args.empty()) {
    std::cerr << trace_usage();
    return 2;
  }
  const std::string subcommand = args.front();
  args.erase(args.begin());
  if (subcommand == "--help" || subcommand == "-h" || subcommand == "help") {
    std::cout << trace_usage();
    return 0;
  }
  const std::string who = "pagesim trace " + subcommand;
  try {
    if (subcommand == "gen") {
      return run_gen(args);
    }
    if (subcommand == "convert") {
      return run_convert(args);
    }
    if (subcommand == "info") {
      return run_info(args);
    }
    if (subcommand == "stat") {
      return run_stat(args);
    }
    if (subcommand == "mix") {
      return run_mix(args);
    }
    if (subcommand == "record") {
      return run_record_command(args);
    }
    std::cerr << "pagesim trace: unknown subcommand '" << subcommand
              << "' (gen, convert, info, stat, mix, record)\n"
              << trace_usage();
    return 2;
  } catch (const po::error& e) {
    std::cerr << who << ": " << e.what() << " (see '" << who << " --help')\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << who << ": " << e.what() << " (see '" << who << " --help')\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << who << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pagesim::traces
