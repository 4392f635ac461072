// Running another program for `pagesim trace record`: finding it as execvp would, telling
// a script from a binary, starting it with one extra descriptor (the tracer's output pipe),
// and describing how it ended.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <string>
#include <vector>

namespace pagesim::traces {

// The file `name` runs: `name` itself when it contains a '/', else the first executable
// regular file called `name` in $PATH (a default path when $PATH is unset). Throws
// TraceError "cannot run 'name': ..." when there is none.
std::string resolve_executable(const std::string& name);

// The interpreter line of a script ("#!/usr/bin/python3 -E" gives "/usr/bin/python3 -E"),
// or "" when the file does not start with "#!".
std::string script_interpreter(const std::string& path);

// A started child process. Its standard input, output and error are this process's; it
// also gets `pass_fd` as descriptor `child_fd` (and no other descriptor of ours: the
// callers open theirs close-on-exec). SIGINT and SIGQUIT are at their defaults in the child,
// while this process ignores them until wait() (as system(3) does): Ctrl-C stops the
// program being recorded, and the recorder then finishes the trace.
class ChildProcess {
 public:
  // Throws TraceError "cannot run '<argv[0]>': <reason>" when it cannot be started.
  ChildProcess(const std::vector<std::string>& argv, int pass_fd, int child_fd);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills and reaps a child not waited for (an error unwinding).
  ~ChildProcess();

  // Waits for the child to end; returns its wait status (waitpid(2)).
  int wait();

 private:
  void restore_signals();

  pid_t m_pid = -1;
  struct sigaction m_old_interrupt {};
  struct sigaction m_old_quit {};
  bool m_waited = false;
};

// "exited with status 3", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace pagesim::traces
