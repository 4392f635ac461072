// Memory slots: which guest-physical ranges are RAM, and where the VMM keeps each in its own
// (host-virtual) address space. KVM's struct kvm_memory_slot and struct kvm_memslots
// (include/linux/kvm_host.h), filled by KVM_SET_USER_MEMORY_REGION.
//
//   GPA --memslot--> HVA --host page table--> HPA
//
// A GPA in no slot is not RAM (the 640K-1M VGA/ROM hole, the PCI hole, unplugged memory): a
// guest access there is an MMIO exit, and find() returns nullptr for it.
//
// Invariants of a MemslotTable (KVM's, checked by add() and move()):
//  - every slot's base, size and HVA are multiples of 4 KiB, and its size is nonzero;
//  - no two slots overlap in GPA space, and no two share an id;
//  - no slot wraps past the top of the address space.
// Two slots may be adjacent, and two slots may map the same HVAs (aliases), as in KVM.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/address.h"

namespace pagesim::host {

inline constexpr std::uint64_t kMemslotAlignBytes = 4096;

struct Memslot {
  std::uint32_t id = 0;     // KVM's slot number (kvm_userspace_memory_region.slot)
  Gpa base;                 // first GPA (guest_phys_addr)
  std::uint64_t bytes = 0;  // size (memory_size), a nonzero multiple of 4 KiB
  Hva hva;                  // the VMM address of `base` (userspace_addr)
  bool readonly = false;    // KVM_MEM_READONLY: guest writes exit as MMIO

  // One past the last GPA of the slot.
  constexpr Gpa end() const { return base + bytes; }
  constexpr bool contains(Gpa gpa) const {
    return gpa >= base && gpa.value() - base.value() < bytes;
  }
  // Whether the slot's HVA range holds `address`.
  constexpr bool contains_hva(Hva address) const {
    return address >= hva && address.value() - hva.value() < bytes;
  }
  // The VMM address of `gpa`, which the slot must contain (__gfn_to_hva_memslot).
  constexpr Hva to_hva(Gpa gpa) const { return hva + (gpa.value() - base.value()); }
  // The GPA of `address`, which the slot's HVA range must contain (hva_to_gfn_memslot).
  constexpr Gpa to_gpa(Hva address) const { return base + (address.value() - hva.value()); }

  friend constexpr bool operator==(const Memslot&, const Memslot&) = default;
};

// "memslot 3 [0x100000, 0x200000)": for error messages and test output.
std::string describe(const Memslot& slot);

// A change the table refuses: overlap, duplicate or unknown id, misalignment. The message
// names the slots involved.
class MemslotError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class MemslotTable {
 public:
  MemslotTable() = default;
  explicit MemslotTable(std::span<const Memslot> slots);  // add() of each, in order

  // The slot holding `gpa`, or nullptr (an MMIO GPA). Runs on every EPT violation and
  // shadow page fault: a check of the slot found last (KVM's last_used_slot), then a binary
  // search of the bases. The pointer stays valid until the next add/remove/move.
  const Memslot* find(Gpa gpa) const {
    if (m_last < m_slots.size() && m_slots[m_last].contains(gpa)) {
      return &m_slots[m_last];
    }
    return find_slow(gpa);
  }

  // The slot with this id, or nullptr.
  const Memslot* find_id(std::uint32_t id) const;

  // Adds a slot (KVM_MR_CREATE). Throws MemslotError naming both slots when it overlaps
  // another or reuses its id, and naming the slot when it is empty or misaligned.
  void add(const Memslot& slot);
  // Removes a slot (KVM_MR_DELETE) and returns it: its GPA range is what the caller must zap
  // (kvm_arch_flush_shadow_memslot). Throws MemslotError for an unknown id.
  Memslot remove(std::uint32_t id);
  // Moves a slot to a new base GPA (KVM_MR_MOVE): size, HVA and flags stay. Returns the slot
  // as it was, whose old range the caller must zap. Throws MemslotError for an unknown id,
  // a misaligned base, or an overlap at the new place (naming both slots); the table is
  // unchanged then.
  Memslot move(std::uint32_t id, Gpa new_base);

  // The slots, sorted by base.
  std::span<const Memslot> slots() const { return m_slots; }
  std::size_t size() const { return m_slots.size(); }
  bool empty() const { return m_slots.empty(); }

 private:
  const Memslot* find_slow(Gpa gpa) const;
  // Throws unless `slot` is aligned, nonempty, not wrapping, and clear of every slot other
  // than the one at index `ignore`.
  void check_fits(const Memslot& slot, std::size_t ignore) const;
  std::size_t index_of(std::uint32_t id) const;  // m_slots.size() if absent

  std::vector<Memslot> m_slots;    // sorted by base, disjoint
  mutable std::size_t m_last = 0;  // index of the slot find() returned last
};

}  // namespace pagesim::host
