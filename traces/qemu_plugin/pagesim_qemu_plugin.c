/* pagesim's TCG plugin for qemu-user: every load and store the guest makes (and, with
 * fetches=on, every instruction it executes) as a raw stream of 8-byte words
 * (pagesim_stream.h) written to a descriptor that `pagesim trace record` reads.
 *
 *   qemu-x86_64 -plugin libpagesim_qemu.so,fd=3[,fetches=on][,markers=on] PROGRAM ARGS...
 *
 * Speed: the work per access is one call from the translated code into a callback that
 * packs a word and appends it to its vCPU's buffer (64 Ki words); full buffers go to the
 * descriptor in one write. A fetch's word is computed once at translation and passed as the
 * callback's user data.
 *
 * Threads: each vCPU (a guest thread in qemu-user) fills its own buffer; buffers are written
 * whole under a lock, so the stream interleaves threads by blocks, not by access. Each block
 * starts with a vCPU note (pagesim_stream.h) naming its vCPU; the shared buffer of vCPUs
 * past kMaxVcpus has a note at each change of vCPU. A word group (escape and address, note
 * and value) is never split between two blocks.
 * fork: qemu-user keeps running the child under the plugin; the child stops recording at its
 * first buffer flush (only the process pagesim started is recorded). exec: the calling
 * thread's buffer is flushed before every execve, and the new program is not traced
 * (qemu-user does not follow exec). Both are counted in the stream (notes, pagesim_stream.h)
 * so that the recorder can say how many processes went unrecorded: a fork, a vfork or a
 * clone without CLONE_THREAD that returned a child's pid, and an execve (counted before it,
 * taken back if it returns). clone3 is not counted: qemu-user 7.2 does not implement it
 * (ENOSYS, and glibc falls back to clone). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagesim_stream.h"
#include "qemu_plugin_api.h"

PAGESIM_QEMU_PLUGIN_EXPORT int qemu_plugin_version = PAGESIM_QEMU_PLUGIN_API_VERSION;

enum {
  kBufferWords = 1 << 16,
  kMaxVcpus = 256,  /* vCPUs with a buffer of their own; any others share one under a lock */
  kFirstOutFd = 500 /* where the stream descriptor moves, out of the guest's way */
};

/* x86-64 Linux system call numbers of execve and execveat, and of those that may start a
 * process; clone's flag for a thread (include/uapi/linux/sched.h). */
enum { kSysExecve = 59, kSysExecveat = 322, kSysClone = 56, kSysFork = 57, kSysVfork = 58 };
#define PAGESIM_CLONE_THREAD 0x00010000ull

struct buffer {
  uint64_t* words;
  size_t used;
  size_t kept; /* leading words a flush keeps: 1 (the vCPU note) in a vCPU's buffer */
};

static int g_fd = -1;
static pid_t g_pid;
static int g_disabled; /* a write failed, or this is a forked child */
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buffer g_buffers[kMaxVcpus];
static struct buffer g_shared;
static pthread_mutex_t g_shared_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const char* what) {
  char line[256];
  snprintf(line, sizeof line, "pagesim qemu plugin: %s\n", what);
  qemu_plugin_outs(line);
}

/* Writes `bytes` to the stream; on failure stops recording (the reader is gone: pagesim
 * reports the error). Called with g_write_lock held. */
static void write_all(const void* data, size_t bytes) {
  const char* p = data;
  while (bytes > 0 && !g_disabled) {
    ssize_t n = write(g_fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      g_disabled = 1;
      return;
    }
    p += n;
    bytes -= (size_t)n;
  }
}

static void flush(struct buffer* b) {
  pthread_mutex_lock(&g_write_lock);
  if (getpid() != g_pid) {
    g_disabled = 1; /* a forked child: its buffers hold its parent's records */
  }
  if (!g_disabled && b->used > b->kept) {
    write_all(b->words, b->used * sizeof(uint64_t));
  }
  b->used = b->kept;
  pthread_mutex_unlock(&g_write_lock);
}

/* The vCPU note that starts a block of vCPU `vcpu_index`'s words. */
static uint64_t vcpu_note(unsigned int vcpu_index) {
  return ((uint64_t)PAGESIM_STREAM_KIND_ESCAPE << PAGESIM_STREAM_KIND_SHIFT) |
         ((uint64_t)vcpu_index << PAGESIM_STREAM_VCPU_SHIFT) | PAGESIM_STREAM_NOTE_VCPU;
}

static struct buffer* buffer_of(unsigned int vcpu_index) {
  struct buffer* b = &g_buffers[vcpu_index];
  if (b->words == NULL) {
    b->words = malloc(kBufferWords * sizeof(uint64_t));
    if (b->words == NULL) {
      report("out of memory for a buffer");
      abort();
    }
    b->words[0] = vcpu_note(vcpu_index); /* kept by every flush */
    b->kept = 1;
    b->used = 1;
  }
  return b;
}

static inline void append(struct buffer* b, uint64_t word) {
  if (b->used == kBufferWords) {
    flush(b);
  }
  b->words[b->used++] = word;
}

/* Makes room for `n` words in one block, so that a word group is not split. */
static inline void reserve(struct buffer* b, size_t n) {
  if (b->used + n > kBufferWords) {
    flush(b);
  }
}

/* The vCPU that appended last to the shared buffer (valid while it holds words). */
static unsigned int g_shared_vcpu;

/* Appends `n` words (1 or 2: one group) to the shared buffer for vCPU `vcpu_index`, after a
 * vCPU note when the buffer is empty or another vCPU appended last. */
static void append_shared(unsigned int vcpu_index, const uint64_t* words, int n) {
  pthread_mutex_lock(&g_shared_lock);
  if (g_shared.words == NULL) {
    g_shared.words = malloc(kBufferWords * sizeof(uint64_t));
  }
  if (g_shared.words != NULL) {
    reserve(&g_shared, 1 + (size_t)n);
    if (g_shared.used == 0 || g_shared_vcpu != vcpu_index) {
      g_shared.words[g_shared.used++] = vcpu_note(vcpu_index);
      g_shared_vcpu = vcpu_index;
    }
    for (int i = 0; i < n; ++i) {
      g_shared.words[g_shared.used++] = words[i];
    }
  }
  pthread_mutex_unlock(&g_shared_lock);
}

/* Appends `n` words (1 or 2: one group) to the vCPU's buffer, or to the shared one. */
static void append_words(unsigned int vcpu_index, const uint64_t* words, int n) {
  if (vcpu_index < kMaxVcpus) {
    struct buffer* b = buffer_of(vcpu_index);
    reserve(b, (size_t)n);
    for (int i = 0; i < n; ++i) {
      b->words[b->used++] = words[i];
    }
    return;
  }
  append_shared(vcpu_index, words, n);
}

/* Appends one access: one word, or an escape and the address. */
static void record_access(unsigned int vcpu_index, uint64_t vaddr, uint64_t size, uint64_t kind) {
  const uint64_t head = size << PAGESIM_STREAM_SIZE_SHIFT;
  if ((vaddr >> PAGESIM_STREAM_ADDRESS_BITS) == 0) {
    const uint64_t word = head | (kind << PAGESIM_STREAM_KIND_SHIFT) | vaddr;
    if (vcpu_index < kMaxVcpus) {
      append(buffer_of(vcpu_index), word);
    } else {
      append_shared(vcpu_index, &word, 1);
    }
    return;
  }
  const uint64_t words[2] = {
      head | ((uint64_t)PAGESIM_STREAM_KIND_ESCAPE << PAGESIM_STREAM_KIND_SHIFT) | kind, vaddr};
  append_words(vcpu_index, words, 2);
}

static void on_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                   void* userdata) {
  (void)userdata;
  const uint64_t size = (uint64_t)1 << qemu_plugin_mem_size_shift(info);
  record_access(vcpu_index, vaddr, size, qemu_plugin_mem_is_store(info) ? 1 : 0);
}

/* userdata: the fetch's word, made at translation (near addresses). */
static void on_fetch(unsigned int vcpu_index, void* userdata) {
  const uint64_t word = (uint64_t)(uintptr_t)userdata;
  if (vcpu_index < kMaxVcpus) {
    append(buffer_of(vcpu_index), word);
    return;
  }
  record_access(vcpu_index, word & (((uint64_t)1 << PAGESIM_STREAM_ADDRESS_BITS) - 1),
                (word >> PAGESIM_STREAM_SIZE_SHIFT) & PAGESIM_STREAM_SIZE_MASK, 2);
}

/* userdata: the instruction's address, for an address of 2^56 or more (never in x86-64 user
 * space; kept so no address is silently cut). The size rides in the upper bits of nothing:
 * such fetches are recorded with their real size through record_access. */
struct far_fetch {
  uint64_t vaddr;
  uint64_t size;
};

static void on_far_fetch(unsigned int vcpu_index, void* userdata) {
  const struct far_fetch* f = userdata;
  record_access(vcpu_index, f->vaddr, f->size, 2);
}

static int g_fetches;
static int g_markers;

/* The marker instruction a program executes to mark its region of interest: xchg %bx,%bx
 * (66 87 db), a no-op that compilers never emit (Bochs' "magic breakpoint"). */
static const unsigned char kMarker[3] = {0x66, 0x87, 0xdb};

static void on_marker(unsigned int vcpu_index, void* userdata) {
  (void)userdata;
  const uint64_t word = ((uint64_t)PAGESIM_STREAM_KIND_ESCAPE << PAGESIM_STREAM_KIND_SHIFT) |
                        PAGESIM_STREAM_NOTE_MARKER;
  append_words(vcpu_index, &word, 1);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    if (g_markers && qemu_plugin_insn_size(insn) == sizeof kMarker &&
        memcmp(qemu_plugin_insn_data(insn), kMarker, sizeof kMarker) == 0) {
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
    if (g_fetches) {
      const uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
      uint64_t size = qemu_plugin_insn_size(insn);
      if (size > PAGESIM_STREAM_SIZE_MASK) {
        size = PAGESIM_STREAM_SIZE_MASK; /* x86 instructions are at most 15 bytes */
      }
      if ((vaddr >> PAGESIM_STREAM_ADDRESS_BITS) == 0) {
        const uint64_t word = (size << PAGESIM_STREAM_SIZE_SHIFT) |
                              ((uint64_t)2 << PAGESIM_STREAM_KIND_SHIFT) | vaddr;
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_fetch, QEMU_PLUGIN_CB_NO_REGS,
                                               (void*)(uintptr_t)word);
      } else {
        /* Leaks one small block per translation of such an instruction: never in practice. */
        struct far_fetch* f = malloc(sizeof *f);
        if (f != NULL) {
          f->vaddr = vaddr;
          f->size = size;
          qemu_plugin_register_vcpu_insn_exec_cb(insn, on_far_fetch, QEMU_PLUGIN_CB_NO_REGS, f);
        }
      }
    }
    qemu_plugin_register_vcpu_mem_cb(insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                     NULL);
  }
}

static void flush_all(void) {
  for (int i = 0; i < kMaxVcpus; ++i) {
    if (g_buffers[i].words != NULL) {
      flush(&g_buffers[i]);
    }
  }
  pthread_mutex_lock(&g_shared_lock);
  if (g_shared.words != NULL) {
    flush(&g_shared);
  }
  pthread_mutex_unlock(&g_shared_lock);
}

/* Appends a note: `delta` processes more (or fewer) that are not recorded. */
static void note_processes(unsigned int vcpu_index, int64_t delta) {
  const uint64_t words[2] = {((uint64_t)PAGESIM_STREAM_KIND_ESCAPE << PAGESIM_STREAM_KIND_SHIFT) |
                                 PAGESIM_STREAM_NOTE_PROCESSES,
                             (uint64_t)delta};
  append_words(vcpu_index, words, 2);
}

/* Per vCPU: the system call in progress may start a process (fork, vfork, clone without
 * CLONE_THREAD). */
static unsigned char g_may_fork[kMaxVcpus];

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                       uint64_t a8) {
  (void)id, (void)a2, (void)a3, (void)a4, (void)a5, (void)a6, (void)a7, (void)a8;
  if (getpid() != g_pid) {
    return; /* a forked child: not recorded, counted by its parent */
  }
  if (vcpu_index < kMaxVcpus) {
    g_may_fork[vcpu_index] = num == kSysFork || num == kSysVfork ||
                             (num == kSysClone && (a1 & PAGESIM_CLONE_THREAD) == 0);
  }
  /* The program is about to be replaced: it is counted, and what this thread did so far
   * reaches the trace (execve ends the other threads; their last buffers are lost, and
   * flushing them from here would race with them). */
  if (num == kSysExecve || num == kSysExecveat) {
    note_processes(vcpu_index, 1);
    if (vcpu_index < kMaxVcpus && g_buffers[vcpu_index].words != NULL) {
      flush(&g_buffers[vcpu_index]);
    }
  }
}

static void on_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, int64_t ret) {
  (void)id;
  if (getpid() != g_pid) {
    return;
  }
  if (num == kSysExecve || num == kSysExecveat) {
    note_processes(vcpu_index, -1); /* it returned: it failed, the program goes on */
  } else if (vcpu_index < kMaxVcpus && g_may_fork[vcpu_index]) {
    g_may_fork[vcpu_index] = 0;
    if (ret > 0) {
      note_processes(vcpu_index, 1); /* the parent, with its child's pid */
    }
  }
}

static void on_atexit(qemu_plugin_id_t id, void* userdata) {
  (void)id, (void)userdata;
  flush_all();
}

/* "on", "yes", "true", "1" and "off", "no", "false", "0". */
static int parse_bool(const char* text, int* value) {
  const char* on[] = {"on", "yes", "true", "1"};
  const char* off[] = {"off", "no", "false", "0"};
  for (int i = 0; i < 4; ++i) {
    if (strcmp(text, on[i]) == 0) {
      *value = 1;
      return 1;
    }
    if (strcmp(text, off[i]) == 0) {
      *value = 0;
      return 1;
    }
  }
  return 0;
}

PAGESIM_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                   int argc, char** argv) {
  if (info->system_emulation) {
    report("records user-mode programs only (qemu-x86_64, not qemu-system-*)");
    return -1;
  }
  int fd = -1;
  for (int i = 0; i < argc; ++i) {
    char message[200];
    if (strncmp(argv[i], "fd=", 3) == 0) {
      char* end = NULL;
      long value = strtol(argv[i] + 3, &end, 10);
      if (end == argv[i] + 3 || *end != '\0' || value < 0 || value > 65535) {
        snprintf(message, sizeof message, "bad argument '%s' (expected fd=<descriptor>)", argv[i]);
        report(message);
        return -1;
      }
      fd = (int)value;
    } else if (strncmp(argv[i], "markers=", 8) == 0) {
      if (!parse_bool(argv[i] + 8, &g_markers)) {
        snprintf(message, sizeof message, "bad argument '%s' (expected markers=on|off)", argv[i]);
        report(message);
        return -1;
      }
    } else if (strncmp(argv[i], "fetches=", 8) == 0) {
      if (!parse_bool(argv[i] + 8, &g_fetches)) {
        snprintf(message, sizeof message, "bad argument '%s' (expected fetches=on|off)", argv[i]);
        report(message);
        return -1;
      }
    } else {
      snprintf(message, sizeof message,
               "unknown argument '%s' (known: fd=N, fetches=on|off, markers=on|off)", argv[i]);
      report(message);
      return -1;
    }
  }
  if (fd < 0) {
    report("missing argument fd=<descriptor>: where to write the stream");
    return -1;
  }
  /* Move the descriptor out of the guest's way (the guest shares qemu's descriptor table),
   * close-on-exec: a program the guest execs must not hold the stream open. */
  g_fd = fcntl(fd, F_DUPFD_CLOEXEC, kFirstOutFd);
  if (g_fd < 0) {
    char message[200];
    snprintf(message, sizeof message, "descriptor %d: %s", fd, strerror(errno));
    report(message);
    return -1;
  }
  close(fd);
  g_pid = getpid();
  pthread_mutex_lock(&g_write_lock);
  write_all(PAGESIM_STREAM_MAGIC, PAGESIM_STREAM_MAGIC_BYTES);
  pthread_mutex_unlock(&g_write_lock);

  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
  qemu_plugin_register_vcpu_syscall_ret_cb(id, on_syscall_ret);
  qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
  return 0;
}
