"""Fault injection: what a test asks for, and the shim that does it.

shim/faultinject.c (see it for what it does) is built once per grader,
from the grader's own source into the grader's private folder, never by
a submission's build, and shown read-only to the programs it is loaded
into (LD_PRELOAD). Its log comes back over a pipe.
"""

import os
import subprocess
import threading
from dataclasses import dataclass

from .i18n import mark, tr
from .failures import GradeFailure

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim", "faultinject.c")
KIND_WORDS = {"s": mark("short transfers"), "i": "EINTR",
              "a": mark("EAGAIN on non-blocking sockets")}
SHOWN_FAULTS = 8        # fault lines quoted in a report


@dataclass
class Faults:
    """Faults to inject into a program: rate (percent of its socket
    calls), kinds (s short, i EINTR, a EAGAIN), seed (the test's, unless
    given)."""

    rate: int = 30
    kinds: str = "si"
    seed: int = None

    def env(self, log_fd, shim):
        return {"LD_PRELOAD": shim, "FAULT_SEED": str(self.seed or 0),
                "FAULT_RATE": str(self.rate), "FAULT_KINDS": self.kinds,
                "FAULT_LOG_FD": str(log_fd)}

    def describe(self):
        kinds = ", ".join(tr(KIND_WORDS[k]) for k in self.kinds if k in KIND_WORDS)
        return tr("{rate} percent of its socket calls ({kinds}), seed {seed}", rate=self.rate,
                  kinds=kinds, seed=self.seed)


_lock = threading.Lock()
_built = []


def shim(private_dir):
    """The path of the built shim (built on first use)."""
    with _lock:
        if not _built:
            target = os.path.join(private_dir, "faultinject.so")
            done = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", target, SOURCE, "-ldl"],
                                  capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise GradeFailure("grader error", tr("could not build the fault-injection shim"),
                                   done.stderr[-2000:])
            os.chmod(target, 0o755)
            _built.append(target)
        return _built[0]


def summary(log_text):
    """(faults injected, lines to quote, {pid: status} of reaped children,
    exits) from the shim's log.

    The log arrives on a pipe whose number is in the program's own
    environment, so the program can write anything into it: a line that
    does not parse is left out, never trusted.
    """
    faults, reaped, exits = [], {}, []
    for line in log_text.splitlines():
        word, _, rest = line.partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split() if "=" in part)
        if word == "fault":
            faults.append(line[len("fault "):])
        elif word == "reaped":
            pid = _as_pid(fields.get("pid"))
            if pid is not None:
                reaped[pid] = line
        elif word == "exit":
            exits.append(fields)
    return faults, reaped, exits


def _as_pid(text):
    """A process id written by the shim, or None for anything else."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    return int(text)
