"""Transcripts of what went over the wire, and readable views of bytes.

A Transcript records, in order and with times, what a test sent, what came
back, and what happened (connect, end of stream, reset, timeout). On
failure it is printed with printable text shown as text, everything else
escaped, and long data cut to a preview. diff_bytes() explains the first
difference between expected and received bytes, with a caret under it.
"""

import re
import threading
import time
from dataclasses import dataclass

PREVIEW_BYTES = 48     # bytes of a long message shown in a transcript line
MAX_EVENTS = 60        # transcript lines kept before summarising the rest
DIFF_CONTEXT = 24      # bytes shown on each side of a first difference

_ESCAPES = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x00: "\\0", 0x22: '\\"', 0x5C: "\\\\"}


def escape_byte(b):
    """One byte as text: itself when printable ASCII, else an escape."""
    if b in _ESCAPES:
        return _ESCAPES[b]
    if 0x20 <= b < 0x7F:
        return chr(b)
    return f"\\x{b:02x}"


def escape(data):
    return "".join(escape_byte(b) for b in data)


def _control_escape(match):
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Characters a terminal acts on rather than shows: C0 controls (but the tab),
# DEL, C1 controls, and the Unicode controls that reorder or hide text.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f"
                       "\u2028-\u202e\u2066-\u2069\ufeff]")


def printable(text):
    """text with every character a terminal would act on shown as an
    escape (ESC as \\x1b): what a program printed can neither recolour
    the report, move its cursor, nor hide a line of it."""
    return _CONTROLS.sub(_control_escape, text)


def preview(data, limit=PREVIEW_BYTES):
    """A quoted, escaped view of data, cut in the middle when long."""
    if len(data) <= limit:
        return f'"{escape(data)}"'
    head = escape(data[: limit // 2])
    tail = escape(data[-limit // 4:])
    return f'"{head}" ... "{tail}" ({len(data)} bytes)'


def mostly_binary(data):
    if not data:
        return False
    printable = sum(1 for b in data if 0x20 <= b < 0x7F or b in (0x0A, 0x0D, 0x09))
    return printable < 0.8 * len(data)


def hex_lines(data, start_offset=0, width=16):
    """Classic hex dump lines: offset, hex bytes, printable characters."""
    lines = []
    for i in range(0, len(data), width):
        chunk = data[i: i + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start_offset + i:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return lines


def diff_bytes(expected, actual):
    """Explains how actual differs from expected, or returns None if equal.

    Returns (kind, lines): kind is "missing bytes", "extra bytes" or
    "wrong bytes"; lines show a window around the first difference.
    """
    if expected == actual:
        return None
    common = min(len(expected), len(actual))
    first = next((i for i in range(common) if expected[i] != actual[i]), common)
    if first == common and len(actual) < len(expected):
        kind = "missing bytes"
        summary = (f"received only {len(actual)} of the {len(expected)} expected bytes; "
                   f"the first {len(actual)} are right, byte {first} onwards never came")
    elif first == common:
        kind = "extra bytes"
        summary = (f"the {len(expected)} expected bytes arrived, then "
                   f"{len(actual) - len(expected)} more that should not be there")
    else:
        kind = "wrong bytes"
        summary = (f"first difference at byte {first} (counting from 0): expected "
                   f"'{escape_byte(expected[first])}' (0x{expected[first]:02x}), got "
                   f"'{escape_byte(actual[first])}' (0x{actual[first]:02x})")
    lines = [summary]
    lines += _window_lines(expected, actual, first)
    return kind, lines


def _window_lines(expected, actual, first):
    lo = max(0, first - DIFF_CONTEXT)
    exp_win = expected[lo: first + DIFF_CONTEXT]
    act_win = actual[lo: first + DIFF_CONTEXT]
    where = f" (bytes {lo}..)" if lo else ""
    exp_text = escape(exp_win)
    act_text = escape(act_win)
    caret_col = len(escape(act_win[: first - lo]))
    lines = [
        f"expected{where}: \"{exp_text}\"" + (" ..." if len(expected) > first + DIFF_CONTEXT else ""),
        f"received{where}: \"{act_text}\"" + (" ..." if len(actual) > first + DIFF_CONTEXT else ""),
        " " * (len(f"received{where}: \"") + caret_col) + "^",
    ]
    if mostly_binary(exp_win) or mostly_binary(act_win):
        lines.append("expected, in hex:")
        lines += ["  " + line for line in hex_lines(exp_win, lo)]
        lines.append("received, in hex:")
        lines += ["  " + line for line in hex_lines(act_win, lo)]
    return lines


@dataclass
class Event:
    """One line of a transcript. Long data keeps only its two ends."""

    when: float
    channel: str
    verb: str
    note: str = ""
    size: int = 0
    pieces: int = 0
    head: bytes = b""
    tail: bytes = b""

    def absorb(self, data):
        self.size += len(data)
        self.pieces += 1
        if len(self.head) < PREVIEW_BYTES:
            self.head += data[: PREVIEW_BYTES - len(self.head)]
        self.tail = (self.tail + data)[-PREVIEW_BYTES // 2:]

    def text(self):
        line = f"{self.when:7.3f}s  {self.channel:<10} {self.verb}"
        if self.pieces:
            line += f" {self.size} byte{'s' if self.size != 1 else ''}"
            if self.pieces > 1:
                line += f" in {self.pieces} pieces"
            if self.size <= PREVIEW_BYTES:
                line += f": \"{escape(self.head)}\""
            else:
                line += f": \"{escape(self.head[: PREVIEW_BYTES // 2])}\" ... \"{escape(self.tail)}\""
        if self.note:
            line += f"  ({self.note})"
        return line


class Transcript:
    """Everything one test did on the wire, in order, with times.

    Back-to-back sends (or receives) on one channel are merged into one
    line that says how many pieces they came in.
    """

    def __init__(self):
        self._start = time.monotonic()
        self._lock = threading.Lock()   # peers in the grader add from threads
        self.events = []
        self.dropped = 0

    def add(self, channel, verb, data=None, note=""):
        with self._lock:
            self._add(channel, verb, data, note)

    def _add(self, channel, verb, data, note):
        last = self.events[-1] if self.events else None
        mergeable = verb in ("sent", "received") and data is not None
        if (mergeable and last is not None and last.channel == channel
                and last.verb == verb and last.note == note and last.pieces):
            last.absorb(data)
            return
        if len(self.events) >= MAX_EVENTS:
            self.dropped += 1
            return
        event = Event(time.monotonic() - self._start, channel, verb, note)
        if data is not None:
            event.absorb(data)
        self.events.append(event)

    def lines(self):
        out = [event.text() for event in self.events]
        if self.dropped:
            out.append(f"         ... {self.dropped} more events not shown")
        return out
