// Finding a command as execvp would, telling a script by its #!, starting a child with the
// tracer's descriptor, and describing how it ended (child_process.h).
#include "traces/child_process.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

TEST(ChildProcess, ResolvesNamesThroughPath) {
  const std::string sh = resolve_executable("sh");
  EXPECT_EQ(sh.front(), '/');
  EXPECT_TRUE(std::filesystem::exists(sh));
  // A name with a slash is taken as is.
  EXPECT_EQ(resolve_executable("/bin/sh"), "/bin/sh");
  EXPECT_EQ(trace_error_of([] { resolve_executable("pagesim-no-such-program"); }),
            "cannot run 'pagesim-no-such-program': not found in PATH");
  EXPECT_EQ(trace_error_of([] { resolve_executable("/nonexistent/x"); }),
            "cannot run '/nonexistent/x': No such file or directory");
  ScratchDir dir;
  write_bytes(dir.file("plain"), "data");  // not executable
  EXPECT_THAT(trace_error_of([&] { resolve_executable(dir.file("plain")); }),
              HasSubstr("not an executable file"));
}

TEST(ChildProcess, ToldScriptsByTheirInterpreterLine) {
  ScratchDir dir;
  write_bytes(dir.file("a"), "#!/usr/bin/env python3 -E \r\nprint(1)\n");
  EXPECT_EQ(script_interpreter(dir.file("a")), "/usr/bin/env python3 -E");
  write_bytes(dir.file("b"), "#!\n");
  EXPECT_EQ(script_interpreter(dir.file("b")), "#!");  // a script, with no interpreter named
  write_bytes(dir.file("c"),
              "\x7f"
              "ELF...");
  EXPECT_EQ(script_interpreter(dir.file("c")), "");
  EXPECT_EQ(script_interpreter(dir.file("missing")), "");
}

TEST(ChildProcess, PassesTheDescriptorAndReportsTheStatus) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const int write_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
  ::close(fds[1]);
  {
    // The child writes to descriptor 3, which is our pipe's write end, and exits 4.
    ChildProcess child({"/bin/sh", "-c", "echo hello >&3; exit 4"}, write_end, 3);
    ::close(write_end);
    char text[16] = {};
    ASSERT_EQ(::read(fds[0], text, sizeof text), 6);
    EXPECT_STREQ(text, "hello\n");
    const int status = child.wait();
    EXPECT_EQ(describe_wait_status(status), "exited with status 4");
  }
  ::close(fds[0]);
  EXPECT_THAT(describe_wait_status(SIGKILL), HasSubstr("killed by signal 9"));  // as waitpid
  EXPECT_THAT(trace_error_of([] { ChildProcess({"/nonexistent/x"}, 0, 3); }),
              HasSubstr("cannot run '/nonexistent/x'"));
}

}  // namespace
}  // namespace pagesim::traces
