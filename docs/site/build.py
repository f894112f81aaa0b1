"""Builds the notes and the lab handouts into a static site (make docs).

usage: python3 docs/site/build.py [--out DIR] [--work DIR] [--strict]

The pages stay where they are in the repository, so that their relative
links work on GitHub and on the site alike: the top README.md (the home
page), docs/*.md with docs/images/, labs/*/README.md, their Chinese twins
(README.zh.md, docs/zh/*.md, labs/*/README.zh.md), and every Markdown
file they link to, are copied into a work folder with the same layout;
MkDocs (Debian's mkdocs package) turns that into HTML in --out. Needs
mkdocs and python3-pygments (code highlighting) for the Python that runs
this script.
"""

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)

CONFIG = """\
# Written by docs/site/build.py; edit that file, not this one.
site_name: Socket programming in C
docs_dir: pages
use_directory_urls: false
theme:
  name: mkdocs
  highlightjs: false
  navigation_depth: 3
extra_css:
  - site-assets/pygments.css
  - site-assets/extra.css
plugins:
  - search
markdown_extensions:
  - tables
  - fenced_code
  - codehilite:
      guess_lang: false
  - toc:
      permalink: true
      slugify: !!python/name:github_slug.slugify
nav:
{nav}
"""


def title_of(md):
    for line in md.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return md.stem


def linked_markdown(pages):
    """The pages, plus every Markdown file in the repository they link to,
    and the files they link to in turn (paths relative to ROOT)."""
    seen, todo = set(pages), list(pages)
    others = set()
    while todo:
        page = todo.pop()
        for target in LINK.findall((ROOT / page).read_text()):
            path = target.split("#", 1)[0]
            if not path or EXTERNAL.match(target):
                continue
            resolved = (ROOT / page).parent / path
            try:
                rel = resolved.resolve().relative_to(ROOT)
            except ValueError:
                continue            # outside the repository: the link check reports it
            if not (ROOT / rel).is_file():
                continue            # missing: MkDocs (strict) and the link check report it
            if rel.suffix == ".md":
                if rel not in seen:
                    seen.add(rel)
                    todo.append(rel)
            else:
                others.add(rel)
    return sorted(seen), sorted(others)


def chapters(folder="docs"):
    notes = sorted(p.relative_to(ROOT) for p in (ROOT / folder).glob("*.md"))
    first = [p for p in notes if p.name == "README.md"]
    numbered = [p for p in notes if re.match(r"\d\d-", p.name)]
    rest = [p for p in notes if p not in first and p not in numbered]
    return first + numbered + rest


def handouts(name="README.md"):
    return sorted(p.relative_to(ROOT) for p in (ROOT / "labs").glob(f"[0-9][0-9]-*/{name}"))


def chinese_pages():
    """The Chinese edition (docs/README.md, "The notes in Chinese"): its
    home page, its notes and its handouts, as far as they exist."""
    home = [Path("README.zh.md")] if (ROOT / "README.zh.md").is_file() else []
    return home, chapters("docs/zh"), handouts("README.zh.md")


def nav_yaml(home, notes, labs, more, chinese=([], [], [])):
    lines = [f"  - Home: {home}"]
    for section, pages in (("Notes", notes), ("Labs", labs)):
        if pages:
            lines.append(f"  - {section}:")
            lines += [f"    - {yaml_text(title_of(ROOT / p))}: {p}" for p in pages]
    zh_home, zh_notes, zh_labs = chinese
    if zh_home or zh_notes or zh_labs:
        lines.append("  - 中文:")
        lines += [f"    - 首页: {p}" for p in zh_home]
        for section, pages in (("笔记", zh_notes), ("实验", zh_labs)):
            if pages:
                lines.append(f"    - {section}:")
                lines += [f"      - {yaml_text(title_of(ROOT / p))}: {p}" for p in pages]
    if more:
        lines.append("  - More:")
        lines += [f"    - {yaml_text(title_of(ROOT / p))}: {p}" for p in more]
    return "\n".join(lines)


def yaml_text(text):
    return "'" + text.replace("'", "''") + "'"


def pygments_css():
    from pygments.formatters import HtmlFormatter
    return HtmlFormatter(style="default").get_style_defs(".codehilite")


def stage(work):
    """Copies the pages into work/pages; returns the MkDocs config path."""
    if work.exists():
        shutil.rmtree(work)
    pages_dir = work / "pages"
    home = Path("README.md")
    notes, labs = chapters(), handouts()
    chinese = chinese_pages()
    pages, files = linked_markdown([home, *notes, *labs, *[p for part in chinese for p in part]])
    images = sorted(p.relative_to(ROOT) for p in (ROOT / "docs" / "images").glob("*")
                    if p.is_file())
    for rel in {*pages, *files, *images}:
        dest = pages_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest)
    assets = pages_dir / "site-assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "pygments.css").write_text(pygments_css())
    shutil.copy2(HERE / "extra.css", assets / "extra.css")
    config = work / "mkdocs.yml"
    listed = {home, *notes, *labs, *[p for part in chinese for p in part]}
    more = [p for p in pages if p not in listed]
    config.write_text(CONFIG.format(nav=nav_yaml(home, notes, labs, more, chinese)))
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"),
                        help="where the site goes (default build/site)")
    parser.add_argument("--work", default=str(ROOT / "build" / "site-src"),
                        help="where the pages are staged (default build/site-src)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on any warning, such as a link to a missing page "
                        "(make test does; a student's handout lacks some pages)")
    args = parser.parse_args(argv)
    missing = [name for name in ("mkdocs", "pygments") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"docs: {missing[0]} is missing for {sys.executable}; install it with: "
              "sudo apt-get install mkdocs python3-pygments  (or: make deps)", file=sys.stderr)
        return 1
    config = stage(Path(args.work).resolve())
    out = Path(args.out).resolve()
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    argv = [sys.executable, "-m", "mkdocs", "build", "--clean", "--config-file", str(config),
            "--site-dir", str(out)]
    run = subprocess.run(argv + (["--strict"] if args.strict else []), env=env)
    if run.returncode != 0:
        print("docs: mkdocs failed (its messages are above)", file=sys.stderr)
        return 1
    print(f"docs: the site is in {out}; open {out / 'index.html'} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
