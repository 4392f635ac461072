/* The part of QEMU's TCG plugin API (include/qemu/qemu-plugin.h, API version 1, QEMU 7.2)
 * that pagesim's plugin uses, declared by the project: Debian's qemu-user is built with
 * plugin support but ships no header. The declarations follow QEMU's documentation of the
 * plugin API (docs/devel/tcg-plugins.rst and the header's comments); a plugin built against
 * them must match the ABI of the running qemu, which checks qemu_plugin_version at load.
 *
 * Only what pagesim_qemu_plugin.c calls is here. */
#ifndef PAGESIM_TRACES_QEMU_PLUGIN_QEMU_PLUGIN_API_H_
#define PAGESIM_TRACES_QEMU_PLUGIN_QEMU_PLUGIN_API_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGESIM_QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

/* The API version this plugin is written against: QEMU 7.2 accepts 0 to 1. */
#define PAGESIM_QEMU_PLUGIN_API_VERSION 1

typedef uint64_t qemu_plugin_id_t;

/* What qemu tells qemu_plugin_install about itself. */
typedef struct {
  const char* target_name; /* "x86_64" */
  struct {
    int min; /* API versions this qemu supports */
    int cur;
  } version;
  bool system_emulation; /* false for qemu-user */
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;

/* Opaque handles qemu passes to the translation callback. */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

/* A memory access's size, sign, endianness and direction, packed by qemu: read it through
 * the qemu_plugin_mem_* functions. */
typedef uint32_t qemu_plugin_meminfo_t;

enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS, /* the callback reads no guest registers */
  QEMU_PLUGIN_CB_R_REGS,
  QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_mem_rw {
  QEMU_PLUGIN_MEM_R = 1,
  QEMU_PLUGIN_MEM_W,
  QEMU_PLUGIN_MEM_RW,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void* userdata);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index,
                                              int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
                                              uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                                              uint64_t a8);

/* Symbols the plugin exports: its API version, and the entry point qemu calls once after
 * loading it, with the plugin's "key=value" arguments. A non-zero return refuses to load. */
extern PAGESIM_QEMU_PLUGIN_EXPORT int qemu_plugin_version;
PAGESIM_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                   int argc, char** argv);

/* Called when a block of guest code is translated (once per block, not per execution). */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn* insn);
const void* qemu_plugin_insn_data(const struct qemu_plugin_insn* insn); /* its bytes */
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn* insn);

/* Run-time callbacks on one translated instruction: before it executes, and at each memory
 * access it makes (after the access, in program order; a read-modify-write gives a load
 * callback then a store callback). */
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn* insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn* insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                      void* userdata);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info); /* log2 of the bytes */
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

/* Before every system call the guest makes (user mode). */
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);

/* After every system call that returns, with its return value. */
typedef void (*qemu_plugin_vcpu_syscall_ret_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_idx,
                                                  int64_t num, int64_t ret);
void qemu_plugin_register_vcpu_syscall_ret_cb(qemu_plugin_id_t id,
                                              qemu_plugin_vcpu_syscall_ret_cb_t cb);

/* When the guest exits (qemu-user: exit_group, after the other vCPUs stopped). */
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);

/* A message to qemu's log (standard error by default). */
void qemu_plugin_outs(const char* string);

#endif /* PAGESIM_TRACES_QEMU_PLUGIN_QEMU_PLUGIN_API_H_ */
