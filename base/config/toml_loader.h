// Reads a TOML configuration file into a Schema: tables and dotted keys both name keys,
// `[tlb.l1d]\nways = 8` and `tlb.l1d.ways = 8` are the same. Errors name file:line.
#pragma once

#include <string>

#include "base/config/schema.h"

namespace pagesim::config {

void load_toml_file(Schema& schema, const std::string& path);
void load_toml_text(Schema& schema, std::string_view text, const std::string& source_name);

// Applies one `key=value` override (the CLI's --set, repeatable).
void apply_override(Schema& schema, std::string_view assignment);

}  // namespace pagesim::config
