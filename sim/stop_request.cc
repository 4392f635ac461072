#include "sim/stop_request.h"

#include <csignal>
#include <initializer_list>

namespace pagesim {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void request_stop(int signal) {
  // SA_RESETHAND restored the default action: the next signal ends the process.
  g_signal = signal;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    sigaction(signal, nullptr, &old);
    if (old.sa_handler == SIG_IGN) {
      continue;  // ignored by whoever started us (nohup, a background job): keep it so
    }
    sigaction(signal, &action, nullptr);
  }
}

int stop_signal() { return g_signal; }

const char* stop_signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "a signal";
  }
}

}  // namespace pagesim
