"""The notes as a site (make docs): it builds, every internal link and
image resolves, it needs nothing from the network, and Chromium shows its
figures. The figures themselves (docs/images/*.svg) must be what their
sources in docs/figures/ produce, and each must be used, with alt text."""

import functools
import http.server
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT

BUILD = ROOT / "docs" / "site" / "build.py"
FIGURES = ROOT / "docs" / "figures"
IMAGES = ROOT / "docs" / "images"
SHOTS = ROOT / "build" / "site-check"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
# Pages Chromium loads: the home page, the notes index, every chapter, in
# English and in Chinese (as far as the Chinese twins exist).
CHECKED_PAGES = ["index.html", "docs/index.html",
                 *[f"docs/{p.stem}.html" for p in sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))],
                 "docs/python-to-c.html",
                 *[f"docs/zh/{p.stem}.html" for p in sorted((ROOT / "docs" / "zh").glob("[0-9][0-9]-*.md"))]]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Builds the site once for this module; returns its folder."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed for this Python: sudo apt-get install mkdocs "
                    "(make deps installs it)")
    tmp = tmp_path_factory.mktemp("site")
    out = tmp / "site"
    run = subprocess.run([sys.executable, str(BUILD), "--strict", "--out", str(out), "--work",
                          str(tmp / "work")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"make docs failed:\n{run.stdout}\n{run.stderr}"
    return out


class PageParser(HTMLParser):
    """Collects a page's ids and the URLs it links to or loads."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.loads, self.images = set(), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.loads.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs)


@functools.lru_cache(maxsize=None)
def parse(path):
    parser = PageParser()
    parser.feed(Path(path).read_text(errors="replace"))
    return parser


def site_pages(site):
    # 404.html is served for any folder, with links from the site's root.
    return [p for p in sorted(site.rglob("*.html")) if p.name != "404.html"]


def test_site_has_every_page(site):
    expected = ["index.html", "docs/index.html", "docs/instructors.html", "docs/glossary.html",
                *[f"docs/{p.stem}.html" for p in (ROOT / "docs").glob("[0-9][0-9]-*.md")],
                *[f"labs/{p.parent.name}/index.html" for p in ROOT.glob("labs/*/README.md")],
                # the Chinese twins that exist (test_zh reports those missing)
                *(["README.zh.html"] if (ROOT / "README.zh.md").is_file() else []),
                *[f"docs/zh/{'index' if p.name == 'README.md' else p.stem}.html"
                  for p in (ROOT / "docs" / "zh").glob("*.md")],
                *[f"labs/{p.parent.name}/README.zh.html" for p in ROOT.glob("labs/*/README.zh.md")]]
    missing = [page for page in expected if not (site / page).is_file()]
    assert not missing, f"the site has no {', '.join(missing)}"


def test_site_links_and_images_resolve(site):
    broken = []
    for page in site_pages(site):
        parsed = parse(page)
        for url in parsed.links + parsed.loads:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or url == "#":
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {url} -> no such file")
                continue
            if parts.fragment and target.suffix == ".html" and \
                    unquote(parts.fragment) not in parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {url} -> no id "
                              f"'{parts.fragment}' in {target.relative_to(site)}")
    assert not broken, "broken links on the site:\n" + "\n".join(broken)


def test_site_needs_no_network(site):
    remote = [f"{page.relative_to(site)}: {url}" for page in site_pages(site)
              for url in parse(page).loads if re.match(r"^(https?:)?//", url)]
    assert not remote, ("the site loads files from the network, so it breaks offline:\n"
                        + "\n".join(remote))


def test_site_images_have_alt_text(site):
    missing = [f"{page.relative_to(site)}: {img.get('src')}" for page in site_pages(site)
               for img in parse(page).images if not (img.get("alt") or "").strip()]
    assert not missing, "images without alt text:\n" + "\n".join(missing)


def test_figures_render_in_chromium(site):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed (make deps installs it)"
    (site / "_figure-check.html").write_text(HARNESS.replace("PAGES", json.dumps(CHECKED_PAGES)))
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        dom = run_chromium(chromium, SHOTS / "profile", ["--virtual-time-budget=20000",
                           "--dump-dom", f"{base}/_figure-check.html"])
        for page in ("docs/01-tcp.html", "docs/06-concurrency.html"):
            shot = SHOTS / (Path(page).stem + ".png")
            shot.unlink(missing_ok=True)
            run_chromium(chromium, SHOTS / "profile", ["--window-size=1280,2400",
                         f"--screenshot={shot}", f"{base}/{page}"])
            assert shot.is_file() and shot.stat().st_size > 10_000, \
                f"Chromium made no screenshot of {page} ({shot})"
    finally:
        server.shutdown()
        server.server_close()
    match = re.search(r'<pre id="result">([^<]*)</pre>', dom)
    assert match and match.group(1) != "pending", \
        f"the check page did not finish in Chromium; its DOM ends with:\n{dom[-1500:]}"
    results = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    problems, drawn = [], 0
    for page in CHECKED_PAGES:
        got = results.get(page)
        if got is None or not got["title"]:
            problems.append(f"{page}: did not load")
            continue
        for src, width, height in got["images"]:
            if width == 0 or height == 0:
                problems.append(f"{page}: image {src} did not render (natural size "
                                f"{width}x{height})")
            elif src.endswith(".svg"):
                drawn += 1
    assert not problems, "in Chromium:\n" + "\n".join(problems)
    sources = sorted(FIGURES.glob("*.dot")) + sorted(FIGURES.glob("*.seq"))
    assert drawn >= len(sources), (f"Chromium drew {drawn} SVG figures on the checked pages; "
                                   f"docs/figures has {len(sources)} sources")


HARNESS = """<!doctype html>
<meta charset="utf-8"><title>figure check</title>
<pre id="result">pending</pre>
<script>
const pages = PAGES, results = {};
let left = pages.length;
for (const page of pages) {
  const frame = document.createElement("iframe");
  frame.style.width = "1200px";
  frame.style.height = "900px";
  frame.onload = () => {
    const doc = frame.contentDocument;
    results[page] = {
      title: doc.title,
      images: Array.from(doc.images, img => [img.getAttribute("src"), img.naturalWidth,
                                             img.naturalHeight]),
    };
    if (--left === 0)
      document.getElementById("result").textContent = JSON.stringify(results);
  };
  frame.src = page;
  document.body.appendChild(frame);
}
</script>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def run_chromium(chromium, profile, args):
    if profile.exists():
        shutil.rmtree(profile)
    run = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                         capture_output=True, timeout=60)
    assert run.returncode == 0, f"chromium failed:\n{run.stderr.decode(errors='replace')[-1500:]}"
    return run.stdout.decode(errors="replace")


# -- the figures' sources ------------------------------------------------------------

IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def figure_sources():
    return sorted(FIGURES.glob("*.dot")) + sorted(FIGURES.glob("*.seq"))


@pytest.mark.parametrize("source", figure_sources(), ids=lambda p: p.name)
def test_figure_is_up_to_date(source, tmp_path):
    committed = IMAGES / (source.stem + ".svg")
    assert committed.is_file(), f"{source.name} has no {committed.relative_to(ROOT)}: run make docs"
    fresh = tmp_path / committed.name
    if source.suffix == ".dot":
        dot = shutil.which("dot")
        assert dot, "dot is not installed: sudo apt-get install graphviz (make deps installs it)"
        version = subprocess.run([dot, "-V"], capture_output=True, text=True).stderr
        made_by = re.search(r"Generated by graphviz version (\S+)", committed.read_text())
        if made_by and made_by.group(1) not in version:
            pytest.skip(f"{committed.name} was made by graphviz {made_by.group(1)}; "
                        f"this is {version.strip()}")
        argv = [dot, "-Tsvg", "-o", str(fresh), str(source)]
    else:
        argv = [sys.executable, str(FIGURES / "seqdiag.py"), str(source), str(fresh)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"{' '.join(argv)} failed:\n{run.stderr}"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"{committed.relative_to(ROOT)} is not what {source.relative_to(ROOT)} makes: "
        "run make docs and commit the result")


def test_every_figure_is_used_with_alt_text():
    used, problems = set(), []
    for md in sorted((ROOT / "docs").glob("*.md")):
        for alt, target in IMAGE_LINK.findall(md.read_text()):
            used.add((md.parent / target).resolve())
            if len(alt.strip()) < 10:
                problems.append(f"docs/{md.name}: {target} has no real alt text ({alt!r})")
    for svg in sorted(IMAGES.glob("*.svg")):
        if svg.resolve() not in used:
            problems.append(f"{svg.relative_to(ROOT)} is not shown in any chapter")
    assert not problems, "\n".join(problems)
