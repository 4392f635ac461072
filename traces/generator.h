// Synthetic traces: seeded, deterministic access patterns (docs/trace-format.md, "Generator
// specs", has the grammar and the exact definitions).
//
//   GeneratorSpec spec = parse_generator_spec("zipf:count=1000000,footprint=64GiB,seed=7");
//   auto reader = make_generator(spec);        // or open_trace("gen:zipf:...")
//
// Every access lies inside [base, base + footprint). With offset o_i of record i (0-based):
//   sequential     o_i = (i mod S) * size,    S = footprint / size
//   strided        o_i = (i mod S) * stride,  S = (footprint - size) / stride + 1
//   uniform        o_i = 8 * U[0, (footprint - size) / 8]                  (8-byte aligned)
//   zipf           page p = perm(rank - 1), rank ~ Zipf(alpha) over P = footprint / 4 KiB
//                  pages; o_i = 4096 p + 8 * U[0, (4096 - size) / 8]
//   pointer_chase  o_i = 64 * perm(i mod L), L = footprint / 64 cache lines: one random
//                  cycle through every line, repeated
// perm is a seeded bijection (hash_permutation.h): popular zipf pages are scattered over the
// footprint, not packed at its start. Kinds are drawn from a second stream: W with
// probability `writes`, X with `fetches`, R otherwise, so changing them leaves the addresses
// unchanged. Same spec, same records, on any machine (random.h, zipf_sampler.h). No
// allocation per record and memory independent of count and footprint.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "traces/trace_reader.h"

namespace pagesim::traces {

enum class Pattern { kSequential, kStrided, kUniform, kZipf, kPointerChase };

// "sequential", "strided", "uniform", "zipf", "pointer_chase".
std::string_view pattern_name(Pattern pattern);

struct GeneratorSpec {
  Pattern pattern = Pattern::kSequential;
  std::uint64_t count = 1'000'000;                         // records
  std::uint64_t footprint_bytes = std::uint64_t{1} << 30;  // 1 GiB
  // 0x7f00'0000'0000: where Linux x86-64 puts mmap regions; 1 TiB aligned, so a footprint
  // starts at the start of a page-table page at every level.
  std::uint64_t base_address = 0x7f00'0000'0000;
  std::uint64_t stride_bytes = 4096;  // strided only
  std::uint64_t seed = 1;
  double write_fraction = 0.0;  // probability that a record is a store (W)
  double fetch_fraction = 0.0;  // probability that a record is an instruction fetch (X)
  std::uint32_t size_bytes = kDefaultAccessSizeBytes;  // every record's access size
  double zipf_alpha = 0.99;                            // zipf only; 0 < alpha <= 10

  friend bool operator==(const GeneratorSpec&, const GeneratorSpec&) = default;
};

// Parses "pattern[:key=value[,key=value]...]", keys: count, footprint, base, stride, seed,
// writes, fetches, size, alpha (e.g. "uniform:count=10000000,footprint=64GiB,seed=1").
// Unset keys keep GeneratorSpec's defaults. Throws TraceError naming the bad key or value.
GeneratorSpec parse_generator_spec(std::string_view text);

// The canonical spelling of a spec: every key the pattern uses, so it reproduces the same
// records even if the defaults change; parse_generator_spec() of it equals `spec` in those
// keys (keys the pattern ignores, like stride for uniform, come back as defaults).
std::string format_generator_spec(const GeneratorSpec& spec);

// Throws TraceError naming the key if the spec cannot generate (footprint smaller than one
// access, writes + fetches > 1, base + footprint past 2^64, ...).
void validate_generator_spec(const GeneratorSpec& spec);

// A reader producing spec.count records; validates the spec first.
std::unique_ptr<TraceReader> make_generator(const GeneratorSpec& spec);

}  // namespace pagesim::traces
