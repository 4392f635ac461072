/* The program tests/record_cli_test.cc records under both tracers: a static, non-PIE binary
 * (so its data lies at the same addresses under valgrind and qemu-user, which load a program
 * at different places otherwise) whose own accesses are a known pattern over its own array:
 *
 *   kPasses passes over g_data, one store then one load per 64-byte line (volatile, so the
 *   compiler keeps every access): kPasses * (sizeof g_data / 64) * 2 accesses, all in g_data.
 *
 * It prints where g_data lies ("data 0x<address> <bytes>") so the test can pick the
 * program's own accesses out of the whole process's (libc start-up, the loader, the stack),
 * and exits with the status given as its first argument (default 0). The loop is between two
 * marker instructions (xchg %bx,%bx, a no-op: `trace record --roi-markers` makes them its
 * region of interest). */
#include <stdio.h>
#include <stdlib.h>

enum { kPages = 64, kPageBytes = 4096, kLineBytes = 64, kPasses = 64 };

static unsigned char g_data[kPages * kPageBytes] __attribute__((aligned(kPageBytes)));

int main(int argc, char** argv) {
  volatile unsigned char* p = g_data;
  unsigned sum = 0;
  __asm__ volatile("xchg %%bx, %%bx" ::: "memory");  // the region of interest begins
  for (int pass = 0; pass < kPasses; ++pass) {
    for (unsigned long i = 0; i < sizeof g_data; i += kLineBytes) {
      p[i] = (unsigned char)(i + (unsigned long)pass);
      sum += p[i];
    }
  }
  __asm__ volatile("xchg %%bx, %%bx" ::: "memory");  // and ends
  printf("data %p %lu\n", (void*)g_data, (unsigned long)sizeof g_data);
  printf("sum %u\n", sum);
  return argc > 1 ? atoi(argv[1]) : 0;
}
