// A comment as the text and CSV writers put it in a file: each of its lines after "# ",
// each ended by a newline (an empty comment is one "# " line).
#pragma once

#include <string>
#include <string_view>

namespace pagesim::traces {

inline std::string comment_lines(std::string_view comment) {
  std::string lines;
  while (true) {
    const std::size_t newline = comment.find('\n');
    lines += "# ";
    lines += comment.substr(0, newline);
    lines += '\n';
    if (newline == std::string_view::npos) {
      return lines;
    }
    comment.remove_prefix(newline + 1);
  }
}

}  // namespace pagesim::traces
