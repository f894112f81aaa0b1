"""Unit tests of grader/transcripts.py: how bytes are shown to students."""

from grader.transcripts import Transcript, diff_bytes, escape, hex_lines, preview


def test_escape_shows_text_as_text_and_the_rest_escaped():
    assert escape(b"GET / HTTP/1.1\r\n") == "GET / HTTP/1.1\\r\\n"
    assert escape(b"\x00\x7f\xff\t\"\\") == '\\0\\x7f\\xff\\t\\"\\\\'


def test_preview_cuts_long_data_in_the_middle():
    text = preview(b"a" * 1000)
    assert text.startswith('"aaaa') and "1000 bytes" in text and len(text) < 120


def test_equal_bytes_have_no_diff():
    assert diff_bytes(b"same", b"same") is None


def test_wrong_byte_is_located_with_a_caret():
    kind, lines = diff_bytes(b"hello world\n", b"hello worle\n")
    assert kind == "wrong bytes"
    assert "byte 10" in lines[0] and "'d' (0x64)" in lines[0] and "'e' (0x65)" in lines[0]
    received, caret = lines[2], lines[3]
    assert received[caret.index("^")] == "e"


def test_caret_accounts_for_escaped_bytes():
    kind, lines = diff_bytes(b"\r\n\r\nX", b"\r\n\r\nY")
    received, caret = lines[2], lines[3]
    assert received[caret.index("^")] == "Y"


def test_short_and_long_replies_are_missing_and_extra_bytes():
    assert diff_bytes(b"abcdef", b"abc")[0] == "missing bytes"
    assert diff_bytes(b"abc", b"abcdef")[0] == "extra bytes"


def test_binary_differences_get_a_hex_view():
    expected = bytes(range(64))
    actual = expected[:40] + b"\xee" + expected[41:]
    kind, lines = diff_bytes(expected, actual)
    assert kind == "wrong bytes"
    assert any("in hex" in line for line in lines)
    assert any(" ee " in line for line in lines)


def test_hex_lines_have_offsets():
    lines = hex_lines(b"ABC", start_offset=16)
    assert lines == ["00000010  41 42 43" + " " * 39 + "  |ABC|"]


def test_transcript_merges_pieces_and_keeps_both_ends():
    t = Transcript()
    t.add("conn 1", "connected", note="to 127.0.0.1:1")
    for piece in (b"he", b"llo", b"\n"):
        t.add("conn 1", "sent", piece)
    t.add("conn 1", "received", b"x" * 100 + b"END")
    lines = t.lines()
    assert len(lines) == 3
    assert 'sent 6 bytes in 3 pieces: "hello\\n"' in lines[1]
    assert "received 103 bytes" in lines[2] and "END" in lines[2]


def test_transcript_is_bounded():
    t = Transcript()
    for i in range(500):
        t.add(f"conn {i}", "connected")
    lines = t.lines()
    assert len(lines) < 100 and "more events not shown" in lines[-1]
