// SystemC shell of the shadow-paged machine (mode=shadow): ShadowMachine behind the core's
// walker socket (sim/translator_module.h). A translation's TLB flush (KVM's requests)
// reaches the core in the TranslationExt. Host memory is the memory module's, advised huge
// pages for ShadowMachine::huge_page_bytes() of it.
#pragma once

#include "models/shadow/shadow_machine.h"
#include "sim/translator_module.h"

namespace pagesim::shadow {

using ShadowControlIf = MachineControlIf<ShadowMachine, TouchObserver>;
using ShadowTranslatorModule = TranslatorModule<ShadowMachine, ShadowMachineParams, TouchObserver>;

}  // namespace pagesim::shadow
