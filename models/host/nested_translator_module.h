// SystemC shell of the nested machine (mode=nested): NestedMachine behind the core's
// walker socket (sim/translator_module.h). Host memory is the memory module's, advised
// huge pages for NestedMachine::huge_page_bytes() of it.
#pragma once

#include "models/host/nested_machine.h"
#include "sim/translator_module.h"

namespace pagesim::host {

using NestedControlIf = MachineControlIf<NestedMachine, TouchObserver>;
using NestedTranslatorModule = TranslatorModule<NestedMachine, NestedMachineParams, TouchObserver>;

}  // namespace pagesim::host
