// The nested and shadow machines' parameters, gathered from the configuration's keys: what
// `pagesim replay` builds its machines from, and what other tools (pagesim-validate's
// simulator predictor) build theirs from, with no SystemC involved.
#pragma once

#include "models/machine/nested_machine.h"
#include "models/machine/shadow_machine.h"
#include "sim/sim_params.h"

namespace pagesim {

host::NestedMachineParams nested_machine_params(const SimParams& params);
shadow::ShadowMachineParams shadow_machine_params(const SimParams& params);

}  // namespace pagesim
