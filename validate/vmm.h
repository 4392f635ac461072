// A small VMM on /dev/kvm: one VM, one vCPU in 64-bit mode running the guest code of
// guest_code.S at CPL 3, memory slots the caller lays out (with holes where no slot is),
// and the counters the kernel keeps about it (KVM's binary statistics of the VM and the
// vCPU). Linux Documentation/virt/kvm/api.rst is the reference for every ioctl here.
//
// Guest-physical layout (kSystem* below): slot 0 below 640 KiB holds the GDT, IDT, TSS,
// code and stacks; 640 KiB - 1 MiB is a hole (no slot: the VGA/ROM hole of a PC); slot 1
// from 1 MiB holds the command list and the guest's page tables; further slots (data) are
// the caller's. Slots 0 and 1 are identity-mapped by the guest's page tables.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/address.h"
#include "validate/kvm_stats.h"

namespace pagesim::validate {

inline constexpr std::uint64_t kGdtGpa = 0x1000;
inline constexpr std::uint64_t kIdtGpa = 0x2000;
inline constexpr std::uint64_t kTssGpa = 0x3000;
inline constexpr std::uint64_t kCodeGpa = 0x4000;  // two pages
inline constexpr std::uint64_t kKernelStackTop = 0xa000;
inline constexpr std::uint64_t kUserStackTop = 0xc000;
inline constexpr std::uint64_t kLowSlotSize = 0xa0000;  // slot 0: [0, 640 KiB)
inline constexpr std::uint64_t kHoleGpa = 0xa0000;      // [640 KiB, 1 MiB): no memslot
inline constexpr std::uint64_t kHoleSize = 0x60000;
inline constexpr std::uint64_t kSysSlotGpa = 0x100000;  // slot 1

// Guest memory backed by the VMM's memory: anonymous (MAP_PRIVATE) or a memfd (MAP_SHARED,
// shmem), aligned to 2 MiB so that host huge pages can back it.
class HostMemory {
 public:
  enum class Kind { kAnon, kMemfd };
  HostMemory(std::uint64_t size, Kind kind, bool thp);
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;
  std::uint8_t* data() const { return m_data; }
  std::uint64_t size() const { return m_size; }
  Kind kind() const { return m_kind; }

 private:
  std::uint8_t* m_map = nullptr;
  std::uint64_t m_map_size = 0;
  std::uint8_t* m_data = nullptr;
  std::uint64_t m_size = 0;
  Kind m_kind;
  int m_fd = -1;
};

// Why the VMM cannot run here (no /dev/kvm, no permission): for the exit-77 message.
struct KvmUnavailable {
  std::string what;
};

struct RunStats {
  std::uint64_t mmio_exits = 0;  // KVM_EXIT_MMIO seen by the VMM in this phase
  std::uint64_t io_exits = 0;    // KVM_EXIT_IO (the phase's end included)
};

class Vm {
 public:
  // Opens /dev/kvm and creates the VM (throws KvmUnavailable when that is impossible).
  Vm();
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // KVM_SET_USER_MEMORY_REGION: slot `slot` maps [gpa, gpa + size) to `hva`.
  void set_slot(std::uint32_t slot, Gpa gpa, std::uint64_t size, std::uint8_t* hva);
  void delete_slot(std::uint32_t slot);
  // The VMM's pointer to a guest-physical page (nullptr: in no slot the VMM created).
  std::uint8_t* gpa_ptr(Gpa gpa) const;

  // Writes GDT, IDT, TSS and the code into slot 0, creates vCPU `id` and sets its registers
  // (CPL 3, 64-bit mode, CR3 = root, RIP at the code's user entry). vCPUs are created in
  // order from 0 (at most kMaxVcpus); vCPU i has a TSS of its own, whose RSP0 is a kernel
  // stack of its own (kKernelStackTop - i * kKernelStackStride), so that the handler's
  // frames of two vCPUs never share memory. KVM wants a vCPU's ioctls from one thread: call
  // this and run_phase(id) from the thread that runs vCPU id.
  void create_vcpu(Gpa root, Gva list_base, unsigned id = 0);
  // Runs vCPU `id` until the guest ends its phase (OUT to kEndPort).
  RunStats run_phase(unsigned id = 0);
  unsigned vcpus() const { return static_cast<unsigned>(m_vcpus.size()); }

  // KVM's binary statistics of the VM ("vm.") and of vCPU 0 ("vcpu.").
  Counters stats() const;
  // The VM's alone, and vCPU id's alone ("vcpu.").
  Counters vm_stats() const;
  Counters vcpu_stats(unsigned id) const;

  static constexpr unsigned kMaxVcpus = 2;
  static constexpr std::uint64_t kKernelStackStride = 0x800;

 private:
  struct Slot {
    Gpa gpa;
    std::uint64_t size;
    std::uint8_t* hva;
  };
  struct Vcpu {
    int fd = -1;
    void* run = nullptr;
    std::unique_ptr<KvmStatsFd> stats;
  };
  int m_kvm = -1;
  int m_vm = -1;
  std::size_t m_run_size = 0;
  std::vector<Vcpu> m_vcpus;
  std::map<std::uint32_t, Slot> m_slots;
  std::unique_ptr<KvmStatsFd> m_vm_stats;
};

}  // namespace pagesim::validate
