// The progress line of the trace commands that can run for a while (trace info, stat,
// convert, record): on standard error, redrawn in place at most twice a second, with the
// records so far, the rate, the time so far and, when the total is known (binary traces,
// generators), the share done and the time left at the rate so far. Cleared at the end, so
// that the command's own output follows on a clean line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace pagesim::traces {

class ProgressLine {
 public:
  // `when`: "auto" (when standard error is a terminal), "always" or "never"; anything else
  // is a UsageError naming --progress. `what`: the line's first words ("pagesim trace
  // info"); `verb`: what happens to the records ("read", "recorded").
  ProgressLine(const std::string& when, std::string what, std::string verb = "read");
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { clear(); }

  void set_total(std::optional<std::uint64_t> total) { m_total = total; }
  // Records so far; draws when half a second has passed since the last line.
  void update(std::uint64_t done) {
    if (m_enabled && ++m_calls % 16 == 0) draw(done);
  }
  // Removes the line (once).
  void clear();
  bool enabled() const { return m_enabled; }

  // The --progress option's help text, shared by the commands.
  static const char* help() {
    return "progress line on stderr: auto (when stderr is a terminal), always, never";
  }

 private:
  void draw(std::uint64_t done);

  bool m_enabled = false;
  bool m_drawn = false;
  std::string m_what, m_verb;
  std::optional<std::uint64_t> m_total;
  std::uint64_t m_calls = 0;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point m_next = m_start + std::chrono::milliseconds(500);
};

}  // namespace pagesim::traces
