"""What the grader reads in compiled code before it trusts a report about
it (grader/objects.py), on objects compiled here from a line or two of C."""

import subprocess

import pytest

from grader import objects

HONEST = "int parse_port(const char *t, unsigned short *p) { (void)t; *p = 1; return 0; }\n"
UNIT_FORGERIES = {
    "constructor": "void _exit(int);\n__attribute__((constructor)) static void early(void) "
                   "{ _exit(0); }\n",
    "destructor": "void _exit(int);\n__attribute__((destructor)) static void late(void) "
                  "{ _exit(0); }\n",
    "section": '__attribute__((section(".preinit_array"), used)) static void (*p)(void);\n',
    "ifunc": "static void f(void) {}\nstatic void (*r(void))(void) { return f; }\n"
             'void g(void) __attribute__((ifunc("r")));\n',
    "cmocka": "int _cmocka_run_group_tests(void) { return 0; }\n",
    "weak cmocka": "__attribute__((weak)) void _will_return(void) {}\n",
    "sanitizer": "const char *__lsan_default_suppressions(void) { return \"leak:*\"; }\n",
    "libc": "int strcmp(const char *a, const char *b) { (void)a; (void)b; return 0; }\n",
    "versioned libc": 'int my_cmp(void) { return 0; }\n__asm__(".symver my_cmp, memcmp@GLIBC_2.2.5");\n',
}


def compiled(tmp_path, code, name="x"):
    source = tmp_path / f"{name}.c"
    source.write_text(code)
    obj = tmp_path / f"{name}.o"
    subprocess.run(["cc", "-c", "-O2", "-o", str(obj), str(source)], check=True)
    text = subprocess.run(["readelf", "-W", "-S", "-s", str(obj)], capture_output=True,
                          text=True, check=True).stdout
    return objects.parse_readelf(text, only=str(obj))[str(obj)]


def test_an_honest_object_passes(tmp_path):
    assert objects.unit_test_problem(compiled(tmp_path, HONEST), {"strcmp"}) is None


@pytest.mark.parametrize("forgery", sorted(UNIT_FORGERIES))
def test_an_object_that_could_forge_a_unit_test_is_refused(forgery, tmp_path):
    obj = compiled(tmp_path, HONEST + UNIT_FORGERIES[forgery])
    problem = objects.unit_test_problem(obj, {"strcmp", "memcmp"})
    assert problem is not None and problem.startswith("x.c "), problem


def test_names_relied_on_are_cmocka_and_the_libc_calls_of_the_test(tmp_path):
    harness = compiled(tmp_path, "#include <string.h>\nint parse_port(const char *, void *);\n"
                       "int t(const char *a) { return strcmp(a, \"x\") + parse_port(a, 0); }\n",
                       name="harness")
    names = objects.names_relied_on(harness)
    assert {"strcmp", "_cmocka_run_group_tests", "_will_return"} <= names
    assert "parse_port" not in names and "strlcpy" not in names


def test_the_valgrind_preamble_is_found_across_chunks(tmp_path):
    data = tmp_path / "program"
    data.write_bytes(b"x" * 10 + objects.VALGRIND_PREAMBLE + b"y" * 10)
    for chunk in (4, 7, 1 << 20):
        with open(data, "rb") as f:
            assert objects.holds_valgrind_requests(f.fileno(), chunk=chunk)
    data.write_bytes(objects.VALGRIND_PREAMBLE[:-1] + b"\0" + objects.VALGRIND_PREAMBLE[1:])
    with open(data, "rb") as f:
        assert not objects.holds_valgrind_requests(f.fileno(), chunk=5)


def test_a_program_that_needs_the_sanitizer_runtime_is_judged_by_its_names():
    text = """
Dynamic section at offset 0x2d50 contains 29 entries:
 0x0000000000000001 (NEEDED)             Shared library: [libasan.so.8]
Relocation section '.rela.dyn' at offset 0x9e8 contains 20 entries:
000000000000b710  0000003800000005 R_X86_64_COPY          000000000000b710 __asan_option_detect_stack_use_after_return + 0
Symbol table '.symtab' contains 3 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
     1: 000000000000b710     4 OBJECT  GLOBAL DEFAULT   26 __asan_option_detect_stack_use_after_return
     2: 0000000000001230    12 FUNC    GLOBAL DEFAULT   16 main
"""
    obj = objects.parse_readelf(text, only="p")["p"]
    assert objects.sanitizer_hook(obj) is None
    hook = "     3: 0000000000001240     8 FUNC    GLOBAL DEFAULT   16 __asan_default_options\n"
    assert objects.sanitizer_hook(objects.parse_readelf(text + hook, only="p")["p"]) == \
        "__asan_default_options"
    calls = "     3: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND __lsan_disable\n"
    assert objects.sanitizer_hook(objects.parse_readelf(text + calls, only="p")["p"]) == \
        "__lsan_disable"
