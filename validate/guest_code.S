/* The guest's code: a user-mode (CPL 3) loop that replays a command list from guest memory
 * and a kernel-mode (CPL 0) handler for what user mode may not do, entered through int3
 * and left through iretq. Position independent: the VMM copies the bytes between
 * pagesim_guest_code_start and pagesim_guest_code_end to a guest page and patches
 * list_base. Command words and op numbers: validate/payload.h.
 *
 * On the hosts this targets (shadow paging, KVM's instruction emulator runs CPL 0 code)
 * user mode runs natively and takes real shadow page faults; the handler is a few emulated
 * instructions per privileged operation, the same in the measured VM and in its baseline. */
  .intel_syntax noprefix
  .section .rodata
  .balign 16
  .globl pagesim_guest_code_start
  .globl pagesim_guest_user_entry
  .globl pagesim_guest_int3_handler
  .globl pagesim_guest_list_base
  .globl pagesim_guest_code_end
pagesim_guest_code_start:
pagesim_guest_user_entry:
  mov rsi, [rip + pagesim_guest_list_base]
next:
  mov rax, [rsi]
  add rsi, 8
  mov edx, eax
  and edx, 15
  and rax, -16
  cmp edx, 1
  je op_read
  cmp edx, 2
  je op_write
  cmp edx, 3
  je op_rw
  cmp edx, 4
  je op_store
  cmp edx, 5
  je op_invlpg
  cmp edx, 6
  je op_cr3
  cmp edx, 7
  je op_sysnop
  cmp edx, 8
  je next
  cmp edx, 9
  je op_fetch
  cmp edx, 10
  je op_chase
  /* 0 (or anything else): end of the phase. The handler exits to the VMM (port 0xe9);
   * the next phase's list starts again at list_base. */
  mov edi, 3
  int3
  jmp pagesim_guest_user_entry
op_read:
  mov rcx, [rax]
  jmp next
op_write:
  mov [rax], rsi
  jmp next
op_rw:
  mov rcx, [rax]
  mov [rax], rsi
  jmp next
op_store:
  mov rax, [rsi]
  mov rcx, [rsi + 8]
  add rsi, 16
  mov [rax], rcx
  jmp next
op_invlpg:
  mov rbx, rax
  mov edi, 1
  int3
  jmp next
op_cr3:
  mov rbx, rax
  mov edi, 2
  int3
  jmp next
op_fetch:
  /* The address holds `jmp rdx` (the VMM put it there): an instruction fetch, then back. */
  lea rdx, [rip + next]
  jmp rax
op_chase:
  /* pagesim-validate --timing --guest: a dependent-load chain (each 8-byte word holds the
   * address of the next). The address, when not 0, starts the chain there; else it goes on
   * from where the last kChase stopped (r12). The next word is the number of loads (at
   * least 1); the guest overwrites it with the TSC ticks they took. */
  test rax, rax
  cmovnz r12, rax
  mov r8, [rsi]
  rdtsc
  shl rdx, 32
  or rax, rdx
  mov r9, rax
chase_load:
  mov r12, [r12]
  dec r8
  jnz chase_load
  rdtsc
  shl rdx, 32
  or rax, rdx
  sub rax, r9
  mov [rsi], rax
  add rsi, 8
  jmp next
op_sysnop:
  xor edi, edi
  int3
  jmp next

  .balign 16
pagesim_guest_int3_handler:
  cmp edi, 1
  je h_invlpg
  cmp edi, 2
  je h_cr3
  cmp edi, 3
  je h_out
  iretq
h_invlpg:
  invlpg [rbx]
  iretq
h_cr3:
  mov cr3, rbx
  iretq
h_out:
  out 0xe9, al
  iretq

  .balign 8
pagesim_guest_list_base:
  .quad 0
pagesim_guest_code_end:
  .section .note.GNU-stack,"",@progbits
