#include "validate/vmm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "validate/payload.h"

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k2M = 2ull << 20;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// GDT selectors: 0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code,
// 0x28 TSS (two slots). User selectors carry RPL 3.
constexpr std::uint16_t kKernelCs = 0x08;
constexpr std::uint16_t kUserDs = 0x18 | 3;
constexpr std::uint16_t kUserCs = 0x20 | 3;
constexpr std::uint16_t kTssSel = 0x28;

void put64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

// struct kvm_cpuid2 is 8 bytes before its entries in C; a C++ compiler may size the
// header's flexible array differently, and the size is part of the ioctl number, so both
// numbers are spelled with the C size.
struct Cpuid2Head {
  std::uint32_t nent;
  std::uint32_t padding;
};
static_assert(sizeof(Cpuid2Head) == 8);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Head);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Head);

kvm_segment segment(std::uint16_t sel, std::uint8_t type, std::uint8_t dpl, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

HostMemory::HostMemory(std::uint64_t size, Kind kind, bool thp) : m_size(size), m_kind(kind) {
  // Reserve 2 MiB more, then map the memory at a 2 MiB-aligned address inside the
  // reservation (MAP_FIXED over it), so that a huge page can back each 2 MiB of it.
  m_map_size = size + k2M;
  void* r =
      mmap(nullptr, m_map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) fail("mmap reservation");
  m_map = static_cast<std::uint8_t*>(r);
  auto* aligned = reinterpret_cast<std::uint8_t*>(
      (reinterpret_cast<std::uintptr_t>(m_map) + k2M - 1) & ~(k2M - 1));
  void* p;
  if (kind == Kind::kAnon) {
    p = mmap(aligned, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  } else {
    m_fd = memfd_create("pagesim-validate", MFD_CLOEXEC);
    if (m_fd < 0) fail("memfd_create");
    if (ftruncate(m_fd, static_cast<off_t>(size)) != 0) fail("ftruncate memfd");
    p = mmap(aligned, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m_fd, 0);
  }
  if (p == MAP_FAILED) fail("mmap guest memory");
  m_data = static_cast<std::uint8_t*>(p);
  if (madvise(m_data, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) {
    fail(thp ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)");
  }
}

HostMemory::~HostMemory() {
  if (m_map != nullptr) munmap(m_map, m_map_size);
  if (m_fd >= 0) close(m_fd);
}

Vm::Vm() {
  m_kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (m_kvm < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV) {
      throw KvmUnavailable{"/dev/kvm (" + std::string(std::strerror(e)) +
                           "): KVM is not available on this host"};
    }
    if (e == EACCES || e == EPERM) {
      throw KvmUnavailable{"permission to open /dev/kvm (" + std::string(std::strerror(e)) +
                           "): run as root or join the kvm group"};
    }
    fail("open /dev/kvm");
  }
  if (ioctl(m_kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    throw KvmUnavailable{"KVM API version 12 from /dev/kvm"};
  }
  if (ioctl(m_kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0) {
    throw KvmUnavailable{"KVM binary statistics (KVM_CAP_BINARY_STATS_FD, Linux 5.14+)"};
  }
  m_vm = ioctl(m_kvm, KVM_CREATE_VM, 0);
  if (m_vm < 0) {
    const int e = errno;
    throw KvmUnavailable{"KVM_CREATE_VM (" + std::string(std::strerror(e)) +
                         "): is another hypervisor holding VMX/SVM?"};
  }
  m_vm_stats = std::make_unique<KvmStatsFd>(m_vm, "vm.");
}

Vm::~Vm() {
  for (Vcpu& v : m_vcpus) {
    v.stats.reset();
    if (v.run != nullptr) munmap(v.run, m_run_size);
    if (v.fd >= 0) close(v.fd);
  }
  m_vm_stats.reset();
  if (m_vm >= 0) close(m_vm);
  if (m_kvm >= 0) close(m_kvm);
}

void Vm::set_slot(std::uint32_t slot, Gpa gpa, std::uint64_t size, std::uint8_t* hva) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.guest_phys_addr = gpa.value();
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<std::uint64_t>(hva);
  if (ioctl(m_vm, KVM_SET_USER_MEMORY_REGION, &r) != 0) {
    fail("KVM_SET_USER_MEMORY_REGION slot " + std::to_string(slot));
  }
  m_slots[slot] = Slot{gpa, size, hva};
}

void Vm::delete_slot(std::uint32_t slot) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.memory_size = 0;
  if (ioctl(m_vm, KVM_SET_USER_MEMORY_REGION, &r) != 0) {
    fail("KVM_SET_USER_MEMORY_REGION delete slot " + std::to_string(slot));
  }
  m_slots.erase(slot);
}

std::uint8_t* Vm::gpa_ptr(Gpa gpa) const {
  for (const auto& [id, s] : m_slots) {
    if (gpa >= s.gpa && gpa.value() < s.gpa.value() + s.size) {
      return s.hva + (gpa.value() - s.gpa.value());
    }
  }
  return nullptr;
}

void Vm::create_vcpu(Gpa root, Gva list_base, unsigned id) {
  if (id != m_vcpus.size() || id >= kMaxVcpus) {
    throw std::logic_error("create_vcpu: vCPUs are created in order, at most " +
                           std::to_string(kMaxVcpus));
  }
  const GuestCode code = guest_code();
  if (code.bytes.size() > 0x2000) throw std::logic_error("guest code over two pages");
  std::uint8_t* low = gpa_ptr(Gpa(0));
  if (low == nullptr) throw std::logic_error("create_vcpu: slot 0 is not set");

  // GDT.
  std::uint8_t* gdt = low + kGdtGpa;
  put64(gdt + 0x08, 0x00af9a000000ffffull);  // kernel code, 64-bit, DPL 0
  put64(gdt + 0x10, 0x00cf92000000ffffull);  // kernel data
  put64(gdt + 0x18, 0x00cff2000000ffffull);  // user data, DPL 3
  put64(gdt + 0x20, 0x00affa000000ffffull);  // user code, 64-bit, DPL 3
  const std::uint64_t tss_base = kTssGpa, tss_limit = 0x67;
  // TSS: RSP0 for the switch to CPL 0; no I/O bitmap. vCPU i's TSS is at kTssGpa + 0x80 * i
  // (its descriptor at GDT 0x28 + 0x10 * i), with a kernel stack of its own.
  for (unsigned i = 0; i < kMaxVcpus; ++i) {
    const std::uint64_t base = tss_base + 0x80 * i;
    put64(gdt + 0x28 + 0x10 * i, (tss_limit & 0xffff) | ((base & 0xffffff) << 16) |
                                     (0x89ull << 40) | (((tss_limit >> 16) & 0xf) << 48) |
                                     (((base >> 24) & 0xff) << 56));
    put64(gdt + 0x30 + 0x10 * i, base >> 32);
    std::uint8_t* tss = low + base;
    put64(tss + 4, kKernelStackTop - kKernelStackStride * i);
    tss[0x66] = 0x68;
  }
  const std::uint64_t my_tss = tss_base + 0x80 * id;
  // IDT: vector 3 (int3) is an interrupt gate callable from CPL 3.
  const std::uint64_t handler = kCodeGpa + code.int3_handler;
  std::uint8_t* gate = low + kIdtGpa + 16 * 3;
  put64(gate, (handler & 0xffff) | (std::uint64_t{kKernelCs} << 16) | (0xeeull << 40) |
                  (((handler >> 16) & 0xffff) << 48));
  put64(gate + 8, handler >> 32);
  // Code, and the command list's address in its slot.
  std::memcpy(low + kCodeGpa, code.bytes.data(), code.bytes.size());
  put64(low + kCodeGpa + code.list_base, list_base.value());

  Vcpu& v = m_vcpus.emplace_back();
  v.fd = ioctl(m_vm, KVM_CREATE_VCPU, id);
  if (v.fd < 0) fail("KVM_CREATE_VCPU " + std::to_string(id));
  const int run_size = ioctl(m_kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) fail("KVM_GET_VCPU_MMAP_SIZE");
  m_run_size = static_cast<std::size_t>(run_size);
  v.run = mmap(nullptr, m_run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v.fd, 0);
  if (v.run == MAP_FAILED) {
    v.run = nullptr;
    fail("mmap kvm_run");
  }
  const int vcpu_fd = v.fd;

  // CPUID as KVM supports it (long mode must be in the guest's CPUID for EFER.LME).
  const int max_entries = 256;
  std::vector<std::uint8_t> buf(sizeof(Cpuid2Head) + max_entries * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<Cpuid2Head*>(buf.data());
  cpuid->nent = max_entries;
  if (ioctl(m_kvm, kGetSupportedCpuid, cpuid) != 0) fail("KVM_GET_SUPPORTED_CPUID");
  if (ioctl(vcpu_fd, kSetCpuid2, cpuid) != 0) fail("KVM_SET_CPUID2");

  kvm_sregs sregs{};
  if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) != 0) fail("KVM_GET_SREGS");
  sregs.cs = segment(kUserCs, 0xb, 3, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(kUserDs, 0x3, 3, false);
  sregs.tr = kvm_segment{};
  sregs.tr.base = my_tss;
  sregs.tr.limit = static_cast<std::uint32_t>(tss_limit);
  sregs.tr.selector = static_cast<std::uint16_t>(kTssSel + 0x10 * id);
  sregs.tr.type = 11;  // 64-bit TSS, busy
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.type = 2;
  sregs.ldt.unusable = 1;
  sregs.gdt.base = kGdtGpa;
  sregs.gdt.limit = static_cast<std::uint16_t>(0x27 + 0x10 * kMaxVcpus);
  sregs.idt.base = kIdtGpa;
  sregs.idt.limit = 16 * 256 - 1;
  sregs.cr0 = 0x80050033;  // PG, AM, WP, NE, ET, MP, PE
  sregs.cr3 = root.value();
  sregs.cr4 = 0x620;   // OSXMMEXCPT, OSFXSR, PAE
  sregs.efer = 0x500;  // LMA, LME
  if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) != 0) fail("KVM_SET_SREGS");

  kvm_regs regs{};
  regs.rip = kCodeGpa + code.user_entry;
  regs.rsp = kUserStackTop;
  regs.rflags = 0x2;
  if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) != 0) fail("KVM_SET_REGS");
  v.stats = std::make_unique<KvmStatsFd>(vcpu_fd, "vcpu.");
}

RunStats Vm::run_phase(unsigned id) {
  RunStats out;
  const int vcpu_fd = m_vcpus.at(id).fd;
  auto* run = static_cast<kvm_run*>(m_vcpus.at(id).run);
  for (;;) {
    if (ioctl(vcpu_fd, KVM_RUN, 0) != 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail("KVM_RUN");
    }
    switch (run->exit_reason) {
      case KVM_EXIT_IO:
        ++out.io_exits;
        if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == kEndPort) return out;
        throw std::runtime_error("guest I/O to unexpected port " + std::to_string(run->io.port));
      case KVM_EXIT_MMIO:
        ++out.mmio_exits;
        if (!run->mmio.is_write) std::memset(run->mmio.data, 0xff, sizeof run->mmio.data);
        break;
      case KVM_EXIT_INTR:
        break;
      default: {
        kvm_regs regs{};
        kvm_sregs sregs{};
        ioctl(vcpu_fd, KVM_GET_REGS, &regs);
        ioctl(vcpu_fd, KVM_GET_SREGS, &sregs);
        char msg[256];
        std::snprintf(
            msg, sizeof msg,
            "guest stopped: exit reason %u (rip 0x%llx, cpl %u, cr2 0x%llx, cr3 0x%llx, "
            "rsi 0x%llx, rax 0x%llx)",
            run->exit_reason, static_cast<unsigned long long>(regs.rip), sregs.cs.dpl,
            static_cast<unsigned long long>(sregs.cr2), static_cast<unsigned long long>(sregs.cr3),
            static_cast<unsigned long long>(regs.rsi), static_cast<unsigned long long>(regs.rax));
        throw std::runtime_error(msg);
      }
    }
  }
}

Counters Vm::stats() const {
  Counters out = vm_stats();
  if (!m_vcpus.empty()) {
    for (const auto& [k, v] : vcpu_stats(0)) out[k] = v;
  }
  return out;
}

Counters Vm::vm_stats() const { return m_vm_stats->read(); }

Counters Vm::vcpu_stats(unsigned id) const { return m_vcpus.at(id).stats->read(); }

}  // namespace pagesim::validate
