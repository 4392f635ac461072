// `--config A.json`: the configuration a pagesim JSON output recorded (sim/provenance.h,
// "provenance" -> "configuration": every key with the text --set takes), so that a run can
// be made again from its output file.
#pragma once

#include <string>

#include "base/config/schema.h"

namespace pagesim::config {

// Sets every key of `path`'s provenance configuration in `schema`, each with the origin
// "PATH: provenance". Throws ConfigError naming the file when it cannot be read, is not
// JSON, carries no provenance configuration, or holds a key or value `schema` refuses.
void load_output_configuration(Schema& schema, const std::string& path);

}  // namespace pagesim::config
