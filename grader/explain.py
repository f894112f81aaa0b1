"""The first broken rule, in one sentence, when bytes on the wire are wrong.

A diff says where bytes differ; a student needs to know which rule the
program broke there: a line that must end in \\r\\n ends in \\n, a header
line has no ':', the body is shorter than its Content-Length. Every
function here takes bytes (what was expected and what came, or the raw
bytes of an HTTP response) and returns one sentence, or None when it
finds nothing to say. Byte offsets count from 0, and every sentence that
gives one says so.
"""

import re

from .transcripts import escape, escape_byte, preview

CRLF = b"\r\n"
HEAD_SHOWN = 40        # bytes of a bad line quoted in a sentence
# RFC 9110 section 5.6.2: a field name is a token.
TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9112 section 4: HTTP-version SP 3DIGIT SP [ reason-phrase ]
STATUS_LINE = re.compile(rb"^HTTP/[0-9]\.[0-9] [0-9]{3} [\t\x20-\x7e\x80-\xff]*$")
FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _byte(b):
    """'\\n' (0x0a): one byte as text and in hex."""
    return f"'{escape_byte(b)}' (0x{b:02x})"


def _count(n, what="byte"):
    return f"{n} {what}{'' if n == 1 else 's'}"


def _first_difference(expected, actual):
    common = min(len(expected), len(actual))
    return next((i for i in range(common) if expected[i] != actual[i]), common)


# -- byte streams -------------------------------------------------------------

def explain_bytes(expected, actual, stream_ended=False):
    """(kind, sentence) naming how actual breaks from expected, or None if
    they are equal. kind is "missing bytes", "extra bytes" or "wrong bytes"."""
    if expected == actual:
        return None
    first = _first_difference(expected, actual)
    for rule in (_cut_short, _extra_at_end, _line_ending, _gap, _insertion):
        found = rule(expected, actual, first, stream_ended)
        if found:
            return found
    return "wrong bytes", _wrong_byte(expected, actual, first)


def _cut_short(expected, actual, first, stream_ended):
    if first != len(actual) or len(actual) >= len(expected):
        return None
    closed = ", then the program closed the connection" if stream_ended else ""
    missing = len(expected) - len(actual)
    if not actual:
        return "missing bytes", f"none of the {len(expected)} expected bytes came{closed}"
    return "missing bytes", (f"only the first {len(actual)} of the {len(expected)} expected "
                             f"bytes came ({missing} missing at the end){closed}")


def _extra_at_end(expected, actual, first, stream_ended):
    if first != len(expected) or len(actual) <= len(expected):
        return None
    extra = actual[len(expected):]
    if len(extra) == 1:
        return "extra bytes", (f"the {len(expected)} expected bytes came, then an extra byte "
                               f"{_byte(extra[0])} after them")
    return "extra bytes", (f"the {len(expected)} expected bytes came, then "
                           f"{len(extra)} extra bytes after them: {preview(extra)}")


def _line_ending(expected, actual, first, stream_ended):
    line = expected[:first].count(b"\n") + 1
    if expected[first:first + 2] == CRLF and actual[first:first + 1] == b"\n":
        every = ""
        if expected.count(CRLF) > 1 and actual == expected.replace(CRLF, b"\n"):
            every = " (every \\r\\n came as a bare \\n)"
        return "wrong bytes", (f"line {line} must end in \\r\\n; yours ends in a bare \\n at "
                               f"byte {first} (counting from 0){every}")
    if expected[first:first + 1] == b"\n" and actual[first:first + 2] == CRLF:
        return "wrong bytes", (f"line {line} must end in a bare \\n; yours has a \\r before it, "
                               f"at byte {first} (counting from 0)")
    return None


def _gap(expected, actual, first, stream_ended):
    """Bytes left out in the middle: the rest arrived, shifted."""
    k = len(expected) - len(actual)
    if k <= 0 or expected[first + k:] != actual[first:]:
        return None
    return "missing bytes", (f"{_count(k)} missing at byte {first} (counting from 0): bytes "
                             f"{first} to {first + k - 1} of the {len(expected)} expected never "
                             "came, the ones after them did")


def _insertion(expected, actual, first, stream_ended):
    """Bytes added in the middle: the rest arrived, shifted."""
    k = len(actual) - len(expected)
    if k <= 0 or actual[first + k:] != expected[first:]:
        return None
    added = actual[first:first + k]
    repeat = " (a repeat of the bytes just before them)" if actual[first - k:first] == added else ""
    shown = _byte(added[0]) if k == 1 else preview(added)
    return "extra bytes", (f"{_count(k, 'extra byte')} {shown} at byte {first} (counting from "
                           f"0){repeat}; the bytes around them are right")


def _wrong_byte(expected, actual, first):
    sentence = (f"byte {first} (counting from 0) should be {_byte(expected[first])} "
                f"but is {_byte(actual[first])}")
    if len(expected) == len(actual):
        differ = sum(1 for a, b in zip(expected, actual) if a != b)
        if differ > 1:
            sentence += f"; {differ} of the {len(expected)} bytes differ"
    else:
        sentence += f"; {len(actual)} bytes came, {len(expected)} were expected"
    return sentence


# -- HTTP responses -----------------------------------------------------------

def _head_lines(raw):
    """(lines, end): each line of the head at the start of raw as
    (offset, bytes without its \\n); end is the offset after the empty
    line, or None while the head is incomplete."""
    lines = []
    pos = 0
    while True:
        lf = raw.find(b"\n", pos)
        if lf < 0:
            return lines, None
        lines.append((pos, raw[pos:lf]))
        pos = lf + 1
        if raw[lines[-1][0]:lf].rstrip(b"\r") == b"" and len(lines) > 1:
            return lines, pos


def head_length(raw):
    """The length of the complete head at the start of raw, or None."""
    return _head_lines(raw)[1]


def response_head_problem(raw):
    """The first rule of RFC 9112 that the response head at the start of
    raw breaks, or None if it keeps them all so far."""
    if not raw:
        return None
    if not raw.startswith(b"HTTP/"[:len(raw)]):
        return _not_a_status_line(raw)
    lines, _ = _head_lines(raw)
    for number, (offset, line) in enumerate(lines, start=1):
        problem = _line_problem(number, offset, line)
        if problem:
            return problem
    return _content_length_problem(lines)


def _not_a_status_line(raw):
    if raw[0] in b"\r\n":
        blank = raw[:len(raw) - len(raw.lstrip(b"\r\n"))]
        return (f"an extra {preview(blank)} came before the status line: a response starts "
                "with 'HTTP/1.1'; those bytes were left over after the previous message")
    return (f"a response must start with its status line 'HTTP/1.1 CODE REASON'; this one "
            f"starts with {preview(raw[:HEAD_SHOWN])} (left over from the previous response? "
            "a body longer than its Content-Length, or a body after a HEAD)")


def _line_name(number, line):
    if number == 1:
        return "the status line"
    if line.rstrip(b"\r") == b"":
        return "the empty line that ends the head"
    return f"line {number} of the head (the status line is line 1)"


def _header_shaped(text):
    """Does text look like a header line, 'Name: value'?"""
    field, colon, _ = text.partition(b":")
    return bool(colon) and TOKEN.match(field) is not None


def _line_problem(number, offset, line):
    name = _line_name(number, line)
    end = offset + len(line)
    if (number > 1 and not line.endswith(b"\r") and line and line[0] not in b" \t"
            and not _header_shaped(line)):
        # Not a header, and ended as a body's text is: the head went on
        # into the body without the empty line that ends it.
        return (f"the head never ended: after line {number - 1} came "
                f"{preview(line[:HEAD_SHOWN])}, which is no header line (the body's first "
                "line?); a head must end with an empty line, \\r\\n right after the last "
                "header line's \\r\\n, before the body")
    if not line.endswith(b"\r"):
        return (f"{name} must end in \\r\\n; yours ends in a bare \\n at byte {end} of the "
                "response (counting from 0)")
    text = line[:-1]
    cr = text.find(b"\r")
    if cr >= 0:
        return (f"{name} has a bare \\r at byte {offset + cr} of the response (counting from 0): "
                "\\r may only come right before the \\n that ends a line")
    if number == 1:
        return _status_line_problem(text)
    if text == b"":
        return None
    shown = preview(text[:HEAD_SHOWN])
    if text[0] in b" \t":
        return (f"{name} starts with whitespace ({shown}): a header line must start with its "
                "name; continuation lines are not allowed (RFC 9112 section 5.2)")
    if b":" not in text:
        return f"header lines must be 'Name: value'; {name} ({shown}) has no ':'"
    field, value = text.split(b":", 1)
    if not TOKEN.match(field):
        return (f"{name} ({shown}): the header name before ':' must be one word of letters, "
                "digits and '-', with no space before the ':'")
    bad = FIELD_VALUE_BAD.search(value)
    if bad:
        return (f"{name}: the value of {field.decode('latin-1')} holds the control byte "
                f"{_byte(bad.group()[0])}")
    return None


def _status_line_problem(text):
    if STATUS_LINE.match(text):
        return None
    shown = preview(text[:HEAD_SHOWN])
    if re.match(rb"^HTTP/[0-9]\.[0-9] [0-9]{3}$", text):
        return (f"the status line ({shown}) needs a space after the status code, even when "
                "the reason phrase is empty: 'HTTP/1.1 200 OK'")
    if not re.match(rb"^HTTP/[0-9]\.[0-9] ", text):
        return (f"the status line ({shown}) must start with the version, like 'HTTP/1.1', "
                "then one space")
    return (f"the status line ({shown}) must be 'HTTP/1.1 CODE REASON', with a 3-digit "
            "code and single spaces")


def _content_length_problem(lines):
    values = [text[:-1].split(b":", 1)[1].strip(b" \t") for _, text in lines[1:]
              if text[:-1].split(b":", 1)[0].lower() == b"content-length"]
    for value in values:
        if not value.isdigit():
            return (f"Content-Length must be a number of bytes (digits only); yours is "
                    f"{preview(value)}")
    if len({int(v) for v in values}) > 1:
        shown = " and ".join(v.decode() for v in values)
        return f"Content-Length appears {len(values)} times with different values ({shown})"
    return None


def content_length(raw):
    """The response's Content-Length as a number, or None."""
    lines, end = _head_lines(raw)
    if end is None:
        return None
    for _, text in lines[1:]:
        field, _, value = text.rstrip(b"\r").partition(b":")
        if field.lower() == b"content-length" and value.strip(b" \t").isdigit():
            return int(value.strip(b" \t"))
    return None


def response_problem(raw, total=None, closed=False, waited=None):
    """The first broken rule in a response whose bytes so far are raw.

    total: how many bytes of it came (raw may keep only the start);
    closed: the connection has closed; waited: seconds the test waited
    for the rest. None when no rule is broken (the response may just be
    incomplete, or the bytes right but the wait too short)."""
    total = len(raw) if total is None else total
    problem = response_head_problem(raw)
    if problem:
        return problem
    after = "before the connection closed" if closed else (
        f"in {waited:g} s" if waited is not None else "so far")
    end = head_length(raw)
    if end is None:
        if total == 0:
            return f"no byte of the response came {after}" if (closed or waited) else None
        if closed or waited is not None:
            return (f"the head never ended: {total} bytes came {after}, and a head must end "
                    "with an empty line (\\r\\n right after the last header's \\r\\n)")
        return None
    length = content_length(raw)
    body = total - end
    if length is not None and body < length and (closed or waited is not None):
        return f"Content-Length says {length} but {body} body bytes came {after}"
    return None


def extra_after_response(leftover, raw_response):
    """A sentence for bytes that came after a complete response."""
    length = content_length(raw_response)
    said = f" (its Content-Length said {length})" if length is not None else ""
    what = (f"an extra byte {_byte(leftover[0])}" if len(leftover) == 1
            else f"{len(leftover)} extra bytes {preview(leftover)}")
    return f"{what} came after the end of the response{said}"


def describe_head(raw):
    """The head at the start of raw, escaped, one line each, for details."""
    lines, _ = _head_lines(raw[:8192])
    return [escape(text + b"\n") for _, text in lines]
