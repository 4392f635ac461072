// The VM's memory slots at creation (vm.layout): QEMU's pc machine for vm.memory
// (qemu_layout.h), or a list written in the configuration.
//
//   vm.layout = "qemu"                         the default: qemu_pc_layout(vm.memory)
//   vm.layout = "0x0:4g"                       one RAM slot of 4 GiB at GPA 0
//   vm.layout = "0x0:3g,0x100000000:1g,0xfffc0000:256k:ro"
//
// Each slot is GPA:SIZE[:ro][:anon|:memfd][:nothp] (GPA a whole number, hex with 0x; SIZE
// with a unit as every byte-size key: 4k, 2m, 1g, ...; `ro` a read-only slot,
// KVM_MEM_READONLY, as a ROM; `anon` or `memfd` the VMM memory behind it, vm.backing when not
// written; `nothp` the VMM's mapping of it gets no transparent huge pages whatever host.thp
// says: with THP `enabled` = madvise a mapping the VMM did not MADV_HUGEPAGE, or one it
// MADV_NOHUGEPAGEd (hugepage_vma_check: VM_NOHUGEPAGE, or no VM_HUGEPAGE under madvise)). Slot
// ids are 0, 1, ... in the order written. The VMM backs them, as QEMU does its RAM block,
// with one allocation: slot i's HVA = ram_base + the sizes of the slots before it. The
// writable slots are the guest's RAM (its E820 map), and their sizes must add up to
// vm.memory, so that one key always says how much RAM the guest has. Slots must be 4 KiB
// aligned and must not overlap (MemslotTable's rules).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.h"
#include "models/host/host_params.h"
#include "models/host/memslot.h"

namespace pagesim::host {

// The slots of vm.layout for the VM; throws std::invalid_argument naming vm.layout (or
// vm.memory) for text it cannot read or slots that do not fit.
std::vector<Memslot> memslot_layout(const VmParams& vm, Hva ram_base);
// The VMM memory behind each slot of memslot_layout (the same throws).
std::vector<Backing> memslot_backing(const VmParams& vm);

// The VMM's mappings (VMAs) of the memory behind vm.layout's slots, in HVA order: its one
// allocation from ram_base to the end of the last slot, split where the memory behind it
// changes kind (a memfd mapped over part of it is a VMA of its own). A hole between slots
// of one kind (QEMU's VGA hole) belongs to the mapping around it; slots of one kind that
// differ in nothp are mappings of their own. The host's huge pages stay inside one, and
// only in one that allows them (hostmm::VmmMemory::fault_size_limit). The same throws.
struct VmmMapping {
  Hva begin;
  Hva end;
  Backing backing;
  bool thp = true;  // transparent huge pages allowed (host.thp), unless its slots say nothp
};
std::vector<VmmMapping> vmm_mappings(const VmParams& vm, Hva ram_base);

// The reason vm.layout is wrong for `vm`, or nullopt (the configuration's check).
std::optional<std::string> memslot_layout_error(const VmParams& vm);

}  // namespace pagesim::host
