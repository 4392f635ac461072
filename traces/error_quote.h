// Input quoted for an error message, shared by the text readers (text, CSV, lackey).
#pragma once

#include <string>
#include <string_view>

namespace pagesim::traces {

// `text` in single quotes: printable ASCII as is, other bytes as \xNN, cut after 40
// characters with "...".
std::string error_quote(std::string_view text);

}  // namespace pagesim::traces
