"""The first failure names the cause: sentences of the reports that once
pointed away from the bug, pinned by grading the bug and reading what
the report says about it."""

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import READY_LABS, ROOT, failed_tests, grade

LABS = {lab.number: lab for lab in READY_LABS}


def mutant(lab, name):
    with open(ROOT / "grader" / "mutants" / f"{lab.dir.name}.toml", "rb") as f:
        return next(m for m in tomllib.load(f)["mutant"] if m["name"] == name)


def graded_failure(lab_number, edit, test, tmp_path):
    """The record of test in the report on the reference with one edit
    (a catalogue mutant's name, or a dict with file, find, replace, or a
    list of such dicts)."""
    if lab_number not in LABS:
        pytest.skip(f"lab {lab_number} is not ready")
    lab = LABS[lab_number]
    edit = mutant(lab, edit) if isinstance(edit, str) else edit
    src = tmp_path / "src"
    shutil.copytree(lab.dir / "solution", src)
    for one in edit if isinstance(edit, list) else [edit]:
        target = Path(src) / one["file"]
        text = target.read_text()
        assert text.count(one["find"]) == 1, one["find"]
        target.write_text(text.replace(one["find"], one["replace"]))
    _, results, output = grade(lab, "-k", test, src_dir=src, out_dir=tmp_path / "out",
                               solution=True)
    assert results["grader_errors"] == 0, output
    failed = failed_tests(results)
    assert test in failed, output
    return failed[test], output


def section(record, start):
    return [s for s in record["sections"] if s["heading"].startswith(start)]


def test_a_server_that_reads_and_never_answers_is_said_to_have_read_all(tmp_path):
    # MSG_WAITALL: the server's recv() takes every byte and waits for more.
    record, output = graded_failure("01", "recv-waitall", "test_echo_one_byte_at_a_time",
                                    tmp_path)
    assert record["message"].endswith(
        "The server accept()ed this connection and read all that was sent on it, but sent "
        "nothing back"), output


def test_a_unix_domain_server_that_answers_one_request_per_recv_is_told_so(tmp_path):
    # Unix-domain connections get the kernel's sentence too (unix_diag),
    # after what came, which it does not interrupt.
    record, output = graded_failure("03", "one-request-per-recv", "test_split_and_coalesced",
                                    tmp_path)
    assert "; of what came: only the first " in \
        record["message"], output
    assert record["message"].endswith(
        "The server accept()ed this connection and read all that was sent on it, but sent "
        "no more than the above"), output


def test_format_who_shows_what_was_written(tmp_path):
    record, output = graded_failure("03", "who-uid-and-gid-swapped", "test_unit_format_who",
                                    tmp_path)
    assert ('should write "pid=4242 uid=1000 gid=100\\n" and return 26, but it wrote '
            '"pid=4242 uid=100 gid=1000\\n" and returned 26') in record["details"], output


def test_a_server_started_twice_is_named_apart_and_its_spin_is_named(tmp_path):
    record, output = graded_failure("03", "server-spins-on-eof", "test_cleanup_on_signals",
                                    tmp_path)
    headings = [s["heading"] for s in section(record, "last lines unix_server")]
    assert len(headings) == 2, output
    assert "(the first, which exited with status 0)" in headings[0], output
    assert "(the second" in headings[1], output
    assert "recv() returns 0" in record["message"], output


def test_a_client_spinning_on_end_of_stream_is_called_a_busy_loop(tmp_path):
    record, output = graded_failure("03", "client-spins-on-eof",
                                    "test_client_server_closes_early", tmp_path)
    assert "SIGXCPU" in record["message"] and "busy loop" in record["message"], output


def test_binary_bytes_in_a_unit_test_message_are_escaped(tmp_path):
    # send_all that moves its pointer by the wrong amount: the bytes that
    # arrive differ, and hold NULs.
    edit = {"file": "echo_util.c", "find": "		p += n;", "replace": "		p += n / 2;"}
    record, output = graded_failure("01", edit, "test_unit_send_all", tmp_path)
    assert "\\x00\\x01\\x02" in record["details"], output
    assert "\x00" not in record["details"] and "\x01" not in record["details"], output


def test_byte_checks_do_not_say_wrong_the(tmp_path):
    # A server that flips a bit of the first byte of each read: the bytes
    # differ at once, on every run.
    edit = {"file": "echo_server.c", "find": "send_all(fd, buf, (size_t)n)",
            "replace": "send_all(fd, (buf[0] ^= 1, buf), (size_t)n)"}
    record, output = graded_failure("01", edit, "test_echo_short_text", tmp_path)
    assert record["message"].startswith("echo of a line of text: byte 0 "), output
    assert "wrong the" not in output


def test_repro_of_a_client_test_carries_its_input(tmp_path):
    record, output = graded_failure("02", "client-drops-unterminated-last-line",
                                    "test_client_replies_in_order", tmp_path)
    repro = "\n".join(section(record, "try it by hand")[0]["lines"])
    assert "printf 'first line\\n\\n" in repro and "no newline after it' > input" in repro, \
        output
    assert any("had no newline" in line for line in section(record, "note")[0]["lines"]), output


def test_repro_of_a_server_test_carries_the_requests(tmp_path):
    record, output = graded_failure("03", "pong-sizeof-sends-the-nul", "test_ping", tmp_path)
    repro = "\n".join(section(record, "try it by hand")[0]["lines"])
    assert "printf 'PING\\n' | nc -N -U /tmp/lab03.sock" in repro, output


def test_a_deadline_restarted_by_stale_replies_is_named(tmp_path):
    record, output = graded_failure("02", "client-deadline-restarts-on-stale-reply",
                                    "test_client_stale_replies_do_not_delay_resend", tmp_path)
    assert "start the timeout again" in record["message"], output


def test_a_reply_printed_for_the_wrong_line_is_named_by_its_line(tmp_path):
    record, output = graded_failure("02", "client-no-sequence-check",
                                    "test_client_ignores_duplicate_replies", tmp_path)
    assert ('line 2 of the client\'s stdout is "alpha", the reply to line 1, where the reply '
            'to line 2 ("bravo") belongs') in record["message"], output
    assert "compare each reply's sequence number" in record["message"], output


def test_faults_are_named_when_they_were_injected(tmp_path):
    record, output = graded_failure("01", "server-echoes-with-one-send",
                                    "test_echo_survives_short_sends_and_eintr", tmp_path)
    assert "injected into echo_server" in record["message"], output


def test_faults_are_not_blamed_when_none_was_due(tmp_path):
    # The skeleton's server stops on its TODO before any fault is due.
    lab = LABS["01"]
    _, results, output = grade(lab, "-k", "test_echo_survives_short_sends_and_eintr",
                               src_dir=lab.dir, out_dir=tmp_path / "out")
    (record,) = results["tests"]
    assert record["status"] == "failed", output
    assert "injected" not in record["message"], output


def test_a_sequence_number_in_host_order_is_named_as_such(tmp_path):
    # The client writes the number as the machine holds it (little-endian
    # here): the test's server never sees request 2, and must not blame
    # the client's timeout for it.
    edit = [{"file": "udp_proto.c",
             "find": "	for (int i = UDP_PROTO_HEADER_LEN - 1; i >= 0; i--) {\n"
                     "		p[i] = (unsigned char)(seq & 0xff);\n"
                     "		seq >>= BITS_PER_BYTE;\n"
                     "	}",
             "replace": "	memcpy(p, &seq, sizeof(seq));"},
            {"file": "udp_proto.c",
             "find": "	for (int i = 0; i < UDP_PROTO_HEADER_LEN; i++)\n"
                     "		value = (value << BITS_PER_BYTE) | p[i];",
             "replace": "	memcpy(&value, p, sizeof(value));"}]
    record, output = graded_failure("02", edit, "test_client_stale_replies_do_not_delay_resend",
                                    tmp_path)
    assert "never received a request numbered 2" in record["message"], output
    assert "timeout again" not in record["message"], output


def test_client_reading_a_descriptor_with_recv_is_told_about_recvmsg(tmp_path):
    record, output = graded_failure("03", "client-plain-recv", "test_stretch_client_reads_fd",
                                    tmp_path)
    assert "with the file's descriptor attached (SCM_RIGHTS)" in record["message"], output
    assert "recv() and read() drop it" in record["message"], output


def test_who_with_uid_and_gid_swapped_says_so(tmp_path):
    record, output = graded_failure("03", "who-uid-and-gid-swapped", "test_who", tmp_path)
    assert "Its uid and gid are swapped" in record["message"], output


def test_a_client_spinning_until_killed_is_said_to_spin(tmp_path):
    record, output = graded_failure("05", "get-keeps-reading-after-eof",
                                    "test_client_server_ends_early", tmp_path)
    assert "http_get was running, or ready to run," in json.dumps(record), output
    assert "recv() returning 0 (the peer closed)" in json.dumps(record), output
