// The guest-physical memory map of QEMU's `pc` machine (i440FX + PIIX) as KVM sees it: the
// memory slots QEMU registers for a VM of a given RAM size (docs/design-nested.md, "Memory
// slots and the hypervisor").
//
//   GPA                          slot                HVA (offset from ram_base)
//   [0, 640 KiB)                 0  low RAM          [0, 640 KiB)
//   [640 KiB, 1 MiB)             -  VGA/ROM hole     (block offsets [640 KiB, 1 MiB): no slot)
//   [1 MiB, lowmem)              1  RAM below 4 GiB  [1 MiB, lowmem)
//   [lowmem, 4 GiB)              -  PCI hole (MMIO)
//   [4 GiB, 4 GiB + high)        2  RAM above 4 GiB  [lowmem, lowmem + high)
//
// The RAM split follows pc_init1() in QEMU's hw/i386/pc_piix.c (qemu/qemu, e.g. commit
// 001cb25f3fb8): max_ram_below_4g defaults to 0xe0000000 (3.5 GiB); when the RAM size is at
// least that (">=", so a 3.5 GiB guest is split too) and the machine type is gigabyte-aligned
// (pcmc->gigabyte_align: machine types after pc-1.7; its comment's examples: "-M pc-1.7 -m 4G
// -> 3584M low, 512M high", "-M pc -m 4G -> 3072M low, 1024M high"), lowmem becomes
// 0xc0000000 (3 GiB); then RAM up to lowmem lies below 4 GiB
// (below_4g_mem_size) and the rest from 4 GiB (above_4g_mem_size). A guest of less than
// 3.5 GiB has all its RAM below 4 GiB.
//
// HVAs: QEMU allocates guest RAM as one block ("pc.ram", machine->ram) of exactly the RAM
// size and maps it by aliases (pc_memory_init): ram-below-4g is block offsets
// [0, below_4g) at GPA 0, ram-above-4g is block offsets [below_4g, ram size) at GPA 4 GiB.
// So every RAM GPA below 4 GiB has block offset = GPA, every GPA above has offset
// GPA - 4 GiB + below_4g, and the block is [ram_base, ram_base + vm_memory). The block's
// bytes at offsets [640 KiB, 1 MiB) are allocated but no slot maps them: QEMU overlays that
// GPA range with VGA MMIO (0xa0000-0xbffff) and read-only option-ROM/BIOS copies
// (0xc0000-0xfffff), which this model leaves out: the whole hole is MMIO here.
//
// Simplifications, stated: no BIOS flash slot below 4 GiB, no ROM slots, no SMRAM, no
// pci-hole64 reservation above high RAM.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/address.h"
#include "models/host/memslot.h"

namespace pagesim::host {

inline constexpr std::uint64_t kVgaHoleBegin = 0xa0000;           // 640 KiB
inline constexpr std::uint64_t kVgaHoleEnd = 0x100000;            // 1 MiB
inline constexpr std::uint64_t kFourGiB = 0x100000000;            // where high RAM starts
inline constexpr std::uint64_t kQemuMaxRamBelow4g = 0xe0000000;   // 3.5 GiB, pc_init1 default
inline constexpr std::uint64_t kQemuGigabyteLowmem = 0xc0000000;  // 3 GiB, gigabyte_align

// Slot ids of the layout.
inline constexpr std::uint32_t kLowRamSlot = 0;
inline constexpr std::uint32_t kRamBelow4gSlot = 1;
inline constexpr std::uint32_t kRamAbove4gSlot = 2;

// RAM below 4 GiB for a guest of `vm_memory_bytes` (x86ms->below_4g_mem_size).
std::uint64_t qemu_pc_below_4g_bytes(std::uint64_t vm_memory_bytes);

// The slots of a `pc` guest with `vm_memory_bytes` of RAM (a nonzero multiple of 4 KiB;
// std::invalid_argument naming vm.memory otherwise) whose RAM block starts at `ram_base`
// (4 KiB aligned), sorted by GPA; empty slots are left out (a 512 KiB guest has slot 0 only).
std::vector<Memslot> qemu_pc_layout(std::uint64_t vm_memory_bytes, Hva ram_base);

struct GpaRange {
  Gpa begin;
  Gpa end;  // one past the last byte
  friend constexpr bool operator==(const GpaRange&, const GpaRange&) = default;
};

// The guest's RAM, as its E820 map would list it: the writable slots' ranges, sorted, with
// adjacent ones merged. Read-only slots (ROM) are not RAM. For the guest frame allocator.
std::vector<GpaRange> ram_ranges(std::span<const Memslot> slots);

}  // namespace pagesim::host
