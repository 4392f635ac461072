// Stopping a run early and keeping what it measured. While a command runs, SIGINT (Ctrl-C)
// or SIGTERM asks the simulation to stop at the end of the batch of trace records at hand
// (CoreModule checks once per batch, so the hot path pays nothing); the command then
// writes the statistics so far, marked partial, and exits with 128 + the signal's number,
// as a shell reports a process the signal killed. A second signal of either kind ends the
// process at once (the default action): a run that will not stop can still be stopped.
#pragma once

namespace pagesim {

// Installs the handlers (pagesim replay and compare; never pysim's workers).
void install_stop_handlers();
// The signal that asked the run to stop, 0 when none did.
int stop_signal();
// The signal's name: "SIGINT", "SIGTERM".
const char* stop_signal_name(int signal);

}  // namespace pagesim
