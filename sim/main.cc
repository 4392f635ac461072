// pagesim: the trace-replay command line.
//
// SystemC's library has a main() that prints its banner and then calls sc_main(). This
// executable's own main() takes precedence: it silences the banner (which would land in
// the summary on stdout) and enters SystemC the same way, through sc_elab_and_sim().
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>
#include <systemc>  // declares sc_main extern "C"

#include "sim/cli/commands.h"
#include "sim/version.h"
#include "traces/trace_command.h"

namespace {

constexpr const char* kUsage =
    "pagesim: a cycle-approximate simulator of x86 address translation\n\n"
    "Usage: pagesim COMMAND [options]\n\n"
    "Commands:\n"
    "  replay TRACE   replay a trace and print the summary (--json/--csv for every statistic)\n"
    "  compare TRACE  replay a trace in several modes (--modes native,nested,shadow)\n"
    "  config         print the effective configuration, every key documented (--dump)\n"
    "  diff A B       what differs between two --json outputs: configuration, statistics\n"
    "  trace          make, convert and inspect traces: trace gen, trace convert, trace info\n\n"
    "`pagesim COMMAND --help` describes each command. Documentation: README.md, docs/.\n";

}  // namespace

int sc_main(int argc, char* argv[]) {
  if (argc < 2) {
    std::cerr << kUsage;
    return pagesim::cli::kExitUsage;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "pagesim " << pagesim::version() << "\n";
    return 0;
  }
  if (command == "replay") {
    return pagesim::cli::run_replay(argc - 1, argv + 1);
  }
  if (command == "compare") {
    return pagesim::cli::run_compare(argc - 1, argv + 1);
  }
  if (command == "config") {
    return pagesim::cli::run_config(argc - 1, argv + 1);
  }
  if (command == "diff") {
    return pagesim::cli::run_diff(argc - 1, argv + 1);
  }
  if (command == "trace") {
    return pagesim::traces::run_trace_command(argc - 1, argv + 1);
  }
  std::cerr << "pagesim: unknown command '" << command << "'\n\n" << kUsage;
  return pagesim::cli::kExitUsage;
}

int main(int argc, char* argv[]) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
