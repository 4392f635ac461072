"""pysim's worker: one simulation in a process of its own.

SystemC elaborates once per process (IEEE 1666 has no reset), so every pysim.run starts a
fresh interpreter on this file (`python3 -S _worker.py`: no site packages, nothing but the
extension is imported). Protocol, frames of an 8-byte little-endian length and a pickle:

  parent -> worker   {"preset", "config_file", "assignments", "trace", "arrays", ...},
                     then "stop" (or end of input) to end the trace at the next batch
  worker -> parent   ("start", record_count, description, mode)
                     ("progress", records_read)            every `progress_interval` s
                     ("result", {...})   or   ("error", exception class name, message)

SIGINT is ignored here: Ctrl-C reaches the whole process group, and it is the parent that
decides to stop (it sends "stop" and waits for the partial statistics). The protocol uses
the original stdout; fd 1 is pointed at stderr so that nothing the C++ side prints can
corrupt it.
"""

import mmap
import os
import pickle
import signal
import struct
import sys
import threading

_HEADER = struct.Struct("<Q")


def _read_frame(f):
    header = f.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = f.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def _map(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = os.fdopen(os.dup(0), "rb")
    lock = threading.Lock()

    def send(message):
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            out.write(_HEADER.pack(len(data)))
            out.write(data)
            out.flush()

    try:  # before the request: a spare worker waits with the extension loaded
        import _pysim
    except Exception as e:
        _pysim, import_error = None, e
    request = _read_frame(inp)
    if request is None:
        return 2
    try:
        if _pysim is None:
            raise import_error

        arrays = request.get("arrays") or {}
        run = _pysim.Run(
            request["config_file"],
            request["assignments"],
            request["trace"],
            addresses=_map(arrays.get("addresses")),
            kinds=_map(arrays.get("kinds")),
            sizes=_map(arrays.get("sizes")),
            array_name=request.get("array_name", "array"),
            trace_page=request.get("trace_page"),
            preset=request.get("preset"),
        )
        send(("start", run.record_count, run.describe, run.mode))
    except Exception as e:  # reported to the parent, which raises it there
        send(("error", type(e).__name__, str(e)))
        return 1

    def watch_parent():
        # "stop", or the parent gone (end of input): end the trace at the next batch.
        while True:
            message = _read_frame(inp)
            if message is None or message == "stop":
                _pysim.request_stop()
                return

    done = threading.Event()

    def report_progress():
        interval = request.get("progress_interval", 0.25)
        while not done.wait(interval):
            send(("progress", _pysim.records_read()))

    threading.Thread(target=watch_parent, daemon=True).start()
    if request.get("progress_interval"):
        threading.Thread(target=report_progress, daemon=True).start()
    try:
        result = run.execute()
    except Exception as e:
        done.set()
        send(("error", type(e).__name__, str(e)))
        return 1
    done.set()
    send(("result", result))
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the simulation's memory goes back to the system with the
    # process, and the helper threads may be blocked in a read.
    os._exit(status)
