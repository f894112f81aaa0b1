/*
 * test_http_parse.c - unit tests for http_parse.c (lab 05).
 *
 * Run all groups:   build/lab05/tests/test_http_parse
 * Run one group:    build/lab05/tests/test_http_parse request
 *                   (groups: request, token, framing, chunked, response:
 *                   one per step of the handout)
 *
 * Every complete message is also fed in all its prefixes: each must give
 * HTTP_PARSE_PARTIAL, never a wrong answer. Input is copied into a buffer
 * of exactly its size (malloc), so valgrind or ASan catch any over-read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h> /* before cmocka.h, which redefines malloc */
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http_parse.h"

/* Parses text[0..len) from a heap copy of exactly len bytes. */
static int parse_request_n(const char *text, size_t len,
			   struct http_request *req, char **copy)
{
	*copy = malloc(len > 0 ? len : 1);
	assert_non_null(*copy);
	memcpy(*copy, text, len);
	return http_parse_request(*copy, len, req);
}

static int view_is(const char *p, size_t len, const char *expected)
{
	return len == strlen(expected) && memcmp(p, expected, len) == 0;
}

/* ---- request ---------------------------------------------------------- */

struct request_case {
	const char *name;
	const char *text;
	int expected; /* length of the head, or an HTTP_PARSE_ code */
};

static const struct request_case request_cases[] = {
	{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
	{"no headers, HTTP/1.0", "GET /x HTTP/1.0\r\n\r\n", 19},
	{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 24},
	{"leading empty line skipped", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	 29},
	{"body bytes after the head are not part of it",
	 "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 42},
	{"missing version", "GET /\r\n\r\n", HTTP_PARSE_ERROR},
	{"two spaces", "GET  / HTTP/1.1\r\n\r\n", HTTP_PARSE_ERROR},
	{"lowercase http", "GET / http/1.1\r\n\r\n", HTTP_PARSE_ERROR},
	{"version letters", "GET / HTTP/x.1\r\n\r\n", HTTP_PARSE_ERROR},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	 HTTP_PARSE_ERROR},
	{"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", HTTP_PARSE_ERROR},
	{"folded line", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	 HTTP_PARSE_ERROR},
	{"empty header name", "GET / HTTP/1.1\r\n: b\r\n\r\n",
	 HTTP_PARSE_ERROR},
	{"CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", HTTP_PARSE_ERROR},
	{"control byte in value", "GET / HTTP/1.1\r\nA: b\x01z\r\n\r\n",
	 HTTP_PARSE_ERROR},
	{"method with a slash", "GE/T / HTTP/1.1\r\n\r\n", HTTP_PARSE_ERROR},
	{"trailing text after version", "GET / HTTP/1.1 x\r\n\r\n",
	 HTTP_PARSE_ERROR},
};

static void test_request_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]);
	     i++) {
		const struct request_case *tc = &request_cases[i];
		struct http_request req;
		char *copy;
		int rc = parse_request_n(tc->text, strlen(tc->text), &req,
					 &copy);
		free(copy);
		if (rc != tc->expected)
			fail_msg("%s: http_parse_request should return %d, but "
				 "it returned %d",
				 tc->name, tc->expected, rc);
	}
}

static void test_request_fields(void **state)
{
	static const char text[] = "POST /a%20b?q=1 HTTP/1.0\r\n"
				   "Host: example.test \r\n"
				   "Content-Type:\ttext/plain\r\n"
				   "X-Empty:\r\n"
				   "\r\n";
	struct http_request req;
	char *copy;
	(void)state;

	int rc = parse_request_n(text, sizeof(text) - 1, &req, &copy);
	assert_int_equal(rc, (int)sizeof(text) - 1);
	if (!view_is(req.method, req.method_len, "POST") ||
	    !view_is(req.target, req.target_len, "/a%20b?q=1"))
		fail_msg("method and target should be 'POST' and "
			 "'/a%%20b?q=1'");
	if (req.major != 1 || req.minor != 0)
		fail_msg("HTTP/1.0 should give major 1, minor 0; got %d.%d",
			 req.major, req.minor);
	assert_int_equal(req.num_headers, 3);
	if (!view_is(req.headers[0].value, req.headers[0].value_len,
		     "example.test"))
		fail_msg("header values lose the spaces around them: "
			 "'Host: example.test ' -> 'example.test'");
	if (!view_is(req.headers[1].name, req.headers[1].name_len,
		     "Content-Type") ||
	    !view_is(req.headers[1].value, req.headers[1].value_len,
		     "text/plain"))
		fail_msg("a tab after the colon is optional whitespace too");
	assert_int_equal(req.headers[2].value_len, 0);
	free(copy);
}

/* Every prefix of a valid request must be "partial", never an error. */
static void test_request_every_prefix(void **state)
{
	static const char text[] = "GET /index.html HTTP/1.1\r\n"
				   "Host: lab05\r\nAccept: */*\r\n\r\n";
	size_t len = sizeof(text) - 1;
	(void)state;

	for (size_t cut = 0; cut < len; cut++) {
		struct http_request req;
		char *copy;
		int rc = parse_request_n(text, cut, &req, &copy);
		free(copy);
		if (rc != HTTP_PARSE_PARTIAL)
			fail_msg(
				"the first %zu bytes of a valid request should "
				"give HTTP_PARSE_PARTIAL (-2), got %d",
				cut, rc);
	}
}

/* Bad bytes are reported as soon as they are seen, not at the end. */
static void test_request_early_error(void **state)
{
	struct http_request req;
	char *copy;
	(void)state;

	int rc = parse_request_n("G@T / HT", 8, &req, &copy);
	free(copy);
	if (rc != HTTP_PARSE_ERROR)
		fail_msg("'G@T / HT' can never become a request: expected "
			 "HTTP_PARSE_ERROR before the line is complete, got "
			 "%d",
			 rc);
}

static void test_request_too_many_headers(void **state)
{
	char text[HTTP_MAX_HEADERS * 8 + 64];
	size_t len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");
	struct http_request req;
	char *copy;
	(void)state;

	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"A%d: b\r\n", i % 10);
	len += (size_t)snprintf(text + len, sizeof(text) - len, "\r\n");
	int rc = parse_request_n(text, len, &req, &copy);
	free(copy);
	if (rc != HTTP_PARSE_TOO_MANY)
		fail_msg("%d header lines (one over HTTP_MAX_HEADERS) should "
			 "give HTTP_PARSE_TOO_MANY, got %d",
			 HTTP_MAX_HEADERS + 1, rc);
}

/* ---- response and helpers ------------------------------------------------ */

static void test_response_fields(void **state)
{
	static const char text[] = "HTTP/1.1 404 Not Found\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	struct http_response res;
	(void)state;

	char *copy = malloc(sizeof(text) - 1);
	assert_non_null(copy);
	memcpy(copy, text, sizeof(text) - 1);
	int rc = http_parse_response(copy, sizeof(text) - 1, &res);
	assert_int_equal(rc, (int)sizeof(text) - 1 - 5);
	assert_int_equal(res.status, 404);
	if (!view_is(res.reason, res.reason_len, "Not Found"))
		fail_msg("the reason phrase should be 'Not Found'");
	assert_int_equal(res.num_headers, 1);
	for (size_t cut = 0; cut < (size_t)rc; cut++) {
		int prc = http_parse_response(copy, cut, &res);
		if (prc != HTTP_PARSE_PARTIAL)
			fail_msg(
				"the first %zu bytes of a response should give "
				"HTTP_PARSE_PARTIAL, got %d",
				cut, prc);
	}
	free(copy);
}

static void test_response_bad(void **state)
{
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",	"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1200 OK\r\n\r\n",	"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA\r\n\r\n",
	};
	struct http_response res;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = http_parse_response(bad[i], strlen(bad[i]), &res);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("'%.20s...' is not a valid response head: "
				 "expected HTTP_PARSE_ERROR, got %d",
				 bad[i], rc);
	}
	int rc = http_parse_response("HTTP/1.1 204\r\n\r\n", 16, &res);
	if (rc != 16 || res.status != 204 || res.reason_len != 0)
		fail_msg("'HTTP/1.1 204' without a reason phrase should parse "
			 "(rc %d)",
			 rc);
}

static void test_find_header(void **state)
{
	struct http_header h[2] = {{"Host", 4, "a", 1},
				   {"content-length", 14, "12", 2}};
	(void)state;

	assert_ptr_equal(http_find_header(h, 2, "Content-Length"), &h[1]);
	assert_ptr_equal(http_find_header(h, 2, "HOST"), &h[0]);
	assert_null(http_find_header(h, 2, "Hos"));
	assert_null(http_find_header(h, 0, "Host"));
}

static void test_content_length(void **state)
{
	uint64_t n = 7;
	(void)state;

	assert_int_equal(http_parse_content_length("0", 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(http_parse_content_length("1234", 4, &n), 0);
	assert_int_equal(n, 1234);
	static const char *const bad[] = {"",	"-1",	"+1", " 1",
					  "1 ", "0x10", "1,2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (http_parse_content_length(bad[i], strlen(bad[i]), &n) !=
			    -1 ||
		    errno != EINVAL)
			fail_msg("Content-Length '%s' should be refused with "
				 "EINVAL",
				 bad[i]);
	}
	errno = 0;
	if (http_parse_content_length("99999999999999999999999", 23, &n) !=
		    -1 ||
	    errno != ERANGE)
		fail_msg("a huge Content-Length should be refused with ERANGE");
}

static void test_has_token(void **state)
{
	(void)state;
	assert_true(http_has_token("close", 5, "close"));
	assert_true(http_has_token("Keep-Alive, Upgrade", 19, "keep-alive"));
	assert_true(http_has_token("a ,  close ", 11, "close"));
	assert_false(http_has_token("closed", 6, "close"));
	assert_false(http_has_token("", 0, "close"));
}

/* ---- framing ----------------------------------------------------------- */

#define FRAMING_LINES_MAX 3

/* A request whose framing is valid: its body is chunked or of length. */
struct framed_case {
	const char *name;
	const char *lines[FRAMING_LINES_MAX]; /* "Name: value"; HTTP/1.1 */
	int chunked;
	uint64_t length;
};

static const struct framed_case framed_cases[] = {
	{"no body", {"Host: a"}, 0, 0},
	{"Content-Length", {"Content-Length: 42"}, 0, 42},
	{"the same length twice",
	 {"Content-Length: 42", "content-length: 42"},
	 0,
	 42},
	{"chunked", {"Transfer-Encoding: chunked"}, 1, 0},
	{"names in any case", {"transfer-encoding: ChUnKeD"}, 1, 0},
	{"spaces and an empty item", {"Transfer-Encoding: , chunked "}, 1, 0},
};

/* A request refused for its framing, and the status it gets. */
struct refused_case {
	const char *name;
	int minor; /* HTTP/1.minor */
	const char *lines[FRAMING_LINES_MAX];
	int status;
};

static const struct refused_case refused_cases[] = {
	{"two lengths", 1, {"Content-Length: 42", "Content-Length: 43"}, 400},
	{"a length that is not a number", 1, {"Content-Length: 4x"}, 400},
	{"chunked in HTTP/1.0", 0, {"Transfer-Encoding: chunked"}, 400},
	{"chunked and a length",
	 1,
	 {"Transfer-Encoding: chunked", "Content-Length: 5"},
	 400},
	{"a length and chunked",
	 1,
	 {"Content-Length: 5", "Transfer-Encoding: chunked"},
	 400},
	{"gzip alone: no end", 1, {"Transfer-Encoding: gzip"}, 400},
	{"chunked not last", 1, {"Transfer-Encoding: chunked, gzip"}, 400},
	{"chunked twice", 1, {"Transfer-Encoding: chunked, chunked"}, 400},
	{"no coding at all", 1, {"Transfer-Encoding: "}, 400},
	{"a look-alike", 1, {"Transfer-Encoding: xchunked"}, 400},
	{"gzip then chunked", 1, {"Transfer-Encoding: gzip, chunked"}, 501},
	{"a parameter", 1, {"Transfer-Encoding: gzip;level=9 ,chunked"}, 501},
	{"one list on two lines",
	 1,
	 {"Transfer-Encoding: gzip", "Transfer-Encoding: chunked"},
	 501},
	{"two lines, chunked first",
	 1,
	 {"Transfer-Encoding: chunked", "Transfer-Encoding: gzip"},
	 400},
};

/* Fills req with lines ("Name: value") as its header lines. */
static void request_with_lines(struct http_request *req, int minor,
			       const char *const *lines)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->method_len = 4;
	req->target = "/";
	req->target_len = 1;
	req->major = 1;
	req->minor = minor;
	for (size_t i = 0; i < FRAMING_LINES_MAX && lines[i] != NULL; i++) {
		const char *colon = strchr(lines[i], ':');
		struct http_header *h = &req->headers[req->num_headers++];
		h->name = lines[i];
		h->name_len = (size_t)(colon - lines[i]);
		h->value = colon + 1;
		while (*h->value == ' ')
			h->value++;
		h->value_len = strlen(h->value);
		while (h->value_len > 0 && h->value[h->value_len - 1] == ' ')
			h->value_len--;
	}
}

static void test_framing_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(framed_cases) / sizeof(framed_cases[0]);
	     i++) {
		const struct framed_case *fc = &framed_cases[i];
		struct http_request req;
		struct http_framing framing = {-1, 7};

		request_with_lines(&req, 1, fc->lines);
		int status = http_request_framing(&req, &framing);
		if (status != 0 || framing.chunked != fc->chunked ||
		    framing.length != fc->length)
			fail_msg("%s ('%s'...): expected 0, chunked %d and "
				 "length %llu; got %d, chunked %d and length "
				 "%llu",
				 fc->name, fc->lines[0], fc->chunked,
				 (unsigned long long)fc->length, status,
				 framing.chunked,
				 (unsigned long long)framing.length);
	}
}

static void test_framing_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]);
	     i++) {
		const struct refused_case *rc = &refused_cases[i];
		struct http_request req;
		struct http_framing framing;

		request_with_lines(&req, rc->minor, rc->lines);
		int status = http_request_framing(&req, &framing);
		if (status != rc->status)
			fail_msg("%s (HTTP/1.%d, '%s'...): expected status %d, "
				 "got %d",
				 rc->name, rc->minor, rc->lines[0], rc->status,
				 status);
	}
}

/* ---- chunked ----------------------------------------------------------- */

/*
 * Decodes text fed in pieces of `step` bytes; returns the body decoded
 * (NUL-terminated in out) and the final return code.
 */
static ssize_t decode_in_steps(const char *text, size_t step, char *out,
			       size_t outlen, size_t *out_len)
{
	struct http_chunked dec = {0};
	size_t len = strlen(text);
	ssize_t rc = HTTP_PARSE_PARTIAL;

	*out_len = 0;
	for (size_t off = 0; off < len && rc == HTTP_PARSE_PARTIAL;
	     off += step) {
		char piece[256];
		size_t n = len - off < step ? len - off : step;
		memcpy(piece, text + off, n);
		rc = http_decode_chunked(&dec, piece, &n);
		if (rc == HTTP_PARSE_ERROR)
			break;
		if (*out_len + n < outlen) {
			memcpy(out + *out_len, piece, n);
			*out_len += n;
		}
	}
	out[*out_len] = '\0';
	return rc;
}

static void test_chunked_every_step(void **state)
{
	static const char text[] = "4\r\nWiki\r\n6;ext=1\r\npedia \r\n"
				   "E\r\nin \r\n\r\nchunks.\r\n"
				   "10\r\n0123456789abcdef\r\n0\r\n"
				   "Trailer: x\r\n\r\n";
	static const char body[] = "Wikipedia in \r\n\r\nchunks."
				   "0123456789abcdef";
	char out[128];
	size_t out_len;
	(void)state;

	for (size_t step = 1; step <= sizeof(text); step++) {
		ssize_t rc =
			decode_in_steps(text, step, out, sizeof(out), &out_len);
		if (rc != 0)
			fail_msg("fed in pieces of %zu bytes, the complete "
				 "chunked body should end with 0 bytes left "
				 "over, got %zd",
				 step, rc);
		if (out_len != sizeof(body) - 1 ||
		    memcmp(out, body, out_len) != 0)
			fail_msg("fed in pieces of %zu bytes, the body should "
				 "be '%s', got '%s'",
				 step, body, out);
	}
}

static void test_chunked_leftover(void **state)
{
	char buf[] = "3\r\nabc\r\n0\r\n\r\nNEXT";
	size_t len = sizeof(buf) - 1;
	struct http_chunked dec = {0};
	(void)state;

	ssize_t rc = http_decode_chunked(&dec, buf, &len);
	assert_int_equal(rc, 4);
	assert_int_equal(len, 3);
	if (memcmp(buf, "abcNEXT", 7) != 0)
		fail_msg("the bytes after the message should follow the body");
}

static void test_chunked_errors(void **state)
{
	static const char *const bad[] = {"zz\r\n", "\r\n", "3\r\nabcX\r\n",
					  "3\r\nabc\r\n0\rX",
					  "fffffffffffffffffff\r\n"};
	char out[64];
	size_t out_len;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc =
			decode_in_steps(bad[i], 64, out, sizeof(out), &out_len);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("malformed chunked data '%s' should give "
				 "HTTP_PARSE_ERROR, got %zd",
				 bad[i], rc);
	}
	ssize_t rc =
		decode_in_steps("5\r\nhel", 64, out, sizeof(out), &out_len);
	if (rc != HTTP_PARSE_PARTIAL || out_len != 3)
		fail_msg("a chunk cut short is partial with its 3 bytes "
			 "decoded; got rc %zd and %zu bytes",
			 rc, out_len);
}

/* ---- groups ------------------------------------------------------------ */

int main(int argc, char **argv)
{
	/* One group per step of the handout that writes the functions. */
	const struct CMUnitTest request_tests[] = {
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_request_every_prefix),
		cmocka_unit_test(test_request_early_error),
		cmocka_unit_test(test_request_too_many_headers),
		cmocka_unit_test(test_find_header),
	};
	const struct CMUnitTest token_tests[] = {
		cmocka_unit_test(test_has_token),
	};
	const struct CMUnitTest framing_tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_framing_valid),
		cmocka_unit_test(test_framing_refused),
	};
	const struct CMUnitTest chunked_tests[] = {
		cmocka_unit_test(test_chunked_every_step),
		cmocka_unit_test(test_chunked_leftover),
		cmocka_unit_test(test_chunked_errors),
	};
	const struct CMUnitTest response_tests[] = {
		cmocka_unit_test(test_response_fields),
		cmocka_unit_test(test_response_bad),
	};
	static const char *const groups[] = {"request", "token", "framing",
					     "chunked", "response"};
	const char *only = argc > 1 ? argv[1] : NULL;
	int known = only == NULL;
	int failed = 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		known |= only != NULL && strcmp(only, groups[i]) == 0;
	if (!known) {
		fprintf(stderr,
			"usage: %s [request|token|framing|chunked|response]\n",
			argv[0]);
		return 2;
	}
	if (only == NULL || strcmp(only, "request") == 0)
		failed += cmocka_run_group_tests_name("request", request_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "token") == 0)
		failed += cmocka_run_group_tests_name("token", token_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "framing") == 0)
		failed += cmocka_run_group_tests_name("framing", framing_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "chunked") == 0)
		failed += cmocka_run_group_tests_name("chunked", chunked_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "response") == 0)
		failed += cmocka_run_group_tests_name(
			"response", response_tests, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
