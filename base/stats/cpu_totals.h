// The TLB totals of a machine with several CPUs (issue 20). Each CPU has its own TLBs, whose
// counters are cpu<i>.tlb.* (vm<v>.cpu<i>.tlb.* with several VMs); the totals every tool
// reads (tlb.l1d.misses, the summary, the pki.* figures) are their sums:
//
//   [vm<v>.]tlb.<x>            the sum over i of [vm<v>.]cpu<i>.tlb.<x>, for each counter x
//   [vm<v>.]tlb.<level>.hit_rate   hits / (hits + misses) of those sums
//
// Added only where no row of that path exists (one CPU keeps its tlb.* as they are).
#pragma once

#include <vector>

#include "base/stats/stats.h"

namespace pagesim::stats {

// Adds the totals to `rows` (sorted by path, as collect() gives them); keeps them sorted.
void add_cpu_totals(std::vector<Row>& rows);

}  // namespace pagesim::stats
