// Writes an output file all at once: the text goes to a temporary file beside the target,
// which is then renamed over it, so a reader (or a crash) never sees a partial file and an
// error leaves no file behind.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pagesim {

class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws OutputError naming the path when the file cannot be written.
void write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace pagesim
