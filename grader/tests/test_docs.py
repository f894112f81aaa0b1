"""Every docs hint a test prints, and every link in the markdown files,
leads to a file and heading that exist: a student who follows "read:"
must land on the right section."""

import re
import shutil
import subprocess

import pytest

from conftest import ROOT

HINT = re.compile(r'doc="([^"]+)"')
LINK = re.compile(r"\]\(([^)\s]+)\)")


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
ANCHOR = re.compile(r'^<a id="([^"]+)"></a>\s*$')


def slug(heading_text):
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", lambda c: "_" if c.group(0) == "_" else "", heading_text.lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def prose_lines(markdown_path):
    """(line number, line) of every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(markdown_path.read_text().splitlines(), 1):
        if fence is None:
            opening = FENCE.match(line)
            if opening:
                fence = opening.group("fence")
                continue
            yield number, line
        elif line.strip() == fence:
            fence = None


def headings(markdown_path):
    """(line number, level, text, anchor) of each heading, in order; a
    repeated anchor gets -1, -2 ... as on GitHub."""
    found, seen = [], {}
    for number, line in prose_lines(markdown_path):
        m = HEADING.match(line)
        if m:
            anchor = slug(m.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.append((number, len(m.group(1)), m.group(2), f"{anchor}-{count}" if count else anchor))
    return found


def anchors(markdown_path):
    """The anchors a link may name: every heading's, and every <a id="...">
    (the Chinese twins carry the English headings' anchors that way)."""
    found = {anchor for _, _, _, anchor in headings(markdown_path)}
    for _, line in prose_lines(markdown_path):
        m = ANCHOR.match(line)
        if m:
            found.add(m.group(1))
    return found


def check_target(base_dir, target, where):
    path_part, _, anchor = target.partition("#")
    path = (base_dir / path_part).resolve() if path_part else None
    assert path is None or path.exists(), f"{where}: {target} -> no such file {path}"
    if anchor and path is not None and path.suffix == ".md":
        assert anchor in anchors(path), f"{where}: {target} -> no heading #{anchor} in {path_part}"


def hint_cases():
    for test_file in sorted(ROOT.glob("labs/*/tests/test_*.py")):
        for doc in HINT.findall(test_file.read_text()):
            yield pytest.param(test_file, doc, id=f"{test_file.parent.parent.name}:{doc}")


@pytest.mark.parametrize("test_file,doc", list(hint_cases()))
def test_docs_hint_resolves(test_file, doc):
    # Hints name docs/... implicitly, or labs/... from the top folder.
    base = ROOT if doc.startswith(("docs/", "labs/")) else ROOT / "docs"
    check_target(base, doc, test_file.relative_to(ROOT))


def markdown_files():
    # Templates are rendered into handouts; test_handout checks the result.
    return [p for p in sorted(ROOT.glob("**/*.md"))
            if p.relative_to(ROOT).parts[0] not in ("build", "dist")
            and "templates" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("md", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_links_resolve(md):
    check_links(md, ROOT)


def check_links(md, root):
    for target in LINK.findall(md.read_text()):
        if re.match(r"^[a-z]+:", target):      # http:, mailto: ...
            continue
        if target.startswith("#"):
            assert target[1:] in anchors(md), f"{md.relative_to(root)}: no heading {target}"
            continue
        check_target(md.parent, target, md.relative_to(root))


# -- reading maps ------------------------------------------------------------------
#
# The table under a chapter's "Reading map" names lab steps as the handout
# titles them: "lab 02, step 1 — The echo server" for the handout's
# "## Step 1 — The echo server", "实验 02，第 1 步：回显服务器" for the
# Chinese handout's "## 第 1 步：回显服务器". A handout that renumbers or
# renames its steps must take the maps of both languages along.

MAP_START = re.compile(r'^(## Reading map|<a id="reading-map"></a>)\s*$')
MAP_STEP = re.compile(r"^\|\s*(?:lab (?P<en>\d\d), |实验 (?P<zh>\d\d)，)(?P<title>[^|]*?)\s*\|")
# What a handout's heading may add after the title: "(15 minutes, no code)".
TRAILING_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]$")


def reading_map_pages():
    return (sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))
            + sorted((ROOT / "docs" / "zh").glob("[0-9][0-9]-*.md")))


def reading_map_table(md):
    """(line number, line) of each body row of the table under the page's
    "Reading map" heading (the header and |---| rows left out)."""
    rows, inside, titles = [], False, 0
    for number, line in prose_lines(md):
        if not inside:
            inside = MAP_START.match(line) is not None
            titles = 1 if line.startswith("#") else 0
            continue
        if line.startswith("#"):
            titles += 1         # the Chinese "## 阅读地图" under its <a id>
        if not line.startswith("|"):
            if rows or titles > 1:
                break
            continue
        rows.append((number, line))
    return rows[2:]


def reading_map_rows(md):
    """(line number, lab number, step title, Chinese?) of each row of the
    page's reading map that names a lab's step."""
    rows = []
    for number, line in reading_map_table(md):
        m = MAP_STEP.match(line)
        if m:
            rows.append((number, m.group("en") or m.group("zh"), m.group("title"),
                         m.group("zh") is not None))
    return rows


def handout_steps(lab, chinese):
    """The level-2 titles of lab NN's handout (README.zh.md when chinese),
    lower-cased, without a trailing parenthesised note."""
    found = sorted(ROOT.glob(f"labs/{lab}-*/README{'.zh' if chinese else ''}.md"))
    if not found:
        return None
    return {TRAILING_NOTE.sub("", text).lower()
            for _, level, text, _ in headings(found[0]) if level == 2}


@pytest.mark.parametrize("md", reading_map_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_reading_map_names_the_handouts_steps(md):
    problems = []
    for number, lab, title, chinese in reading_map_rows(md):
        steps = handout_steps(lab, chinese)
        handout = f"labs/{lab}-*/README{'.zh' if chinese else ''}.md"
        if steps is None:
            problems.append(f"line {number}: no handout {handout}")
        elif title.lower() not in steps:
            problems.append(f"line {number}: {title!r} is not a step of {handout}")
    assert not problems, (f"{md.relative_to(ROOT)}: its reading map names steps the handout "
                          "does not have (copy the handout's step titles):\n" + "\n".join(problems))


def test_reading_maps_are_found():
    """The check above sees the maps: every chapter's map names steps."""
    empty = [str(md.relative_to(ROOT)) for md in reading_map_pages()
             if not reading_map_rows(md)]
    assert not empty, "no lab step found in the reading map of " + ", ".join(empty)


# -- code blocks in the notes ------------------------------------------------------
#
# A ```c block is a complete program: it must compile and link with
# CODE_FLAGS. A block that is not marks itself with an HTML comment on the
# line before it (blank lines between are fine), as docs/README.md explains:
#   <!-- fragment -->            a piece of a program: not compiled
#   <!-- fragment: compiles -->  whole functions with their #includes, no
#                                main(): compiled (gcc -c), not linked
# A ```python block must be valid Python 3 (compiled, not run).

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<text>fragment.*?)\s*-->\s*$")
MARKERS = ("fragment", "fragment: compiles")
CODE_FLAGS = ["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror"]


def code_blocks(md_path):
    """(first line number, language, marker or None, code) of each fenced block."""
    lines = md_path.read_text().splitlines()
    blocks, marker, i = [], None, 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            mark = MARKER.match(lines[i])
            if mark:
                marker = mark.group("text")
            elif lines[i].strip():
                marker = None
            i += 1
            continue
        indent, close = fence.group("indent"), fence.group("fence")
        body, j = [], i + 1
        while j < len(lines) and lines[j].strip() != close:
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        language = fence.group("info").split()[0] if fence.group("info").split() else ""
        blocks.append((i + 1, language, marker, "\n".join(body) + "\n"))
        marker, i = None, j + 1
    return blocks


def doc_code_cases(language):
    for md in sorted((ROOT / "docs").glob("*.md")):
        for line, lang, marker, code in code_blocks(md):
            if lang == language:
                yield pytest.param(md, line, marker, code, id=f"{md.name}:{line}")


@pytest.mark.parametrize("md,line,marker,code", list(doc_code_cases("c")))
def test_c_block_compiles(md, line, marker, code, tmp_path):
    where = f"docs/{md.name}, the ```c block at line {line}"
    assert marker is None or marker in MARKERS, (
        f"{where}: unknown marker <!-- {marker} -->; use one of "
        + ", ".join(f"<!-- {m} -->" for m in MARKERS))
    if marker == "fragment":
        return
    compiler = shutil.which("gcc")
    if compiler is None:
        pytest.skip("gcc is not installed")
    source = tmp_path / "block.c"
    source.write_text(code)
    if marker == "fragment: compiles":
        argv = [compiler, *CODE_FLAGS, "-Wno-unused-function", "-c", str(source),
                "-o", str(tmp_path / "block.o")]
    else:
        argv = [compiler, *CODE_FLAGS, "-pthread", str(source), "-o", str(tmp_path / "block")]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, (
        f"{where} does not compile as "
        + ("whole functions" if marker else "a complete program")
        + f" ({' '.join(argv[1:])}); fix it, or mark it as a fragment "
        "(docs/README.md, \"Code in the notes\"):\n" + run.stderr)


@pytest.mark.parametrize("md,line,marker,code", list(doc_code_cases("python")))
def test_python_block_compiles(md, line, marker, code):
    try:
        compile(code, f"docs/{md.name}:{line}", "exec")
    except SyntaxError as exc:
        pytest.fail(f"docs/{md.name}, the ```python block at line {line} is not valid "
                    f"Python 3: {exc}")
