// The host kernel's view of a secondary MMU: what KVM registers on the VMM process's mm
// (kvm_mmu_notifier_ops, virt/kvm/kvm_main.c), so that the host's reclaim can age and
// invalidate the translations KVM built from the process's page table (EPT/NPT leaves in
// nested mode, shadow entries in shadow mode).
//
// Ranges are HVA ranges [begin, end) of the VMM process. The secondary MMU turns them into
// GPA ranges through its memslots (an HVA in no slot maps nothing).
#pragma once

#include <cstdint>

#include "base/address.h"

namespace pagesim::hostmm {

struct InvalidateResult {
  std::uint64_t zapped = 0;  // leaves (EPT) or entries (shadow) zapped
  bool dirty = false;        // one of them was dirty (or writable without A/D bits)
  bool flushed = false;      // the VM's TLBs were flushed (a shootdown of each vCPU)
};

class MmuNotifier {
 public:
  virtual ~MmuNotifier() = default;
  // mmu_notifier_test_young: whether an entry mapping the range has its accessed flag
  // set. Changes nothing.
  virtual bool test_young(Hva begin, Hva end) = 0;
  // mmu_notifier_clear_young: the same, clearing the accessed flags it finds.
  virtual bool clear_young(Hva begin, Hva end) = 0;
  // mmu_notifier_invalidate_range_start/end: zap every entry mapping the range, then flush
  // the TLBs and translation caches of every vCPU of the VM if anything was zapped.
  virtual InvalidateResult invalidate_range(Hva begin, Hva end) = 0;
};

}  // namespace pagesim::hostmm
