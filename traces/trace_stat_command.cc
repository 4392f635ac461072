// `pagesim trace stat TRACE [--json]`: TraceStats over a whole trace, printed for people or
// as JSON.
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "traces/command_line.h"
#include "traces/progress_line.h"
#include "traces/trace_stats.h"

namespace pagesim::traces {

namespace {

namespace po = boost::program_options;

constexpr std::size_t kBatchRecords = 4096;

// The size of the file a spec reads, or -1 (a generator, standard input, not a file).
std::int64_t file_bytes(const std::string& spec) {
  const std::string path = trace_file_of(spec);
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return -1;
  }
  return st.st_size;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%",
                whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// "[lo, hi)" of a reuse histogram bucket: 0 is distance 0, b >= 1 is [2^(b-1), 2^b).
std::string bucket_range(std::size_t b) {
  if (b == 0) {
    return "0";
  }
  const std::uint64_t lo = std::uint64_t{1} << (b - 1);
  const std::uint64_t hi = (std::uint64_t{1} << b) - 1;
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

void print_text(const std::string& what, std::int64_t bytes, const TraceSummary& s) {
  std::ostream& out = std::cout;
  out << "trace:      " << what << "\n"
      << "records:    " << s.records << " (" << s.accesses << " accesses, "
      << s.records - s.accesses << " events)\n";
  if (bytes >= 0) {
    out << "file:       " << bytes << " bytes, "
        << (s.records ? fixed(static_cast<double>(bytes) / static_cast<double>(s.records), 3)
                      : std::string("-"))
        << " bytes per record\n";
  }
  const char* kind_names[3] = {"reads:      ", "writes:     ", "fetches:    "};
  for (int k = 0; k < 3; ++k) {
    out << kind_names[k] << s.kinds[k] << " (" << percent(s.kinds[k], s.accesses) << ")\n";
  }
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    if (s.events[op] != 0) {
      out << "event:      " << event_name(static_cast<EventOp>(op)) << ": " << s.events[op] << "\n";
    }
  }
  out << "footprint:  " << s.pages_4k << " 4K pages, " << s.pages_2m << " 2M pages, " << s.pages_1g
      << " 1G pages\n";
  out << "cpus:       " << s.cpus << " (VM, CPU) pairs that made accesses\n";
  out << "address spaces: " << s.spaces.size() << "\n";
  for (const AddressSpaceStats& space : s.spaces) {
    out << "  vm " << space.vm << " asid " << space.asid << ": " << space.accesses << " accesses, "
        << space.pages_4k << " 4K pages, " << space.pages_2m << " 2M pages, " << space.pages_1g
        << " 1G pages\n";
  }
  const ReuseSummary& r = s.reuse;
  const std::uint64_t reuses = r.references - r.cold;
  out << "reuse distance (4 KiB pages; distinct other pages between two references to a page):\n"
      << "  references: " << r.references << " (" << r.cold << " first touches, " << reuses
      << " reuses)\n";
  if (reuses > 0) {
    out << "  reuses:     p50 " << r.p50 << ", p90 " << r.p90 << ", p99 " << r.p99 << ", max "
        << r.max << "\n"
        << "  LRU hits:   " << percent(r.below_64, r.references) << " of references at 64 entries, "
        << percent(r.below_1536, r.references) << " at 1536 (fully associative)\n"
        << "  histogram:\n";
    for (std::size_t b = 0; b < r.buckets.size(); ++b) {
      if (r.buckets[b] != 0) {
        out << "    " << bucket_range(b) << ": " << r.buckets[b] << "\n";
      }
    }
  }
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void print_json(const std::string& what, std::int64_t bytes, const TraceSummary& s) {
  std::ostringstream o;
  o << "{\n  \"trace\": " << json_string(what) << ",\n  \"records\": " << s.records
    << ",\n  \"accesses\": " << s.accesses << ",\n  \"events\": " << s.records - s.accesses
    << ",\n  \"file_bytes\": ";
  if (bytes >= 0) {
    o << bytes;
  } else {
    o << "null";
  }
  o << ",\n  \"kinds\": {\"R\": " << s.kinds[0] << ", \"W\": " << s.kinds[1]
    << ", \"X\": " << s.kinds[2] << "},\n  \"events_by_kind\": {";
  const char* separator = "";
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    if (s.events[op] != 0) {
      o << separator << json_string(std::string(event_name(static_cast<EventOp>(op)))) << ": "
        << s.events[op];
      separator = ", ";
    }
  }
  o << "},\n  \"footprint\": {\"4K\": " << s.pages_4k << ", \"2M\": " << s.pages_2m
    << ", \"1G\": " << s.pages_1g << "},\n  \"cpus\": " << s.cpus << ",\n  \"address_spaces\": [";
  separator = "\n";
  for (const AddressSpaceStats& space : s.spaces) {
    o << separator << "    {\"vm\": " << space.vm << ", \"asid\": " << space.asid
      << ", \"accesses\": " << space.accesses << ", \"4K\": " << space.pages_4k
      << ", \"2M\": " << space.pages_2m << ", \"1G\": " << space.pages_1g << "}";
    separator = ",\n";
  }
  const ReuseSummary& r = s.reuse;
  o << (s.spaces.empty() ? "" : "\n  ") << "],\n  \"reuse_4k\": {\"references\": " << r.references
    << ", \"cold\": " << r.cold << ", \"p50\": " << r.p50 << ", \"p90\": " << r.p90
    << ", \"p99\": " << r.p99 << ", \"max\": " << r.max << ", \"below_64\": " << r.below_64
    << ", \"below_1536\": " << r.below_1536 << ", \"log2_buckets\": [";
  for (std::size_t b = 0; b < r.buckets.size(); ++b) {
    o << (b ? ", " : "") << r.buckets[b];
  }
  o << "]}\n}\n";
  std::cout << o.str();
}

}  // namespace

int run_stat(const std::vector<std::string>& args) {
  po::options_description visible(
      "usage: pagesim trace stat TRACE [--json] [--progress WHEN]\n"
      "\n"
      "Reads the whole trace and prints: accesses by kind, events by kind, the size of\n"
      "the file per record, the footprint in 4 KiB, 2 MiB and 1 GiB pages, the number of\n"
      "(VM, CPU) pairs that made accesses, the pages of each address space (a VM and the\n"
      "asid its !cr3 events chose, per CPU; VM 0, CPU 0, asid 0 at the start), and the exact reuse "
      "distance of 4 KiB pages: for each reference to a page,\n"
      "the number of distinct other pages referenced since its previous reference. A fully\n"
      "associative LRU TLB of N entries hits exactly the reuses below N. Memory grows with\n"
      "the footprint (about 60 bytes per 4 KiB page), not with the length of the trace.\n"
      "\n"
      "options");
  visible.add_options()                       //
      ("help,h", "print this help")           //
      ("json", "print JSON instead of text")  //
      ("progress", po::value<std::string>()->value_name("WHEN")->default_value("auto"),
       ProgressLine::help());
  po::variables_map vm;
  if (!parse_command(args, visible, "trace", 1, vm)) {
    return 0;
  }
  if (!vm.count("trace")) {
    throw UsageError("missing TRACE");
  }
  const std::string spec = vm["trace"].as<std::string>();
  ProgressLine progress(vm["progress"].as<std::string>(), "pagesim trace stat");
  auto reader = open_trace(spec);
  progress.set_total(reader->record_count());
  TraceStats stats;
  std::vector<Record> batch(kBatchRecords);
  std::uint64_t records = 0;
  while (std::size_t n = reader->read(batch)) {
    stats.add(std::span<const Record>(batch.data(), n));
    records += n;
    progress.update(records);
  }
  progress.clear();
  const TraceSummary summary = stats.summary();
  if (vm.count("json")) {
    print_json(reader->describe(), file_bytes(spec), summary);
  } else {
    print_text(reader->describe(), file_bytes(spec), summary);
  }
  return 0;
}

}  // namespace pagesim::traces
