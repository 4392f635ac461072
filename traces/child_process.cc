#include "traces/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>

#include "traces/trace_reader.h"

extern char** environ;

namespace pagesim::traces {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string resolve_executable(const std::string& name) {
  if (name.empty()) {
    throw TraceError("cannot run '': empty command name");
  }
  if (name.find('/') != std::string::npos) {
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0) {
      throw TraceError("cannot run '" + name + "': " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode) || ::access(name.c_str(), X_OK) != 0) {
      throw TraceError("cannot run '" + name + "': not an executable file");
    }
    return name;
  }
  const char* env_path = std::getenv("PATH");
  const std::string_view path = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    std::string dir(path.substr(begin, end - begin));
    if (dir.empty()) {
      dir = ".";  // an empty PATH entry is the current directory
    }
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) {
      return candidate;
    }
    begin = end + 1;
  }
  throw TraceError("cannot run '" + name + "': not found in PATH");
}

std::string script_interpreter(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "";
  }
  char head[256];
  const ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n < 2 || head[0] != '#' || head[1] != '!') {
    return "";
  }
  std::string_view line(head + 2, static_cast<std::size_t>(n - 2));
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    line.remove_prefix(1);
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return line.empty() ? "#!" : std::string(line);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, int pass_fd, int child_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);

  // dup2 onto itself would keep close-on-exec: the callers pass a descriptor other than
  // child_fd (see record_command.cc).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pass_fd, child_fd);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);

  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &m_old_interrupt);
  ::sigaction(SIGQUIT, &ignore, &m_old_quit);
  const int error = ::posix_spawnp(&m_pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    restore_signals();
    m_waited = true;
    throw TraceError("cannot run '" + argv[0] + "': " + std::strerror(error));
  }
}

ChildProcess::~ChildProcess() {
  if (!m_waited) {
    ::kill(m_pid, SIGKILL);
    wait();
  }
}

void ChildProcess::restore_signals() {
  ::sigaction(SIGINT, &m_old_interrupt, nullptr);
  ::sigaction(SIGQUIT, &m_old_quit, nullptr);
}

int ChildProcess::wait() {
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = 0;
      break;
    }
  }
  m_waited = true;
  restore_signals();
  return status;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = ::strsignal(signal);
    return "was killed by signal " + std::to_string(signal) + " (" + (name ? name : "?") + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace pagesim::traces
