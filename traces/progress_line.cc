#include "traces/progress_line.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "traces/command_line.h"

namespace pagesim::traces {

ProgressLine::ProgressLine(const std::string& when, std::string what, std::string verb)
    : m_what(std::move(what)), m_verb(std::move(verb)) {
  if (when != "auto" && when != "always" && when != "never") {
    throw UsageError("--progress: '" + when + "' is not auto, always or never");
  }
  m_enabled = when == "always" || (when == "auto" && ::isatty(STDERR_FILENO));
}

void ProgressLine::draw(std::uint64_t done) {
  const auto now = std::chrono::steady_clock::now();
  if (now < m_next) return;
  m_next = now + std::chrono::milliseconds(500);
  const double seconds = std::chrono::duration<double>(now - m_start).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  char line[200];
  if (m_total && *m_total > 0) {
    const std::uint64_t left_records = *m_total - std::min(done, *m_total);
    std::snprintf(
        line, sizeof line, "%s: %.1f of %.1f M records %s (%.0f %%), %.2f M/s, %.0f s, %.0f s left",
        m_what.c_str(), static_cast<double>(done) / 1e6, static_cast<double>(*m_total) / 1e6,
        m_verb.c_str(), 100.0 * static_cast<double>(done) / static_cast<double>(*m_total),
        rate / 1e6, seconds, rate > 0 ? static_cast<double>(left_records) / rate : 0.0);
  } else {
    std::snprintf(line, sizeof line, "%s: %.1f M records %s, %.2f M/s, %.0f s", m_what.c_str(),
                  static_cast<double>(done) / 1e6, m_verb.c_str(), rate / 1e6, seconds);
  }
  std::fprintf(stderr, "\r%-79s", line);
  std::fflush(stderr);
  m_drawn = true;
}

void ProgressLine::clear() {
  if (m_drawn) {
    std::fprintf(stderr, "\r%79s\r", "");
    std::fflush(stderr);
    m_drawn = false;
  }
}

}  // namespace pagesim::traces
