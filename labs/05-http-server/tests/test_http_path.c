/*
 * test_http_path.c - unit tests for http_path.c (lab 05).
 *
 * Run all groups:   build/lab05/tests/test_http_path
 * Run one group:    build/lab05/tests/test_http_path normalize
 *                   (groups: percent_decode, normalize, mime)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_path.h"

#define OUT_SIZE 64

/* One case: input, expected output, or -1 and the expected errno. */
struct text_case {
	const char *in;
	const char *out; /* NULL: expect -1 */
	int err;
};

/* ---- percent_decode --------------------------------------------------- */

static const struct text_case decode_cases[] = {
	{"/plain", "/plain", 0},
	{"/a%20b", "/a b", 0},
	{"%2e%2E%2f", "../", 0},
	{"%41%4a%4A", "AJJ", 0},
	{"a+b", "a+b", 0},
	{"%e4%bd%a0", "\xe4\xbd\xa0", 0},
	{"", "", 0},
	{"%", NULL, EINVAL},
	{"%4", NULL, EINVAL},
	{"%zz", NULL, EINVAL},
	{"/x%2", NULL, EINVAL},
	{"%00", NULL, EINVAL},
	{"%g1", NULL, EINVAL},
};

static void test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]);
	     i++) {
		const struct text_case *tc = &decode_cases[i];
		char out[OUT_SIZE];
		errno = 0;
		ssize_t rc = http_percent_decode(tc->in, strlen(tc->in), out,
						 sizeof(out));
		if (tc->out != NULL && (rc != (ssize_t)strlen(tc->out) ||
					strcmp(out, tc->out) != 0))
			fail_msg("decoding '%s' should give '%s' (length %zu); "
				 "got %zd",
				 tc->in, tc->out, strlen(tc->out), rc);
		if (tc->out == NULL && (rc != -1 || errno != tc->err))
			fail_msg("decoding '%s' should fail with %s; got %zd "
				 "(errno %s)",
				 tc->in, strerror(tc->err), rc,
				 strerror(errno));
	}
}

static void test_decode_respects_length(void **state)
{
	char out[OUT_SIZE];
	(void)state;

	/* Only the first 4 bytes count: the escape after them is not read. */
	ssize_t rc = http_percent_decode("/abc%zz", 4, out, sizeof(out));
	if (rc != 4 || strcmp(out, "/abc") != 0)
		fail_msg("http_percent_decode must read only len bytes");
}

static void test_decode_no_space(void **state)
{
	char out[4];
	(void)state;

	errno = 0;
	ssize_t rc = http_percent_decode("/abcd", 5, out, sizeof(out));
	if (rc != -1 || errno != ENOSPC)
		fail_msg("5 bytes do not fit in 4 with the NUL: expected -1 "
			 "with ENOSPC, got %zd",
			 rc);
	rc = http_percent_decode("/ab", 3, out, sizeof(out));
	if (rc != 3 || strcmp(out, "/ab") != 0)
		fail_msg("3 bytes and the NUL fit exactly in 4");
}

/* ---- normalize --------------------------------------------------------- */

static const struct text_case normalize_cases[] = {
	{"/", "/", 0},
	{"/index.html", "/index.html", 0},
	{"/a/b/", "/a/b/", 0},
	{"//a///b", "/a/b", 0},
	{"/a/./b", "/a/b", 0},
	{"/a/b/../c", "/a/c", 0},
	{"/a/b/..", "/a/", 0},
	{"/a/.", "/a/", 0},
	{"/a/b/../../c", "/c", 0},
	{"/..a/b..", "/..a/b..", 0},
	{"/...", "/...", 0},
	{"/.hidden", "/.hidden", 0},
	{"/..", NULL, EACCES},
	{"/../etc/passwd", NULL, EACCES},
	{"/a/../../b", NULL, EACCES},
	{"/./../x", NULL, EACCES},
	{"a/b", NULL, EINVAL},
	{"", NULL, EINVAL},
};

static void test_normalize_table(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(normalize_cases) / sizeof(normalize_cases[0]); i++) {
		const struct text_case *tc = &normalize_cases[i];
		char out[OUT_SIZE];
		errno = 0;
		ssize_t rc = http_normalize_path(tc->in, out, sizeof(out));
		if (tc->out != NULL && (rc != (ssize_t)strlen(tc->out) ||
					strcmp(out, tc->out) != 0))
			fail_msg("normalising '%s' should give '%s'; got %zd "
				 "('%s')",
				 tc->in, tc->out, rc, rc >= 0 ? out : "");
		if (tc->out == NULL && (rc != -1 || errno != tc->err))
			fail_msg(
				"normalising '%s' should fail with %s; got %zd "
				"(errno %s)",
				tc->in, strerror(tc->err), rc, strerror(errno));
	}
}

static void test_normalize_no_space(void **state)
{
	char out[8];
	(void)state;

	errno = 0;
	ssize_t rc = http_normalize_path("/abcdefgh", out, sizeof(out));
	if (rc != -1 || errno != ENOSPC)
		fail_msg(
			"'/abcdefgh' does not fit in 8 bytes: expected ENOSPC");
}

/* ---- mime -------------------------------------------------------------- */

static void test_mime_table(void **state)
{
	static const char *const cases[][2] = {
		{"/index.html", "text/html; charset=utf-8"},
		{"/a/b.HTM", "text/html; charset=utf-8"},
		{"/s.css", "text/css; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/d.json", "application/json"},
		{"/n.txt", "text/plain; charset=utf-8"},
		{"/i.png", "image/png"},
		{"/p.jpg", "image/jpeg"},
		{"/p.JPEG", "image/jpeg"},
		{"/g.gif", "image/gif"},
		{"/v.svg", "image/svg+xml"},
		{"/favicon.ico", "image/x-icon"},
		{"/d.pdf", "application/pdf"},
		{"/m.wasm", "application/wasm"},
		{"/archive.tar.gz", HTTP_DEFAULT_MIME},
		{"/README", HTTP_DEFAULT_MIME},
		{"/.css", HTTP_DEFAULT_MIME},
		{"/dir.html/file", HTTP_DEFAULT_MIME},
		{"/x.", HTTP_DEFAULT_MIME},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = http_mime_type(cases[i][0]);
		if (got == NULL || strcmp(got, cases[i][1]) != 0)
			fail_msg("http_mime_type(\"%s\") should be \"%s\", got "
				 "\"%s\"",
				 cases[i][0], cases[i][1], got ? got : "NULL");
	}
}

/* ---- groups ------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const struct CMUnitTest decode_tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_respects_length),
		cmocka_unit_test(test_decode_no_space),
	};
	const struct CMUnitTest normalize_tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_normalize_no_space),
	};
	const struct CMUnitTest mime_tests[] = {
		cmocka_unit_test(test_mime_table),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	if (only != NULL && strcmp(only, "percent_decode") != 0 &&
	    strcmp(only, "normalize") != 0 && strcmp(only, "mime") != 0) {
		fprintf(stderr, "usage: %s [percent_decode|normalize|mime]\n",
			argv[0]);
		return 2;
	}
	if (only == NULL || strcmp(only, "percent_decode") == 0)
		failed += cmocka_run_group_tests_name("percent_decode",
						      decode_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "normalize") == 0)
		failed += cmocka_run_group_tests_name(
			"normalize", normalize_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "mime") == 0)
		failed += cmocka_run_group_tests_name("mime", mime_tests, NULL,
						      NULL);
	return failed == 0 ? 0 : 1;
}
