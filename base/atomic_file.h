// Writing output files (statistics, configurations, traces) so that a reader or a crash never
// sees a partial file, an error leaves no file behind, and what the path names survives.
//
// An output path is resolved first (resolve_output):
//   - a regular file, or nothing yet: the bytes go to a hidden temporary beside it,
//     ".<name>.pagesim-tmp.<pid>.<n>", renamed over it at the end (rename(2) replaces the
//     directory entry atomically: the old file or the new one, never a mix);
//   - a symbolic link is followed to its final target (relative links from the link's
//     folder), so the temporary sits beside the target, the rename stays in one file system
//     and the link itself is kept; a dangling link creates its target, as the shell's '>'
//     does;
//   - a character device, FIFO or socket (/dev/null, a named pipe) is opened and written in
//     place, never renamed over nor removed: nothing there can be replaced atomically;
//   - a name of one of this process's open descriptors (/dev/stdout, /dev/stderr,
//     /dev/fd/N, /proc/self/fd/N) is written through a duplicate of that descriptor, as
//     the shell's '>&N' does, whatever it is open on (a terminal, a pipe, a file);
//   - a folder, a block device or any other kind of file is refused naming the path.
//
// Temporaries left by a process that died before renaming them (SIGKILL, power loss) are
// removed by the next process that writes the same target: sweep_stale_temporaries().
//
// Several outputs of one run go through one OutputSet, which writes all of them or none.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pagesim {

class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Two outputs of one command are the same file, so one would overwrite the other: a
// mistake in the command line (the CLI exits with status 2).
class SameOutputError : public OutputError {
 public:
  using OutputError::OutputError;
};

// Where an output path leads, looked up before anything is written.
struct OutputTarget {
  enum class Kind {
    kFile,        // a regular file or nothing yet: temporary + rename
    kInPlace,     // a character device, FIFO or socket: opened and written where it is
    kDescriptor,  // one of this process's descriptors: written through a duplicate
  };
  Kind kind = Kind::kFile;
  std::string path;  // as given; error messages name it
  // kFile: the final target after following symbolic links (the rename's destination);
  // kInPlace: `path`; kDescriptor: empty.
  std::string file;
  int descriptor = -1;  // kDescriptor: the descriptor number
  bool exists = false;  // kFile: `file` exists now (the others always exist)
  dev_t device = 0;     // when it exists: its device, inode and mode (stat(2))
  ino_t inode = 0;
  mode_t mode = 0;
  // kFile: `file` with its folder made canonical, to tell two names of one file that does
  // not exist yet apart from two different files.
  std::string canonical;
};

// Follows `path` as described above. Throws OutputError "<path>: cannot write: <reason>"
// for a folder, a block device, a missing or unwritable folder, a descriptor not open for
// writing, too many levels of links.
OutputTarget resolve_output(const std::string& path);

// True when writing `b` would overwrite what was written to `a` (or the reverse): one
// regular file, reached by one name, two links, or hard links. Two outputs that are both
// written in place (say /dev/stdout and /dev/stderr on one terminal) are never "the same":
// each write adds to the device or pipe, neither replaces the other.
bool same_file(const OutputTarget& a, const OutputTarget& b);

// The name prefix of temporaries for `file` in its folder: ".<name>.pagesim-tmp." (the
// name cut to 200 bytes, so the whole stays under NAME_MAX).
std::string temporary_prefix(const std::string& file);

// Removes the temporaries of `file` (named temporary_prefix(file) + "<pid>[.<n>]") whose
// process no longer exists (kill(pid, 0) fails with ESRCH). Temporaries of live processes,
// this one's included, are left alone; a process of another PID namespace writing the same
// folder looks dead and would lose its temporary (its rename then fails, naming the file).
// Returns how many were removed; errors are ignored (a sweep is a courtesy).
std::size_t sweep_stale_temporaries(const std::string& file);

// One output being written. kFile: a new temporary beside the target (stale ones swept
// first), renamed over the target by commit() and removed by the destructor if not
// committed. kInPlace and kDescriptor: the file itself, opened now (a FIFO's open waits for
// a reader, as the shell's does); what was written stays written whatever happens after.
class AtomicOutput {
 public:
  // Throws OutputError naming the path.
  explicit AtomicOutput(OutputTarget target);
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  ~AtomicOutput();

  // Throw OutputError naming the path (and, kFile, remove the temporary).
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Overwrites bytes already written; only when seekable() (kFile).
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  bool seekable() const { return m_target.kind == OutputTarget::Kind::kFile; }

  // Everything is written: closes the descriptor, reporting a late write error (kFile: the
  // temporary stays hidden, commit() still to come).
  void close();
  // close() if not yet, then (kFile) renames the temporary over the target.
  void commit();

  const OutputTarget& target() const { return m_target; }
  const std::string& temporary() const { return m_temporary; }

 private:
  [[noreturn]] void fail(const std::string& what, int error);
  void discard() noexcept;

  OutputTarget m_target;
  std::string m_temporary;  // kFile
  int m_fd = -1;
  bool m_closed = false;
  bool m_committed = false;
};

// The outputs of one run (replay's --json, --csv and --save-config), written all or none.
//
//   OutputSet outputs;
//   const std::size_t json = outputs.add("--json", path);   // before the run: checks it
//   ...run...
//   outputs.set_contents(json, text);
//   outputs.commit();
//
// commit() goes in three steps:
//   1. every regular-file output is written to its temporary (stale ones swept first); if
//      one fails, every temporary is removed and no target has changed;
//   2. then the outputs written in place (devices, FIFOs, descriptors): they cannot be
//      undone, so they come after everything that can still fail without trace; if one
//      fails, the temporaries are removed and no regular file has changed, but the special
//      files before it got their bytes;
//   3. then the temporaries are renamed over their targets, one after the other. The
//      renames of several files cannot be one atomic step: a crash (SIGKILL, power loss)
//      between two renames leaves the first outputs new and the others old, with the
//      latter's temporaries beside them (swept by the next run writing them). A rename
//      fails only for unusual reasons (the folder removed or made read-only meanwhile, an
//      I/O error): then the outputs renamed before it stay written, the error says which,
//      and the other temporaries are removed.
// Nothing is fsync'ed: after a power loss a file system without ordered renames may show an
// empty file (ext4's auto_da_alloc and XFS order the data before the rename).
class OutputSet {
 public:
  // Resolves `path` now, so a bad output fails before a long run. `label` names it in
  // errors ("--json"). Throws OutputError (see resolve_output) and SameOutputError (the same
  // file as an output added before). Returns the index for set_contents().
  std::size_t add(std::string label, std::string path);
  void set_contents(std::size_t index, std::string contents);

  // Writes every output (each must have contents). The paths are resolved again: the run
  // may have taken hours. Throws OutputError.
  void commit();

  bool empty() const { return m_outputs.empty(); }

 private:
  struct Output {
    std::string label;
    std::string path;
    OutputTarget target;
    std::string contents;
    bool has_contents = false;
  };
  // Throws SameOutputError if two outputs are the same file.
  void check_distinct() const;

  std::vector<Output> m_outputs;
};

// One output alone: an OutputSet of one. Throws OutputError naming the path.
void write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace pagesim
