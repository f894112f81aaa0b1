"""The Chinese edition keeps step with the English one (docs/README.md,
"The notes in Chinese"): every page that must have a Chinese twin has one;
a twin has its English page's headings, each under an <a id> line with the
English heading's anchor, its code blocks byte for byte, and its reading
map's rows (the same steps, sections and minutes); every link
in a twin resolves, and goes to the Chinese twin of a page that has one;
each page of a pair links to the other in the line under its title.
Reads files only: no build, no grading."""

import difflib
import os
import re
from pathlib import Path

import pytest

from conftest import ROOT
from test_docs import (ANCHOR, LINK, MAP_STEP, TRAILING_NOTE, anchors, check_target,
                       code_blocks, headings, reading_map_table)

HOW = 'see docs/README.md, "The notes in Chinese"'
# One page in both languages: it has no twin.
BILINGUAL = {Path("docs/glossary.md")}
SWITCH_TO_CHINESE = "*[中文版]({})*"
SWITCH_TO_ENGLISH = "*[English]({})*"
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def must_have_twin():
    """The English pages that must have a Chinese twin: every page of
    docs/ (but the glossary), the top README and every lab's handout."""
    docs = [p.relative_to(ROOT) for p in sorted((ROOT / "docs").glob("*.md"))]
    labs = [p.relative_to(ROOT) for p in sorted(ROOT.glob("labs/[0-9][0-9]-*/README.md"))]
    return [Path("README.md"), *[p for p in docs if p not in BILINGUAL], *labs]


def twin_of(english):
    """docs/NAME.md -> docs/zh/NAME.md; any other DIR/README.md -> DIR/README.zh.md."""
    if english.parent == Path("docs"):
        return Path("docs/zh") / english.name
    return english.with_name("README.zh.md")


def english_of(chinese):
    if chinese.parent == Path("docs/zh"):
        return Path("docs") / chinese.name
    return chinese.with_name("README.md")


def chinese_pages():
    found = sorted((ROOT / "docs" / "zh").glob("*.md")) + sorted(ROOT.glob("**/README.zh.md"))
    return [p.relative_to(ROOT) for p in found
            if p.relative_to(ROOT).parts[0] not in ("build", "dist")]


def pairs():
    """(English, Chinese) of every twin that exists."""
    return [(english_of(zh), zh) for zh in chinese_pages() if (ROOT / english_of(zh)).is_file()]


PAIRS = pairs()
PAIR_IDS = [str(zh) for _, zh in PAIRS]


@pytest.mark.parametrize("english", must_have_twin(), ids=str)
def test_every_page_has_its_chinese_twin(english):
    twin = twin_of(english)
    assert (ROOT / twin).is_file(), (
        f"missing twin: {twin}, the Chinese of {english}, does not exist yet ({HOW})")


def test_every_chinese_page_has_an_english_page():
    orphans = [f"{zh} (no {english_of(zh)})" for zh in chinese_pages()
               if not (ROOT / english_of(zh)).is_file()]
    assert not orphans, "Chinese pages without an English page: " + ", ".join(orphans)


@pytest.mark.parametrize("english,chinese", PAIRS, ids=PAIR_IDS)
def test_twin_has_the_same_headings_and_anchors(english, chinese):
    ours, theirs = headings(ROOT / english), headings(ROOT / chinese)
    lines = (ROOT / chinese).read_text().splitlines()
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(theirs)} headings, but {english} has {len(ours)}")
    for (_, level, text, anchor), (number, zh_level, zh_text, _) in zip(ours, theirs):
        where = f"{chinese}:{number} ({zh_text!r}, where {english} has {text!r})"
        if zh_level != level:
            problems.append(f"{where}: level {zh_level}, not {level}")
        above = ANCHOR.match(lines[number - 2]) if number >= 2 else None
        if above is None:
            problems.append(f'{where}: the line above must be <a id="{anchor}"></a>')
        elif above.group(1) != anchor:
            problems.append(f'{where}: <a id="{above.group(1)}"> should be <a id="{anchor}">')
    assert not problems, f"{chinese} is out of step with {english} ({HOW}):\n" + \
        "\n".join(problems[:20])


@pytest.mark.parametrize("english,chinese", PAIRS, ids=PAIR_IDS)
def test_twin_has_the_same_code_blocks(english, chinese):
    ours, theirs = code_blocks(ROOT / english), code_blocks(ROOT / chinese)
    for index, (mine, twin) in enumerate(zip(ours, theirs), 1):
        if mine[1:] != twin[1:]:
            diff = "\n".join(list(difflib.unified_diff(
                mine[3].splitlines(), twin[3].splitlines(), str(english), str(chinese),
                lineterm=""))[:12])
            pytest.fail(f"code block {index} ({english}:{mine[0]}, {chinese}:{twin[0]}) differs: "
                        f"language {mine[1]!r}/{twin[1]!r}, marker {mine[2]!r}/{twin[2]!r}; "
                        f"copy it byte for byte ({HOW})\n{diff}")
    assert len(ours) == len(theirs), (
        f"{chinese} has {len(theirs)} code blocks, {english} has {len(ours)} ({HOW})")


def handout_step_anchor(lab, title, chinese):
    """The anchor of the heading titled `title` in lab NN's handout (for the
    Chinese handout, the English anchor of its <a id> line), or None."""
    found = sorted(ROOT.glob(f"labs/{lab}-*/README{'.zh' if chinese else ''}.md"))
    if not found:
        return None
    lines = found[0].read_text().splitlines()
    for number, level, text, anchor in headings(found[0]):
        if level == 2 and TRAILING_NOTE.sub("", text).lower() == title.lower():
            above = ANCHOR.match(lines[number - 2]) if chinese and number >= 2 else None
            return above.group(1) if above else (None if chinese else anchor)
    return None


def map_row_facts(line):
    """What a reading-map row says in any language: the handout step it
    names (by anchor), the sections it links, and its minutes."""
    step = MAP_STEP.match(line)
    anchor = None
    if step:
        chinese = step.group("zh") is not None
        anchor = handout_step_anchor(step.group("en") or step.group("zh"), step.group("title"),
                                     chinese) or f"unknown step {step.group('title')!r}"
    minutes = line.rstrip().rstrip("|").rsplit("|", 1)[-1].strip()
    return {"step": anchor, "sections": LINK.findall(line), "minutes": minutes}


MAP_PAIRS = [(e, z) for e, z in PAIRS if reading_map_table(ROOT / e)]


@pytest.mark.parametrize("english,chinese", MAP_PAIRS, ids=[str(z) for _, z in MAP_PAIRS])
def test_twin_reading_map_has_the_english_rows(english, chinese):
    ours, theirs = reading_map_table(ROOT / english), reading_map_table(ROOT / chinese)
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(theirs)} rows, but {english} has {len(ours)}")
    for (number, mine), (zh_number, twin) in zip(ours, theirs):
        want, got = map_row_facts(mine), map_row_facts(twin)
        for key in want:
            if want[key] != got[key]:
                problems.append(f"{chinese}:{zh_number}: {key} {got[key]!r}, "
                                f"where {english}:{number} has {want[key]!r}")
    assert not problems, (f"the reading map of {chinese} is out of step with {english}'s "
                          f"(same rows, steps, sections and minutes; {HOW}):\n" +
                          "\n".join(problems[:20]))


@pytest.mark.parametrize("english,chinese", PAIRS, ids=PAIR_IDS)
def test_twin_links_resolve_and_stay_in_chinese(english, chinese):
    problems = []
    for target in LINK.findall((ROOT / chinese).read_text()):
        if EXTERNAL.match(target):
            continue
        if target.startswith("#"):
            if target[1:] not in anchors(ROOT / chinese):
                problems.append(f"{chinese}: no heading or <a id> for {target}")
            continue
        try:
            check_target((ROOT / chinese).parent, target, chinese)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
            continue
        resolved = Path(os.path.normpath(chinese.parent / target.partition("#")[0]))
        if resolved == english or resolved.suffix != ".md":
            continue
        twin = twin_of(resolved)
        if resolved in must_have_twin() and (ROOT / twin).is_file():
            better = os.path.relpath(twin, chinese.parent)
            anchor = target.partition("#")[2]
            problems.append(f"{chinese}: {target} is the English page; link its twin: "
                            f"{better}{'#' + anchor if anchor else ''}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("english,chinese", PAIRS, ids=PAIR_IDS)
def test_pages_link_to_each_other_under_the_title(english, chinese):
    to_chinese = SWITCH_TO_CHINESE.format(os.path.relpath(chinese, english.parent))
    to_english = SWITCH_TO_ENGLISH.format(os.path.relpath(english, chinese.parent))
    for page, line in ((english, to_chinese), (chinese, to_english)):
        found = line_under_title(ROOT / page)
        assert found == line, (f"{page}: the line under the title should be {line}, "
                               f"not {found!r} ({HOW})")


def line_under_title(path):
    """The first non-blank line after the page's H1, or None."""
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# "):
            return next((later.strip() for later in lines[number + 1:] if later.strip()), None)
    return None


def test_both_editions_link_to_the_glossary():
    for index in ("docs/README.md", "docs/zh/README.md"):
        path = ROOT / index
        if not path.is_file():
            continue            # a missing twin is reported above
        targets = [t.partition("#")[0] for t in LINK.findall(path.read_text())]
        glossary = os.path.relpath("docs/glossary.md", Path(index).parent)
        assert glossary in targets, f"{index} does not link to the glossary ({glossary})"
