// The machines' parameters (native, nested, shadow), gathered from the configuration's keys: what
// `pagesim replay` builds its machines from, and what other tools (pagesim-validate's
// simulator predictor) build theirs from, with no SystemC involved.
#pragma once

#include "models/machine/native_machine.h"
#include "models/machine/nested_machine.h"
#include "models/machine/shadow_machine.h"
#include "sim/sim_params.h"

namespace pagesim {

machine::NativeMachineParams native_machine_params(const SimParams& params);
host::NestedMachineParams nested_machine_params(const SimParams& params);
shadow::ShadowMachineParams shadow_machine_params(const SimParams& params);

}  // namespace pagesim
