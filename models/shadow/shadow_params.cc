#include "models/shadow/shadow_params.h"

namespace pagesim::shadow {

void ShadowParams::describe(config::Schema& s) {
  s.field("wp_policy", wp_policy,
          "a guest write to a write-protected last-level guest page table: emulate (exit and "
          "emulate every write) or unsync (exit once, the shadow page goes unsync until the "
          "next CR3 write; INVLPG refreshes its entry); upper levels are always emulated")
      .note("KVM: unsync since 2.6.27 (mmu_try_to_unsync_pages, kvm_sync_page)");
  s.field("cache_roots", cache_roots,
          "keep shadow pages across CR3 writes, a CR3 seen before finding its shadow root "
          "(the caching MMU), or drop every shadow page at each CR3 write")
      .note("seed 001 designs 2 and 1; KVM keeps them (mmu_page_hash)");
  s.field("prefetch", prefetch,
          "after a last-level fault, fill the other entries of its aligned group of 8 whose "
          "guest entries are present and accessed and whose host pages are resident")
      .note("PTE_PREFETCH_NUM, FNAME(pte_prefetch), arch/x86/kvm/mmu");
  s.field("memslot_zap", memslot_zap,
          "what deleting or moving a memslot zaps: all (every shadow page, "
          "kvm_mmu_zap_all_fast under KVM_X86_QUIRK_SLOT_ZAP_ALL, KVM's default) or slot (what "
          "maps or shadows the slot's GPA range)")
      .note("kvm_arch_flush_shadow_memslot, arch/x86/kvm/mmu/mmu.c");
  s.field("max_pages", max_pages,
          "shadow pages the VM may hold before the oldest are zapped; 0: KVM's default, 20 "
          "per 1000 guest pages of the memslots, at least 64")
      .note("KVM_PERMILLE_MMU_PAGES, kvm_mmu_zap_oldest_mmu_pages");
  s.field("new_root_exit", new_root_exit,
          "a CR3 write whose root is not cached (not the current root nor one of the three "
          "previous ones) costs one more VM exit, the entry that builds the root "
          "(vmexits.root_load)")
      .note(
          "kvm_mmu_new_pgd -> kvm_mmu_reload; measured on kvm_pvm, whose emulation of CPL 0 "
          "code stops there; not on VMX/SVM");
  s.field("recycle_unsync_children", recycle_unsync_children,
          "recycling a shadow page (the VM at shadow.max_pages) zaps the unsync page tables "
          "below it with it (mmu_zap_unsync_children), each counted in the batch")
      .note(
          "kvm_mmu_zap_oldest_mmu_pages -> __kvm_mmu_prepare_zap_page; off as measured on "
          "kvm_pvm (docs/validation.md)");
  s.field("vcpu_root_copy", vcpu_root_copy,
          "each vCPU walks its own copy of its root's top-level entries, refreshed when KVM "
          "flushes every vCPU (KVM_REQ_TLB_FLUSH) and entry by entry at its own faults: a "
          "top-level entry another vCPU made present since costs one spurious fault")
      .note(
          "measured on kvm_pvm with two vCPUs (docs/validation.md, \"Two vCPUs\"); off: "
          "VMX/SVM, where the hardware walks the root shadow page");
  s.field("aging", aging,
          "sweep the shadow leaves every aging_interval touches: clear their accessed flags, "
          "drop those not used since the previous sweep (the clock of seed 001)");
  s.field("aging_interval", aging_interval, "touches (TLB misses) between two aging sweeps")
      .positive();
  s.field("page_fault_latency", page_fault_latency,
          "cycles of KVM's shadow page fault handling beyond the exit (software walk of the "
          "guest table, shadow pages, the leaf), host fault excluded")
      .note("an estimate above vmexit.ept_violation_latency; unsure within a factor of two");
  s.field("wp_write_latency", wp_write_latency,
          "cycles of emulating one guest write to a write-protected guest page-table page "
          "beyond the exit (x86 emulator, kvm_mmu_pte_write)")
      .note(
          "an estimate of ~2 us (Adams & Agesen, ASPLOS 2006: thousands of cycles per "
          "page-table-write trap); unsure within a factor of two");
  s.field("cr3_write_latency", cr3_write_latency,
          "cycles of a CR3-write exit's handling beyond the exit (kvm_mmu_new_pgd), syncs and "
          "zaps excluded")
      .note("an estimate; unsure within a factor of two");
  s.field("invlpg_latency", invlpg_latency,
          "cycles of an INVLPG exit's handling beyond the exit (kvm_mmu_invlpg)")
      .note("an estimate; unsure within a factor of two");
  s.field("sync_page_latency", sync_page_latency,
          "cycles of syncing one unsync shadow page (kvm_sync_page: 512 guest entries)")
      .note("an estimate of ~10 cycles per entry; unsure within a factor of two");
}

}  // namespace pagesim::shadow
