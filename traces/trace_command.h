// `pagesim trace ...`: make, convert and inspect traces from the command line.
//
//   pagesim trace gen PATTERN [--count N] [--footprint SIZE] [--stride B] [--size B]
//                     [--seed S] [--writes F] [--fetches F] [--alpha A] [--base ADDR]
//                     [--out FILE] [--format text|binary]
//   pagesim trace convert IN... OUT [--format text|binary]
//   pagesim trace info TRACE
//
// PATTERN may be a whole generator spec ("zipf:alpha=1.2"); options add keys to it. IN may
// be a file or "gen:<spec>"; several inputs are concatenated in order. Output goes through a
// temporary renamed at the end, so an error leaves no partial file.
#pragma once

namespace pagesim::traces {

// argv[0] is "trace", argv[1] the subcommand. Prints errors on stderr, naming the place
// ("pagesim trace convert: t.txt:12: ..."). Returns 0 on success, 1 when a trace cannot
// be read or written, 2 for a usage error.
int run_trace_command(int argc, char** argv);

}  // namespace pagesim::traces
