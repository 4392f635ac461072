/* The raw stream pagesim's qemu plugin writes to `pagesim trace record` through a pipe
 * (docs/trace-format.md, "Recording programs"): fixed-size words, cheap to produce in the
 * plugin's callbacks; the recorder turns them into records and compresses them once, in
 * the binary trace format.
 *
 *   magic   8 bytes "PGSIMQ2\n" (version 2; version 1, "PGSIMQ1\n", had no vCPU notes and
 *           is still read)
 *   words   64-bit little-endian, one per access:
 *             bits 0-55   address
 *             bits 56-61  size in bytes, 1 to 63
 *             bits 62-63  kind: 0 load (R), 1 store (W), 2 instruction fetch (X)
 *           kind 3 is an escape for an address of 2^56 or more: bits 0-1 hold the kind,
 *           bits 56-61 the size, and the next word is the whole address.
 *   marker  an escape word with size 0 and bits 0-1 = 2 (PAGESIM_STREAM_NOTE_MARKER): the
 *           program executed the marker instruction (xchg %bx,%bx: 66 87 db), with the
 *           plugin's markers=on; `pagesim trace record --roi-markers` turns the first into
 *           `!roi begin`, the second into `!roi end`, and so on.
 *   notes   an escape word with size 0 and bits 0-1 = 3 (PAGESIM_STREAM_NOTE_PROCESSES),
 *           then a signed 64-bit word: a change in the number of processes the recorded
 *           program started that are not recorded (+1 for a fork or a non-thread clone
 *           that returned a child, +1 before an execve, -1 when that execve returned).
 *   vCPU    (version 2) an escape word with size 0, bits 0-1 = 1 (PAGESIM_STREAM_NOTE_VCPU),
 *           bits 2-7 zero and bits 8-55 a vCPU index (qemu's vcpu_index: a guest thread in
 *           qemu-user): the words after it, up to the next vCPU note, are that vCPU's. The
 *           plugin starts every block it writes with one, so the recorder can say which
 *           thread ran what (`!cpu N` at each change, docs/trace-format.md).
 *
 * A word group (an escape and its address, a note and its value) never spans two writes:
 * blocks of different vCPUs interleave in the stream.
 *
 * Shared by the plugin (C) and traces/qemu_stream_reader.cc (C++). */
#ifndef PAGESIM_TRACES_QEMU_PLUGIN_PAGESIM_STREAM_H_
#define PAGESIM_TRACES_QEMU_PLUGIN_PAGESIM_STREAM_H_

#define PAGESIM_STREAM_MAGIC "PGSIMQ2\n"
#define PAGESIM_STREAM_MAGIC_V1 "PGSIMQ1\n"
#define PAGESIM_STREAM_MAGIC_BYTES 8

#define PAGESIM_STREAM_ADDRESS_BITS 56
#define PAGESIM_STREAM_SIZE_SHIFT 56
#define PAGESIM_STREAM_SIZE_MASK 0x3f
#define PAGESIM_STREAM_KIND_SHIFT 62
#define PAGESIM_STREAM_KIND_ESCAPE 3
#define PAGESIM_STREAM_NOTE_PROCESSES 3
#define PAGESIM_STREAM_NOTE_MARKER 2
#define PAGESIM_STREAM_NOTE_VCPU 1
#define PAGESIM_STREAM_VCPU_SHIFT 8

#endif /* PAGESIM_TRACES_QEMU_PLUGIN_PAGESIM_STREAM_H_ */
