"""Every docs hint a test prints, and every link in the markdown files,
leads to a file and heading that exist: a student who follows "read:"
must land on the right section."""

import re

import pytest

from conftest import ROOT

HINT = re.compile(r'doc="([^"]+)"')
LINK = re.compile(r"\]\(([^)\s]+)\)")


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
