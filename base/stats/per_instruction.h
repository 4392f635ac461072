// Per-instruction figures (issue 19): when a trace carries instruction fetches, the
// statistics gain misses, walks, faults and cycles per kilo-instruction. A trace's `X`
// records are its instructions: `pagesim trace record --fetches` writes one per instruction
// executed (qemu's execution callback, lackey's `I` line) and the ChampSim importer one per
// instruction (docs/trace-format.md), so instructions = sim.fetches. Without fetches no row
// is added: a count of data accesses is no instruction count.
//
//   pki.instructions          sim.fetches
//   pki.<counter>             <counter> * 1000 / pki.instructions, for each counter of
//                             kPerInstruction the run has (tlb.l1d.misses -> MPKI, ...)
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "base/stats/stats.h"

namespace pagesim::stats {

// The counters given per kilo-instruction, where the run has them (a mode's own).
inline constexpr std::array<std::string_view, 11> kPerInstruction = {
    "tlb.l1i.misses", "tlb.l1d.misses",         "tlb.l2.misses",    "walker.walks",
    "os.page_faults", "guest.page_faults",      "host.page_faults", "vmexits.total",
    "sim.cycles",     "sim.translation_cycles", "sim.event_cycles"};

// Adds the pki.* rows to `rows` (sorted by path, as collect() gives them) when it holds
// sim.fetches > 0; keeps them sorted.
void add_per_instruction(std::vector<Row>& rows);

}  // namespace pagesim::stats
