// The version of this build of pagesim: `git describe --always --dirty --tags` of the
// source tree when it was built (a commit id, with "-dirty" when files differed from it),
// or the project version of CMakeLists.txt outside a git checkout. `pagesim --version`
// prints it, and every output file records it (sim/provenance.h).
#pragma once

#include <string_view>

namespace pagesim {

std::string_view version();

}  // namespace pagesim
