/*
 * test_http_path.c - unit tests for http_path.c (lab 05).
 *
 * Run all groups:   build/lab05/tests/test_http_path
 * Run one group:    build/lab05/tests/test_http_path normalize
 *                   (groups: percent_decode, normalize, mime)
 *
 * Each row of a table is a case of its own (the groups are built at run
 * time, see main), so a function that gets some rows right earns a share
 * of the group's points.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_cases.h" /* cmocka, and groups of table-driven cases */

#include "http_path.h"

#define OUT_SIZE 64
/* One case: input, expected output, or -1 and the expected errno. */
struct text_case {
	const char *in;
	const char *out; /* NULL: expect -1 */
	int err;
};

/*
 * The baselines: a row that expects a refusal (or the default type)
 * counts only once the function handles one plain input, so that a stub
 * earns nothing.
 */
#define BASELINE_FAIL(fn, input, want)                                         \
	fail_msg("%s does not handle a plain input yet (%s should give %s): "  \
		 "a refusal counts only once plain input is handled",          \
		 fn, input, want)

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

static void test_decode_row(void **state)
{
	const struct text_case *tc = *state;
	char out[OUT_SIZE];

	if (tc->out == NULL &&
	    (http_percent_decode("/a%20b", 6, out, sizeof(out)) != 4 ||
	     strcmp(out, "/a b") != 0))
		BASELINE_FAIL("http_percent_decode", "'/a%20b'", "'/a b'");
	errno = 0;
	ssize_t rc =
		http_percent_decode(tc->in, strlen(tc->in), out, sizeof(out));
	if (tc->out != NULL &&
	    (rc != (ssize_t)strlen(tc->out) || strcmp(out, tc->out) != 0))
		fail_msg("decoding '%s' should give '%s' (length %zu); got %zd",
			 tc->in, tc->out, strlen(tc->out), rc);
	if (tc->out == NULL && (rc != -1 || errno != tc->err))
		fail_msg(
			"decoding '%s' should fail with %s; got %zd (errno %s)",
			tc->in, strerror(tc->err), rc, strerror(errno));
}

static void test_decode_respects_length(void **state)
{
	char out[OUT_SIZE];
	(void)state;

	/* Only the first 4 bytes count: the escape after them is not read. */
	ssize_t rc = http_percent_decode("/abc%zz", 4, out, sizeof(out));
	if (rc != 4 || strcmp(out, "/abc") != 0)
		fail_msg("decoding the first 4 bytes of '/abc%%zz' should give "
			 "'/abc' (4): http_percent_decode must read only len "
			 "bytes; it returned %zd",
			 rc);
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
		fail_msg("decoding '/ab' into 4 bytes should give '/ab' (3): 3 "
			 "bytes and the NUL fit exactly; it returned %zd",
			 rc);
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

static void test_normalize_row(void **state)
{
	const struct text_case *tc = *state;
	char out[OUT_SIZE];

	if (tc->out == NULL &&
	    (http_normalize_path("/a/./b", out, sizeof(out)) != 4 ||
	     strcmp(out, "/a/b") != 0))
		BASELINE_FAIL("http_normalize_path", "'/a/./b'", "'/a/b'");
	errno = 0;
	ssize_t rc = http_normalize_path(tc->in, out, sizeof(out));
	if (tc->out != NULL &&
	    (rc != (ssize_t)strlen(tc->out) || strcmp(out, tc->out) != 0))
		fail_msg("normalising '%s' should give '%s'; got %zd ('%s')",
			 tc->in, tc->out, rc, rc >= 0 ? out : "");
	if (tc->out == NULL && (rc != -1 || errno != tc->err))
		fail_msg("normalising '%s' should fail with %s; got %zd (errno "
			 "%s)",
			 tc->in, strerror(tc->err), rc, strerror(errno));
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

/* A path and the media type its extension gives. */
struct mime_case {
	const char *path;
	const char *type;
};

static const struct mime_case mime_cases[] = {
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

static void test_mime_row(void **state)
{
	const struct mime_case *mc = *state;
	const char *html = http_mime_type("/index.html");

	if (strcmp(mc->type, HTTP_DEFAULT_MIME) == 0 &&
	    (html == NULL || strcmp(html, "text/html; charset=utf-8") != 0))
		BASELINE_FAIL("http_mime_type", "\"/index.html\"",
			      "\"text/html; charset=utf-8\"");
	const char *got = http_mime_type(mc->path);
	if (got == NULL || strcmp(got, mc->type) != 0)
		fail_msg("http_mime_type(\"%s\") should be \"%s\", got \"%s\"",
			 mc->path, mc->type, got ? got : "NULL");
}

/* ---- groups ------------------------------------------------------------ */

#define ROWS(table) (sizeof(table) / sizeof((table)[0]))

static void decode_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(decode_cases); i++)
		add_named_case(g, "decode ", decode_cases[i].in,
			       test_decode_row, &decode_cases[i]);
	add_plain_case(g, "only len bytes", test_decode_respects_length);
	add_plain_case(g, "no space", test_decode_no_space);
}

static void normalize_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(normalize_cases); i++)
		add_named_case(g, "normalise ", normalize_cases[i].in,
			       test_normalize_row, &normalize_cases[i]);
	add_plain_case(g, "no space", test_normalize_no_space);
}

static void mime_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(mime_cases); i++)
		add_named_case(g, "type of ", mime_cases[i].path, test_mime_row,
			       &mime_cases[i]);
}

int main(int argc, char **argv)
{
	static const struct case_group groups[] = {
		{"percent_decode", decode_group},
		{"normalize", normalize_group},
		{"mime", mime_group},
	};

	return run_case_groups(groups, ROWS(groups), argc, argv);
}
