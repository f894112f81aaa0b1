"""Reading the compiled code of a submission before it runs.

A unit test links the student's code into one process with cmocka, and
code in that process can always lie about what cmocka found. What can be
seen before the process runs is refused here: an object that would run
code of its own before main() or after it (a constructor, a destructor,
an indirect function's resolver), or that defines a name the test relies
on (cmocka's functions, the C library functions the test and cmocka
call, a sanitizer's settings) and so would run in its place.

Programs run under valgrind or the sanitizers are read too: valgrind's
client requests (valgrind.h) and a sanitizer's hooks let a program edit
the report that grades it.

Every file read here that the submission's build wrote is read by readelf
in the sandbox, as a tool (TestContext.inspect); only the machine's own
libraries (libc, libcmocka) are read by the grader itself.
"""

import functools
import re
import subprocess
from dataclasses import dataclass, field

from .i18n import tr

# Sections the linker gathers into code that runs before or after main(),
# or into the name of the loader that starts the program (.interp).
STARTUP_SECTIONS = (".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors")
STARTUP_SECTION_NAMES = (".init", ".fini", ".interp", ".dynamic")
# Names that belong to cmocka, to the test's own wrappers, to the
# program's start, or to a sanitizer's or valgrind's interface.
RESERVED_PREFIXES = ("_cmocka_", "cmocka_", "_assert_", "__wrap_", "__real_", "__lsan_",
                     "__asan_", "__ubsan_", "__sanitizer_", "__tsan_", "__msan_", "__hwasan_",
                     "__valgrind_", "_expect_", "_will_return", "_mock", "_check_expected",
                     "_function_called", "_test_")
RESERVED_NAMES = {"main", "_start", "_init", "_fini", "mock_assert", "__libc_start_main",
                  "__cxa_atexit", "__cxa_finalize"}
SANITIZER_PREFIXES = ("__lsan_", "__asan_", "__ubsan_", "__sanitizer_", "__tsan_", "__msan_",
                      "__hwasan_")
# The sanitizers' runtimes, as the libraries a program built by gcc needs.
RUNTIME_LIBRARIES = ("libasan.", "libtsan.", "libubsan.")
# valgrind.h's client requests start with this sequence of rotations of
# %rdi (x86-64), which valgrind alone recognises; a program that holds it
# can rewrite its own report (VALGRIND_PRINTF, VALGRIND_DISABLE_ERROR_REPORTING).
VALGRIND_PREAMBLE = bytes.fromhex("48c1c70348c1c70d48c1c73d48c1c733")
INSPECT_SECONDS = 20

SECTION_LINE = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)")
SYMBOL_LINE = re.compile(r"^\s*\d+:\s+[0-9a-fA-F]+\s+\S+\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)")
NEEDED_LINE = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
COPY_LINE = re.compile(r"\sR_\w+_COPY\s+[0-9a-fA-F]+\s+(\S+)")


@dataclass
class Symbol:
    name: str
    kind: str       # readelf's Type: FUNC, OBJECT, IFUNC, ...
    binding: str    # LOCAL, GLOBAL, WEAK, UNIQUE
    defined: bool


@dataclass
class ObjectFile:
    """What readelf shows of one object: its sections' names and types,
    and its symbols."""

    path: str
    sections: list
    symbols: list
    # Names of a library's data the executable holds a copy of (R_*_COPY
    # relocations): defined in it by the linker, not by its code.
    copied: set = field(default_factory=set)
    needed: list = field(default_factory=list)    # the shared libraries it needs


def parse_readelf(text, only=None):
    """{path: ObjectFile} from `readelf -W -S -s FILE...`; with one FILE
    (readelf then names none), pass it as only."""
    found, current = {}, None
    if only is not None:
        current = found.setdefault(only, ObjectFile(only, [], []))
    for line in text.splitlines():
        if line.startswith("File: "):
            path = line[len("File: "):].strip()
            current = found.setdefault(path, ObjectFile(path, [], []))
            continue
        if current is None:
            continue
        section = SECTION_LINE.match(line)
        if section:
            current.sections.append((section.group(1), section.group(2)))
            continue
        needed = NEEDED_LINE.search(line)
        if needed:
            current.needed.append(needed.group(1))
            continue
        copy = COPY_LINE.search(line)
        if copy:
            current.copied.add(copy.group(1).split("@")[0])
            continue
        symbol = SYMBOL_LINE.match(line)
        if symbol:
            kind, binding, index, name = symbol.groups()
            # "memcmp@GLIBC_2.2.5" (.symver) names memcmp all the same
            current.symbols.append(Symbol(name.split("@")[0], kind, binding, index != "UND"))
    return found


def startup_section(obj):
    """The name of a section of obj that runs code around main(), or None."""
    for name, kind in obj.sections:
        if (name.startswith(STARTUP_SECTIONS) or name in STARTUP_SECTION_NAMES
                or kind in ("INIT_ARRAY", "FINI_ARRAY", "PREINIT_ARRAY")):
            return name
    return None


def exported(obj):
    """The names obj defines for other objects (and libraries) to use."""
    return [s for s in obj.symbols if s.defined and s.binding != "LOCAL"]


def is_reserved(name, relied_on):
    return name in RESERVED_NAMES or name in relied_on or name.startswith(RESERVED_PREFIXES)


def unit_test_problem(obj, relied_on):
    """Why obj may not be linked into a unit test (a sentence), or None.
    relied_on: the names of the C library and cmocka the test relies on."""
    name = obj.path.rsplit("/", 1)[-1]
    name = name[:-2] + ".c" if name.endswith(".o") else name    # the student's own file
    section = startup_section(obj)
    if section is not None:
        return tr("{file} has a {section} section, which runs code before or after the tests "
                  "(a constructor or a destructor); the tests call your functions themselves",
                  file=name, section=section)
    resolver = next((s for s in obj.symbols if s.kind == "IFUNC" and s.defined), None)
    if resolver is not None:
        return tr("{file} makes {symbol} an indirect function (ifunc), whose resolver runs "
                  "before the tests; define it as a plain function", file=name,
                  symbol=resolver.name)
    taken = next((s for s in exported(obj) if is_reserved(s.name, relied_on)), None)
    if taken is not None:
        return tr("{file} defines {symbol}, a name the unit tests rely on (cmocka's, the C "
                  "library's or a sanitizer's); rename your function, or make it static",
                  file=name, symbol=taken.name)
    return None


def sanitizer_hook(obj):
    """A sanitizer interface name obj defines (its settings, such as
    __lsan_default_suppressions) or calls (__lsan_disable), or None. The
    instrumentation's own calls are to __asan_* and __ubsan_* functions,
    never to __lsan_*; the only __asan_* names it defines are copies of the
    runtime's data (read with `readelf -r`: obj.copied).

    A program that carries the sanitizer's runtime itself (clang links it
    in statically; gcc, the grader's compiler, as a library its program
    needs: `readelf -d`) defines all of these names, and is not judged by
    them."""
    if not any(name.startswith(RUNTIME_LIBRARIES) for name in obj.needed):
        return None
    for symbol in obj.symbols:
        if symbol.name.startswith("__lsan_"):
            return symbol.name
        if symbol.defined and symbol.binding != "LOCAL" and symbol.name not in obj.copied \
                and symbol.name.startswith(SANITIZER_PREFIXES):
            return symbol.name
    return None


def holds_valgrind_requests(fd, chunk=1 << 20):
    """Whether the file open at fd holds valgrind's client-request preamble."""
    overlap = len(VALGRIND_PREAMBLE) - 1
    tail = b""
    with open(fd, "rb", closefd=False) as f:
        while True:
            data = f.read(chunk)
            if not data:
                return False
            if VALGRIND_PREAMBLE in tail + data:
                return True
            tail = (tail + data)[-overlap:]


@functools.lru_cache(maxsize=None)
def library_symbols(name):
    """(defined, undefined) dynamic symbol names of a system library the
    unit tests link (libc.so.6, libcmocka.so): the machine's own files,
    read once per grader. Raises RuntimeError if it cannot be read (the
    grader's problem, never the student's)."""
    found = subprocess.run(["cc", f"-print-file-name={name}"], capture_output=True, text=True,
                           timeout=INSPECT_SECONDS)
    path = found.stdout.strip()
    if found.returncode != 0 or "/" not in path:
        raise RuntimeError(f"the compiler does not know where {name} is")
    listing = subprocess.run(["nm", "-D", path], capture_output=True, text=True,
                             timeout=INSPECT_SECONDS)
    if listing.returncode != 0:
        raise RuntimeError(f"nm -D {path} failed: {listing.stderr.strip()}")
    defined, undefined = set(), set()
    for line in listing.stdout.splitlines():
        fields = line.split()
        if not fields:
            continue
        name = fields[-1].split("@")[0]
        (undefined if fields[0] in ("U", "w") and len(fields) == 2 else defined).add(name)
    return frozenset(defined), frozenset(undefined)


def names_relied_on(harness):
    """The names a unit test relies on: cmocka's functions, and the C
    library functions that cmocka or the test itself (harness, its
    ObjectFile) calls."""
    libc, _ = library_symbols("libc.so.6")
    cmocka, cmocka_calls = library_symbols("libcmocka.so")
    calls = {s.name for s in harness.symbols if not s.defined}
    return cmocka | ((cmocka_calls | calls) & libc)
