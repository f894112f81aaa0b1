"""The first failure names the cause: the sentences labs 04 to 06 give
for bugs whose first report used to point elsewhere, pinned on the
report itself (results.json), for a mutant of the reference each."""

import importlib.util
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, grade
from grader import labs
from grader.context import _cmocka_failures

MUTANTS_DIR = ROOT / "grader" / "mutants"


def mutant(lab, name):
    """The catalogue's mutant called name, for lab."""
    with open(MUTANTS_DIR / f"{lab.dir.name}.toml", "rb") as f:
        return next(m for m in tomllib.load(f)["mutant"] if m["name"] == name)


def graded_result(lab, name, test, tmp_path):
    """Grades the reference with mutant name applied, only test; returns
    that test's entry of results.json."""
    bug = mutant(lab, name)
    src = tmp_path / "src"
    shutil.copytree(lab.dir / "solution", src)
    target = Path(src) / bug["file"]
    text = target.read_text()
    assert text.count(bug["find"]) == 1, f"mutant {name} no longer applies"
    target.write_text(text.replace(bug["find"], bug["replace"]))
    _, results, output = grade(lab, "-k", test, src_dir=src, out_dir=tmp_path / "out",
                               solution=True)
    entries = [t for t in results["tests"] if t["name"] == test]
    assert len(entries) == 1, output
    assert entries[0]["status"] == "failed", output
    return entries[0]


LAB04, LAB05, LAB06 = (labs.get_lab(n) for n in ("04", "05", "06"))


# -- lab 04 ---------------------------------------------------------------------------

def test_cmocka_failures_keep_a_carriage_return():
    output = ('[ RUN      ] t\nERROR: message 3 should be 8 bytes "with\rcr\r", but it was '
              '7 bytes "with\rcr"\n[  FAILED  ] t\n')
    assert _cmocka_failures(output) == ('- message 3 should be 8 bytes "with\rcr\r", but it '
                                        'was 7 bytes "with\rcr"')


def test_lab04_unit_failure_shows_both_payloads_escaped(tmp_path):
    result = graded_result(LAB04, "line-decoder-strips-cr", "test_unit_line_decoder", tmp_path)
    assert ('message 3 should be 8 bytes "with\\rcr\\r", but it was 7 bytes "with\\rcr"'
            in result["details"]), result["details"]


def test_lab04_wrong_number_gets_no_sticky_packets_hint(tmp_path):
    result = graded_result(LAB04, "count-shared-by-connections", "test_round_trip", tmp_path)
    report = result["message"] + result["details"]
    assert "n counts the messages of this connection, from 1" in report, report
    assert "sticky" not in report, report


def test_lab04_glued_replies_get_the_sticky_packets_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAME_SERVER", "naive_server")
    _, results, output = grade(LAB04, "-k", "test_sticky_many_in_one_write",
                               out_dir=tmp_path / "out", solution=True)
    (result,) = results["tests"]
    assert result["status"] == "failed", output
    assert "TCP keeps no boundaries between sends" in result["details"], output


# -- lab 05 ---------------------------------------------------------------------------

def test_lab04_lost_reply_bytes_are_named_not_a_timeout(tmp_path):
    result = graded_result(LAB04, "server-sendmsg-once", "test_slow_reader_memory", tmp_path)
    # Where the lost bytes fall decides which: never the timeout they cause.
    assert result["kind"] in ("wrong bytes", "missing bytes"), result
    assert result["message"].startswith("the replies, once the client started reading: "), result


def test_lab05_head_never_ended_is_named_as_such(tmp_path):
    result = graded_result(LAB05, "head-never-ended", "test_answers_200", tmp_path)
    assert "the head never ended: after line 6 came \"<!DOCTYPE html>\"" in result["message"], \
        result["message"]
    assert "bare \\n" not in result["message"], result["message"]


def test_lab05_decoding_after_normalising_is_named(tmp_path):
    result = graded_result(LAB05, "decode-after-normalise", "test_path_traversal", tmp_path)
    message = result["message"]
    assert message.startswith("GET /%00/../notes.txt got 200 (/notes.txt): %00 decodes to a "
                              "NUL byte"), message
    assert "normalised before it was decoded" in message, message
    assert "outside the document root" not in message, message


def test_lab05_unit_failure_is_a_sentence_not_a_dump(tmp_path):
    result = graded_result(LAB05, "find-header-case-sensitive", "test_unit_request_parser",
                           tmp_path)
    details = result["details"]
    assert ('http_find_header("HOST") among the headers Host and content-length should '
            'return the first one') in details, details
    assert "0x" not in details and "test_http_parse.c:" not in details, details


# -- lab 06 ---------------------------------------------------------------------------

# (mutant, test, what its message must say, what it must not say)
LAB06_CAUSES = [
    ("fork-child-returns", "test_children_exit_cleanly[fork]",
     ["exited with status 1 after serving its connection", "_exit(0)", "Bad file descriptor"],
     []),
    # A child that exits 1 on its own did not return into the accept loop.
    ("fork-child-exits-with-failure", "test_children_exit_cleanly[fork]",
     ["called exit() or _exit() with status 1"], ["accept loop"]),
    ("fork-parent-keeps-socket", "test_idle_connections_time_out[fork]",
     ["parent process still holds its copy of the connection's socket",
      "the parent must close() the connected socket"], []),
    ("epoll-listener-one-accept-per-event", "test_burst_leaves_no_zombies_or_leaks[epoll]",
     ["in the server's listen queue, never accepted", "accept until accept() fails with EAGAIN"],
     []),
    # Lost after accept(), told from never accepted: no EPOLLET advice.
    ("thread-shared-job", "test_200_concurrent_clients[thread]",
     ["so this one was lost after accept()", "the next accept() overwrites"], ["EAGAIN"]),
    # The accepting thread serves the first client itself: the third
    # waits in the listen queue while the first dribbles.
    ("thread-sequential", "test_slow_clients_do_not_delay_others[thread]",
     ["The server never accept()ed this connection: it still waits in the listen queue"], []),
    ("pool-queue-ignores-head", "test_close_ends_the_connection[pool]",
     ["The server accept()ed this connection but never read the last",
      "the queue that hands connections to the workers loses one"], []),
]


@pytest.mark.parametrize("name,test,says,never", LAB06_CAUSES,
                         ids=[row[0] for row in LAB06_CAUSES])
def test_lab06_first_failure_names_the_cause(name, test, says, never, tmp_path):
    message = graded_result(LAB06, name, test, tmp_path)["message"]
    for words in says:
        assert words in message, message
    for words in never:
        assert words not in message, message


def test_lab06_coalesced_exits_name_the_zombies(tmp_path):
    result = graded_result(LAB06, "fork-waitpid-once",
                           "test_coalesced_child_exits_are_all_reaped[fork]", tmp_path)
    # Usually 11 (one reaped for the one signal); a second signal, when
    # the first child ended just before the stop took hold, leaves 10.
    found = re.search(r"\b(\d+) zombie children of them remain", result["message"])
    assert found and 10 <= int(found.group(1)) <= 11, result["message"]
    assert "waitpid(-1, &status, WNOHANG) in a loop" in result["message"], result["message"]


@pytest.fixture(scope="module")
def lab06_tests():
    path = LAB06.dir / "tests" / "test_conc.py"
    spec = importlib.util.spec_from_file_location("lab06_test_conc", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab06_counts_agree_with_their_nouns(lab06_tests):
    assert lab06_tests.plural(1, "zombie child", "zombie children") == "1 zombie child"
    assert lab06_tests.plural(2, "zombie child", "zombie children") == "2 zombie children"


def test_lab06_error_lines_are_those_with_an_errno_text(lab06_tests):
    text = ("conc_server: accept: Bad file descriptor\nclient connected\n"
            "conc_server: child 12 exited with status 1\n")
    assert lab06_tests.error_lines(text) == ["conc_server: accept: Bad file descriptor",
                                             "conc_server: child 12 exited with status 1"]
