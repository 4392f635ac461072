#include "models/cache/cache_params.h"

#include <string>

namespace pagesim::cache {

void CacheLevelParams::describe(config::Schema& s) {
  s.field("size", size, "capacity").positive();
  s.field("ways", ways, "associativity").positive();
  s.field("latency", latency, "load-to-use cycles of a hit");
}

void CacheParams::describe(config::Schema& s) {
  s.field("enabled", enabled, "model the caches (false: every page-table reference goes to DRAM)");
  s.field("data", data,
          "the trace's data accesses go through the caches too: they fill and evict lines, so "
          "page-table lines compete with data; their latency is counted in cache.data.cycles, "
          "not in sim.cycles");
  // At least one page-table entry (8 bytes) per line, so that a reference touches one line;
  // at most a page (4 KiB): the model indexes lines by HPA bits below no page boundary.
  s.field("line_bytes", line_bytes, "cache line size in bytes").range(8, 4096).power_of_two();
  s.group("l1", l1);
  s.group("l2", l2);
  s.group("llc", llc);
  s.group("dram", dram);
  for (auto [name, level] : {std::pair{"l1", &l1}, {"l2", &l2}, {"llc", &llc}}) {
    s.rule(std::string(name) + ".size", [this, level]() -> std::optional<std::string> {
      std::uint64_t per_set = std::uint64_t{line_bytes} * level->ways;
      if (per_set == 0 || level->size.bytes == 0) {
        return std::nullopt;
      }
      // The model keeps an 8-byte tag per line and writes them all at start: 2^24 lines
      // (128 MiB of tags; 1 GiB of cache at 64-byte lines, ten times the largest LLC one
      // core sees today) is the most it allocates per level.
      if (level->size.bytes / line_bytes > kMaxLines) {
        return config::format_byte_size(level->size.bytes) + " is " +
               std::to_string(level->size.bytes / line_bytes) + " lines of " +
               std::to_string(line_bytes) + " bytes, more than " + std::to_string(kMaxLines) +
               " (2^24, e.g. 1GiB of 64-byte lines): the model allocates a tag per line at start";
      }
      if (level->size.bytes % per_set != 0) {
        return std::to_string(level->size.bytes) + " bytes is not a whole number of " +
               std::to_string(level->ways) + "-way sets of " + std::to_string(line_bytes) +
               "-byte lines";
      }
      std::uint64_t sets = level->size.bytes / per_set;
      if ((sets & (sets - 1)) != 0) {
        return std::to_string(sets) + " sets is not a power of two";
      }
      return std::nullopt;
    });
  }
}

}  // namespace pagesim::cache
