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
# An explicit anchor: the Chinese pages put the English heading's anchor
# above each heading, so that one link works in either language.
ANCHOR_ID = re.compile(r'<a id="([^"]+)"></a>')


def anchors(markdown_path):
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to '-'."""
    found = set()
    in_code = False
    for line in markdown_path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if m and not in_code:
            text = re.sub(r"[`*_]", lambda c: "_" if c.group(0) == "_" else "", m.group(1).lower())
            slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            found.add(slug)
        if not in_code:
            found.update(ANCHOR_ID.findall(line))
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
