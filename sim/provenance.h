// What made an output file. Every JSON and CSV file that `pagesim replay` and `pagesim
// compare` write begins with it, so that the file says how to make it again
// (docs/outputs.md): the build, the command, the trace, the whole effective configuration,
// the machine and the time.
//
//   JSON: a first member "provenance": {"version", "command_line", "mode", "trace":
//         {"path", "bytes", "records", "fnv1a64"}, "seed", "configuration" (every key of
//         the effective configuration -> its value as --set takes it), "host",
//         "start_time", "wall_seconds", "partial"}.
//   CSV:  first rows provenance.version, provenance.command_line, ...,
//         provenance.configuration.KEY for every key, before the statistics.
//
// `pagesim replay TRACE --config OUT.json` reads the configuration back: the same
// statistics, bit for bit (base/config/output_loader.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/stats/stats.h"
#include "sim/sim_params.h"

namespace pagesim {

// The trace as the run read it. For a file (also SOURCE:PATH): its size and the FNV-1a
// 64-bit hash of its bytes (hex), read again from the file when the run ends. For a
// generator (gen:...): neither; the spec and the seed make it.
struct TraceIdentity {
  std::string path;
  std::optional<std::uint64_t> bytes;
  std::optional<std::string> fnv1a64;
  std::uint64_t records = 0;  // records the run read: accesses and events
};

// `path`'s identity without `records` (hashing the file). Throws std::runtime_error,
// naming the file, when it cannot be read.
TraceIdentity identify_trace(const std::string& path);

struct Provenance {
  std::string command_line;  // every argument, quoted for a POSIX shell where needed
  std::string mode;
  TraceIdentity trace;
  std::uint64_t seed = 0;
  // Every key of the effective configuration and its value text, in schema order.
  std::vector<std::pair<std::string, std::string>> configuration;
  std::string start_time;  // UTC, ISO 8601, to the second
  double wall_seconds = 0;
  // Why the statistics stop short of the trace's end (an interrupted run); nullopt for a
  // complete run.
  std::optional<std::string> partial;
};

// Every key of `c` with its value text (config::Field::value_text), in schema order.
std::vector<std::pair<std::string, std::string>> configuration_values(const Configuration& c);
// "pagesim" and argv[0..argc), each quoted for a POSIX shell where needed.
std::string command_line(int argc, char** argv);
// Now, UTC, "2026-12-07T03:51:10Z".
std::string utc_now();
// This machine: "hostname, CPU model (N CPUs), kernel release".
std::string host_description();

// The JSON object (with the version, the host) and the CSV rows.
std::string provenance_json(const Provenance& p);
std::vector<stats::CsvRow> provenance_csv_rows(const Provenance& p);

}  // namespace pagesim
