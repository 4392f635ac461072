#include "sim/provenance.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "sim/version.h"

namespace pagesim {
namespace {

bool regular_file(const std::string& path, std::uint64_t& bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  bytes = static_cast<std::uint64_t>(st.st_size);
  return true;
}

std::string fnv1a64(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw std::runtime_error(path + ": cannot read it to hash it: " + std::strerror(errno));
  }
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64: offset basis and prime
  std::vector<unsigned char> buf(1 << 20);
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    for (std::size_t i = 0; i < n; ++i) {
      h = (h ^ buf[i]) * 0x100000001b3ULL;
    }
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    throw std::runtime_error(path + ": read error while hashing it");
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string shell_quoted(const std::string& arg) {
  const bool plain = !arg.empty() && arg.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-+=.,/:@%^") == std::string::npos;
  if (plain) {
    return arg;
  }
  std::string out = "'";
  for (const char c : arg) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        return line.substr(line.find_first_not_of(' ', colon + 1));
      }
    }
  }
  return "unknown CPU";
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

}  // namespace

TraceIdentity identify_trace(const std::string& path) {
  TraceIdentity id;
  id.path = path;
  std::uint64_t bytes = 0;
  std::string file;
  if (regular_file(path, bytes)) {
    file = path;
  } else if (const auto colon = path.find(':'); colon != std::string::npos &&
                                                path.compare(0, 4, "gen:") != 0 &&
                                                regular_file(path.substr(colon + 1), bytes)) {
    file = path.substr(colon + 1);  // SOURCE:PATH
  }
  if (!file.empty()) {
    id.bytes = bytes;
    id.fnv1a64 = fnv1a64(file);
  }
  return id;
}

std::vector<std::pair<std::string, std::string>> configuration_values(const Configuration& c) {
  std::vector<std::pair<std::string, std::string>> values;
  for (const auto& field : c.schema().fields()) {
    std::string text = field->value_text();
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
      // A TOML basic string (strings, enums): the text --set takes is its contents.
      std::string inner;
      for (std::size_t i = 1; i + 1 < text.size(); ++i) {
        if (text[i] == '\\' && i + 2 < text.size()) {
          ++i;
        }
        inner += text[i];
      }
      text = inner;
    }
    values.emplace_back(field->key(), text);
  }
  return values;
}

std::string command_line(int argc, char** argv) {
  std::string out = "pagesim";
  for (int i = 0; i < argc; ++i) {
    out += " " + shell_quoted(argv[i]);
  }
  return out;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string host_description() {
  char name[256] = "unknown host";
  ::gethostname(name, sizeof name - 1);
  utsname uts{};
  const std::string kernel = ::uname(&uts) == 0 ? std::string(uts.sysname) + " " + uts.release : "";
  return std::string(name) + ", " + cpu_model() + " (" +
         std::to_string(std::thread::hardware_concurrency()) + " CPUs), " + kernel;
}

std::string provenance_json(const Provenance& p) {
  using stats::json_quote;
  std::string trace = "{\"path\": " + json_quote(p.trace.path);
  trace += ", \"bytes\": " + (p.trace.bytes ? std::to_string(*p.trace.bytes) : "null");
  trace += ", \"records\": " + std::to_string(p.trace.records);
  trace += ", \"fnv1a64\": " + (p.trace.fnv1a64 ? json_quote(*p.trace.fnv1a64) : "null") + "}";
  std::string out = "{\n";
  out += "    \"version\": " + json_quote(version()) + ",\n";
  out += "    \"command_line\": " + json_quote(p.command_line) + ",\n";
  out += "    \"mode\": " + json_quote(p.mode) + ",\n";
  out += "    \"trace\": " + trace + ",\n";
  out += "    \"seed\": " + std::to_string(p.seed) + ",\n";
  out += "    \"configuration\": {";
  for (std::size_t i = 0; i < p.configuration.size(); ++i) {
    out += (i == 0 ? "\n      " : ",\n      ") + json_quote(p.configuration[i].first) + ": " +
           json_quote(p.configuration[i].second);
  }
  out += "\n    },\n";
  out += "    \"host\": " + json_quote(host_description()) + ",\n";
  out += "    \"start_time\": " + json_quote(p.start_time) + ",\n";
  out += "    \"wall_seconds\": " + number(p.wall_seconds) + ",\n";
  out += "    \"partial\": " + (p.partial ? json_quote(*p.partial) : std::string("null")) + "\n";
  return out + "  }";
}

std::vector<stats::CsvRow> provenance_csv_rows(const Provenance& p) {
  std::vector<stats::CsvRow> rows = {
      {"provenance.version", std::string(version()), "pagesim's build: git describe"},
      {"provenance.command_line", p.command_line, "the command that wrote this file"},
      {"provenance.mode", p.mode, "the translation mode"},
      {"provenance.trace.path", p.trace.path, "the trace as named on the command line"},
      {"provenance.trace.bytes", p.trace.bytes ? std::to_string(*p.trace.bytes) : "",
       "the trace file's size (empty for a generator)"},
      {"provenance.trace.records", std::to_string(p.trace.records),
       "records the run read: accesses and events"},
      {"provenance.trace.fnv1a64", p.trace.fnv1a64.value_or(""),
       "FNV-1a 64-bit hash of the trace file's bytes (empty for a generator)"},
      {"provenance.seed", std::to_string(p.seed), "the seed of every random choice"},
      {"provenance.host", host_description(), "the machine that ran it"},
      {"provenance.start_time", p.start_time, "when the run started, UTC"},
      {"provenance.wall_seconds", number(p.wall_seconds), "wall-clock seconds of the command"},
      {"provenance.partial", p.partial.value_or(""),
       "why the statistics stop short of the trace's end (empty: a complete run)"}};
  for (const auto& [key, value] : p.configuration) {
    rows.push_back({"provenance.configuration." + key, value, "configuration key " + key});
  }
  return rows;
}

}  // namespace pagesim
