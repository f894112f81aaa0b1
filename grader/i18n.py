"""The grader's messages in the student's language.

Every fixed sentence a student reads is written in English where it is
used, marked with tr(): `tr("{program} exited with status {code}",
program=name, code=code)` (tr, not gettext's usual _, which Python code
uses for values it throws away). The message catalogue grader/locale/LANG.po
holds its translation, with the same {placeholders}; msgfmt (Debian's
gettext) compiles it, once per grader process, into the .mo file that
Python's gettext reads. The language is chosen the usual way: LANGUAGE,
LC_ALL, LC_MESSAGES, LANG (LANG=zh_CN.UTF-8 make grade), or the course's
language (course.toml) where the environment names none.

What programs read is never translated: the final "Score: X/Y" line,
results.json's keys, JUnit XML, the CSV's columns.
"""

import gettext
import os
import re
import shutil
import subprocess
import tempfile
import threading

LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
DOMAIN = "grader"
LANGUAGES = ("zh_CN",)          # the catalogues there are
DOCS_FOLDER = {"zh_CN": "zh"}   # where a language's twin of docs/X.md is: docs/zh/X.md
HANDOUT_SUFFIX = {"zh_CN": ".zh"}   # labs/NN/README.zh.md
# The course's language, where the environment names none: a handout or
# a Gradescope package carries it in grader/language (make handout writes
# it from course.toml); the instructors' tree reads course.toml itself.
LANGUAGE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "language")
COURSE_FILE = os.path.join(os.path.dirname(LANGUAGE_FILE), "..", "course.toml")

_lock = threading.Lock()
_state = {}


def language():
    """The catalogue language to use ("zh_CN"), or None for English."""
    with _lock:
        if "language" not in _state:
            _state["language"] = _choose()
        return _state["language"]


def course_language():
    """The course's language code ("zh_CN", "en"), or None if unset."""
    try:
        with open(LANGUAGE_FILE) as f:
            return f.read().strip() or None
    except OSError:
        pass
    try:
        with open(COURSE_FILE) as f:
            match = re.search(r'^\s*language\s*=\s*"([^"]*)"', f.read(), re.M)
    except OSError:
        return None
    return match.group(1) if match else None


def _choose():
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", None):
        value = os.environ.get(name, "") if name else (course_language() or "")
        if not value or (name and value.split(".")[0] in ("C", "POSIX")):
            continue
        for wanted in value.split(":"):      # LANGUAGE may list several
            code = wanted.split(".")[0].split("@")[0]
            if code in ("C", "POSIX", "") or code.startswith("en"):
                return None
            for available in LANGUAGES:
                if code == available or code.split("_")[0] == available.split("_")[0]:
                    return available
        return None
    return None


def _translations():
    with _lock:
        if "translations" not in _state:
            _state["translations"] = _load(_state.get("language", _choose()))
        return _state["translations"]


def _load(code):
    """The compiled catalogue of code, or NullTranslations (English)."""
    if code is None:
        return gettext.NullTranslations()
    source = os.path.join(LOCALE_DIR, f"{code}.po")
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None or not os.path.exists(source):
        return gettext.NullTranslations()
    folder = tempfile.mkdtemp(prefix="grader-locale-")
    target = os.path.join(folder, f"{DOMAIN}.mo")
    try:
        done = subprocess.run([msgfmt, "-o", target, source], capture_output=True, timeout=60)
        if done.returncode != 0:
            return gettext.NullTranslations()
        with open(target, "rb") as f:
            return gettext.GNUTranslations(f)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def tr(message, /, **values):
    """message in the chosen language, with {placeholders} filled in."""
    text = _translations().gettext(message)
    return text.format(**values) if values else text


def mark(message):
    """message unchanged, marked for the catalogue: for sentences kept in
    tables and translated where they are shown (tr(KINDS[kind]))."""
    return message


def tr_n(singular, plural, count, /, **values):
    """The form of a message for count (1 test, 2 tests), filled in."""
    text = _translations().ngettext(singular, plural, count)
    return text.format(count=count, **values)


def doc_path(doc):
    """A docs/ or labs/ path with its #anchor, in the chosen language
    where that page has a twin (same anchors in both)."""
    code = language()
    page, _, anchor = doc.partition("#")
    from .labs import ROOT
    if code is None:
        # A handout published in another language keeps English beside it.
        english = page[:-len(".md")] + ".en.md"
        if page.endswith("README.md") and (ROOT / english).exists():
            return english + (f"#{anchor}" if anchor else "")
        return doc
    if page.startswith("docs/"):
        twin = f"docs/{DOCS_FOLDER[code]}/{page[len('docs/'):]}"
    elif page.endswith("README.md"):
        twin = page[:-len(".md")] + HANDOUT_SUFFIX[code] + ".md"
    else:
        return doc
    if not (ROOT / twin).exists():
        return doc
    return twin + (f"#{anchor}" if anchor else "")
