// The pagesim subcommands. Each takes argv with argv[0] = the subcommand's name, prints
// its own --help, and returns the process exit status: 0 success, 1 a failed run (bad
// trace, unwritable output, out of memory), 2 a usage or configuration error.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/sim_params.h"

namespace pagesim::cli {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run_replay(int argc, char** argv);
int run_config(int argc, char** argv);
int run_compare(int argc, char** argv);
int run_diff(int argc, char** argv);

// --preset NAME, --config FILE and --set KEY=VALUE (repeatable), shared by every command
// that takes a configuration.
void add_config_options(boost::program_options::options_description& desc);
// Defaults < --preset < --config file < --set overrides, then validate(). Throws
// config::ConfigError (an unknown preset names --preset and lists the presets). The host
// preset's report (what CPUID told, what was assumed) goes to stderr.
void load_configuration(Configuration& c, const boost::program_options::variables_map& vm);

// The command line of a command that takes one TRACE (replay, compare): parses argv into
// `vm` with `desc` and a positional TRACE. Returns the exit status when the command is done
// already (--help printed: 0; a usage error or no TRACE, reported on stderr naming
// `command`: kExitUsage), nullopt to go on.
std::optional<int> parse_trace_command(const char* command,
                                       const boost::program_options::options_description& desc,
                                       int argc, char** argv,
                                       boost::program_options::variables_map& vm);

}  // namespace pagesim::cli
