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
 *
 * Each row of a table is a case of its own (the groups are built at run
 * time, see main), so a function that gets some rows right earns a share
 * of the group's points, and every failure is a sentence that names the
 * row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_cases.h" /* cmocka, and groups of table-driven cases */

#include "http_parse.h"

/* Parses text[0..len) from a heap copy of exactly len bytes. */
static int parse_request_n(const char *text, size_t len,
			   struct http_request *req, char **copy)
{
	*copy = malloc(len > 0 ? len : 1);
	if (*copy == NULL)
		fail_msg("the test could not allocate %zu bytes", len);
	memcpy(*copy, text, len);
	return http_parse_request(*copy, len, req);
}

static int view_is(const char *p, size_t len, const char *expected)
{
	return len == strlen(expected) && memcmp(p, expected, len) == 0;
}

/*
 * The baselines: a row that expects a refusal (an error, NULL, false)
 * counts only once the function handles one plain valid input, so that
 * a stub that always refuses earns nothing.
 */
#define BASELINE_FAIL(fn, input, want)                                         \
	fail_msg("%s does not handle a plain valid input yet (%s should give " \
		 "%s): a refusal counts only once valid input is accepted",    \
		 fn, input, want)

static void baseline_request(void)
{
	static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_request req;
	char *copy;
	int rc = parse_request_n(text, sizeof(text) - 1, &req, &copy);

	free(copy);
	if (rc != (int)sizeof(text) - 1)
		BASELINE_FAIL("http_parse_request",
			      "'GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n'",
			      "27, its length");
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

static void test_request_row(void **state)
{
	const struct request_case *tc = *state;
	struct http_request req;
	char *copy;

	if (tc->expected < 0)
		baseline_request();
	int rc = parse_request_n(tc->text, strlen(tc->text), &req, &copy);

	free(copy);
	if (rc != tc->expected)
		fail_msg("%s: http_parse_request should return %d, but it "
			 "returned %d",
			 tc->name, tc->expected, rc);
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
	if (rc != (int)sizeof(text) - 1)
		fail_msg("a valid head of %d bytes with three headers: "
			 "http_parse_request should return %d, but it returned "
			 "%d",
			 (int)sizeof(text) - 1, (int)sizeof(text) - 1, rc);
	if (!view_is(req.method, req.method_len, "POST") ||
	    !view_is(req.target, req.target_len, "/a%20b?q=1"))
		fail_msg("method and target should be 'POST' and "
			 "'/a%%20b?q=1'");
	if (req.major != 1 || req.minor != 0)
		fail_msg("HTTP/1.0 should give major 1, minor 0; got %d.%d",
			 req.major, req.minor);
	if (req.num_headers != 3)
		fail_msg("the head has 3 header lines (Host, Content-Type, "
			 "X-Empty), but num_headers is %zu",
			 req.num_headers);
	if (!view_is(req.headers[0].value, req.headers[0].value_len,
		     "example.test"))
		fail_msg("header values lose the spaces around them: "
			 "'Host: example.test ' -> 'example.test'");
	if (!view_is(req.headers[1].name, req.headers[1].name_len,
		     "Content-Type") ||
	    !view_is(req.headers[1].value, req.headers[1].value_len,
		     "text/plain"))
		fail_msg("a tab after the colon is optional whitespace too");
	if (req.headers[2].value_len != 0)
		fail_msg("'X-Empty:' has an empty value, but value_len is %zu",
			 req.headers[2].value_len);
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

	baseline_request();
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
	if (copy == NULL)
		fail_msg("the test could not allocate %zu bytes",
			 sizeof(text) - 1);
	memcpy(copy, text, sizeof(text) - 1);
	int rc = http_parse_response(copy, sizeof(text) - 1, &res);
	if (rc != (int)sizeof(text) - 1 - 5)
		fail_msg("'HTTP/1.1 404 Not Found', one header, then a 5-byte "
			 "body: http_parse_response should return the head's "
			 "length, %d, but it returned %d",
			 (int)sizeof(text) - 1 - 5, rc);
	if (res.status != 404)
		fail_msg(
			"the status of 'HTTP/1.1 404 Not Found' should be 404, "
			"but it was %d",
			res.status);
	if (!view_is(res.reason, res.reason_len, "Not Found"))
		fail_msg("the reason phrase should be 'Not Found'");
	if (res.num_headers != 1)
		fail_msg("the response has 1 header line, but num_headers is "
			 "%zu",
			 res.num_headers);
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

/* A row of input that must be refused, and what it shows. */
struct named_text {
	const char *name;
	const char *text;
};

/* Response heads that are not valid: each must give HTTP_PARSE_ERROR. */
static const struct named_text bad_responses[] = {
	{"a 2-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
	{"a status in letters", "HTTP/1.1 abc OK\r\n\r\n"},
	{"no space after the version", "HTTP/1.1200 OK\r\n\r\n"},
	{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"},
	{"a header line without ':'", "HTTP/1.1 200 OK\r\nA\r\n\r\n"},
};

static void test_response_bad_row(void **state)
{
	const struct named_text *row = *state;
	struct http_response res;

	if (http_parse_response("HTTP/1.1 200 OK\r\n\r\n", 19, &res) != 19)
		BASELINE_FAIL("http_parse_response",
			      "'HTTP/1.1 200 OK\\r\\n\\r\\n'",
			      "19, its length");
	int rc = http_parse_response(row->text, strlen(row->text), &res);
	if (rc != HTTP_PARSE_ERROR)
		fail_msg("%s ('%.20s...') is not a valid response head: "
			 "expected HTTP_PARSE_ERROR (%d), got %d",
			 row->name, row->text, HTTP_PARSE_ERROR, rc);
}

static void test_response_no_reason(void **state)
{
	struct http_response res;
	(void)state;

	int rc = http_parse_response("HTTP/1.1 204\r\n\r\n", 16, &res);
	if (rc != 16 || res.status != 204 || res.reason_len != 0)
		fail_msg("'HTTP/1.1 204' without a reason phrase should parse "
			 "(rc %d)",
			 rc);
}

/* What a header lookup should find: the index in the list, or -1. */
struct find_case {
	const char *name;
	size_t count; /* headers searched, of the two */
	int expected;
};

static const struct find_case find_cases[] = {
	{"Content-Length", 2, 1},
	{"HOST", 2, 0},
	{"Hos", 2, -1},
	{"Host", 0, -1},
};

static void test_find_header_row(void **state)
{
	const struct find_case *fc = *state;
	struct http_header h[2] = {{"Host", 4, "a", 1},
				   {"content-length", 14, "12", 2}};

	if (fc->expected < 0 && http_find_header(h, 2, "Host") != &h[0])
		BASELINE_FAIL("http_find_header",
			      "\"Host\" among Host and content-length",
			      "the first header");
	const struct http_header *got =
		http_find_header(h, fc->count, fc->name);
	const struct http_header *want =
		fc->expected < 0 ? NULL : &h[fc->expected];
	if (got == want)
		return;
	if (want == NULL)
		fail_msg("http_find_header(\"%s\") among %zu headers (Host, "
			 "content-length) should return NULL, but it returned "
			 "a header%s",
			 fc->name, fc->count,
			 fc->count == 0 ? " from an empty list" : "");
	fail_msg("http_find_header(\"%s\") among the headers Host and "
		 "content-length should return the %s one (names match in any "
		 "case), but it returned %s",
		 fc->name, fc->expected == 0 ? "first" : "second",
		 got == NULL ? "NULL" : "the other one");
}

/* A Content-Length value, and what it must give: a length or an errno. */
struct length_case {
	const char *value;
	uint64_t length;
	int err; /* 0: valid */
};

static const struct length_case length_cases[] = {
	{"0", 0, 0},	    {"1234", 1234, 0},
	{"", 0, EINVAL},    {"-1", 0, EINVAL},
	{"+1", 0, EINVAL},  {" 1", 0, EINVAL},
	{"1 ", 0, EINVAL},  {"0x10", 0, EINVAL},
	{"1,2", 0, EINVAL}, {"99999999999999999999999", 0, ERANGE},
};

static void test_content_length_row(void **state)
{
	const struct length_case *lc = *state;
	uint64_t n = 7;

	if (lc->err != 0 &&
	    (http_parse_content_length("12", 2, &n) != 0 || n != 12))
		BASELINE_FAIL("http_parse_content_length", "'12'",
			      "0 and the length 12");
	errno = 0;
	int rc = http_parse_content_length(lc->value, strlen(lc->value), &n);
	if (lc->err == 0 && (rc != 0 || n != lc->length))
		fail_msg("Content-Length '%s' should give 0 and the length "
			 "%llu; it gave %d and %llu",
			 lc->value, (unsigned long long)lc->length, rc,
			 (unsigned long long)n);
	if (lc->err != 0 && (rc != -1 || errno != lc->err))
		fail_msg("Content-Length '%s' should be refused: -1 with errno "
			 "%s; it gave %d (errno %s)",
			 lc->value, strerror(lc->err), rc, strerror(errno));
}

/* A Connection-style value, a token, and whether it holds the token. */
struct token_case {
	const char *value;
	const char *token;
	int expected;
};

static const struct token_case token_cases[] = {
	{"close", "close", 1},
	{"Keep-Alive, Upgrade", "keep-alive", 1},
	{"a ,  close ", "close", 1},
	{"closed", "close", 0},
	{"", "close", 0},
};

static void test_has_token_row(void **state)
{
	const struct token_case *tc = *state;

	if (!tc->expected && !http_has_token("close", 5, "close"))
		BASELINE_FAIL("http_has_token", "(\"close\", \"close\")",
			      "true");
	int got = http_has_token(tc->value, strlen(tc->value), tc->token);
	if ((got != 0) != tc->expected)
		fail_msg("http_has_token(\"%s\", \"%s\") should be %s, but it "
			 "returned %d",
			 tc->value, tc->token,
			 tc->expected ? "true (nonzero): tokens are "
					"comma-separated, any case, spaces "
					"around them"
				      : "false (0): a token must match whole",
			 got);
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

/* Content-Length: 42 must give length 42 before any other row counts. */
static void baseline_framing(void)
{
	static const char *const lines[FRAMING_LINES_MAX] = {
		"Content-Length: 42"};
	struct http_request req;
	struct http_framing framing = {-1, 7};

	request_with_lines(&req, 1, lines);
	if (http_request_framing(&req, &framing) != 0 || framing.chunked != 0 ||
	    framing.length != 42)
		BASELINE_FAIL("http_request_framing", "'Content-Length: 42'",
			      "0, not chunked, length 42");
}

static void test_framing_valid_row(void **state)
{
	const struct framed_case *fc = *state;
	struct http_request req;
	struct http_framing framing = {-1, 7};

	baseline_framing();
	request_with_lines(&req, 1, fc->lines);
	int status = http_request_framing(&req, &framing);
	if (status != 0 || framing.chunked != fc->chunked ||
	    framing.length != fc->length)
		fail_msg("%s ('%s'...): expected 0, chunked %d and length "
			 "%llu; got %d, chunked %d and length %llu",
			 fc->name, fc->lines[0], fc->chunked,
			 (unsigned long long)fc->length, status,
			 framing.chunked, (unsigned long long)framing.length);
}

static void test_framing_refused_row(void **state)
{
	const struct refused_case *rc = *state;
	struct http_request req;
	struct http_framing framing;

	baseline_framing();
	request_with_lines(&req, rc->minor, rc->lines);
	int status = http_request_framing(&req, &framing);
	if (status != rc->status)
		fail_msg("%s (HTTP/1.%d, '%s'...): expected status %d, got %d",
			 rc->name, rc->minor, rc->lines[0], rc->status, status);
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
	if (rc != 4 || len != 3)
		fail_msg("\"3\\r\\nabc\\r\\n0\\r\\n\\r\\nNEXT\": the body "
			 "is 3 bytes and 4 bytes follow the message, so "
			 "http_decode_chunked should return 4 with *len 3; it "
			 "returned %zd with *len %zu",
			 rc, len);
	if (memcmp(buf, "abcNEXT", 7) != 0)
		fail_msg("the bytes after the message should follow the body");
}

/* Malformed chunked data: each must give HTTP_PARSE_ERROR. */
static const struct named_text bad_chunks[] = {
	{"a size that is not hex", "zz\r\n"},
	{"an empty size line", "\r\n"},
	{"no CRLF after the data", "3\r\nabcX\r\n"},
	{"a bare CR in the last chunk", "3\r\nabc\r\n0\rX"},
	{"a size over 64 bits", "fffffffffffffffffff\r\n"},
};

static void test_chunked_error_row(void **state)
{
	const struct named_text *row = *state;
	char out[64];
	size_t out_len;

	if (decode_in_steps("3\r\nabc\r\n0\r\n\r\n", 64, out, sizeof(out),
			    &out_len) != 0)
		BASELINE_FAIL("http_decode_chunked",
			      "'3\\r\\nabc\\r\\n0\\r\\n\\r\\n'",
			      "0 (no byte after the body) and 'abc'");
	ssize_t rc = decode_in_steps(row->text, 64, out, sizeof(out), &out_len);
	if (rc != HTTP_PARSE_ERROR)
		fail_msg("malformed chunked data, %s ('%s'), should give "
			 "HTTP_PARSE_ERROR (%d), got %zd",
			 row->name, row->text, HTTP_PARSE_ERROR, rc);
}

static void test_chunked_cut_short(void **state)
{
	char out[64];
	size_t out_len;
	(void)state;

	ssize_t rc =
		decode_in_steps("5\r\nhel", 64, out, sizeof(out), &out_len);
	if (rc != HTTP_PARSE_PARTIAL || out_len != 3)
		fail_msg("a chunk cut short is partial with its 3 bytes "
			 "decoded; got rc %zd and %zu bytes",
			 rc, out_len);
}

/* ---- groups ------------------------------------------------------------ */

#define ROWS(table) (sizeof(table) / sizeof((table)[0]))

static void request_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(request_cases); i++)
		add_named_case(g, "request: ", request_cases[i].name,
			       test_request_row, &request_cases[i]);
	add_plain_case(g, "request fields", test_request_fields);
	add_plain_case(g, "every prefix is partial", test_request_every_prefix);
	add_plain_case(g, "an error as soon as it is seen",
		       test_request_early_error);
	add_plain_case(g, "too many headers", test_request_too_many_headers);
	for (size_t i = 0; i < ROWS(find_cases); i++)
		add_named_case(g, "find header: ", find_cases[i].name,
			       test_find_header_row, &find_cases[i]);
}

static void token_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(token_cases); i++)
		add_named_case(g, "token: ", token_cases[i].value,
			       test_has_token_row, &token_cases[i]);
}

static void framing_group(struct case_list *g)
{
	for (size_t i = 0; i < ROWS(length_cases); i++)
		add_named_case(g, "Content-Length: ", length_cases[i].value,
			       test_content_length_row, &length_cases[i]);
	for (size_t i = 0; i < ROWS(framed_cases); i++)
		add_named_case(g, "framed: ", framed_cases[i].name,
			       test_framing_valid_row, &framed_cases[i]);
	for (size_t i = 0; i < ROWS(refused_cases); i++)
		add_named_case(g, "refused: ", refused_cases[i].name,
			       test_framing_refused_row, &refused_cases[i]);
}

static void chunked_group(struct case_list *g)
{
	add_plain_case(g, "every step", test_chunked_every_step);
	add_plain_case(g, "leftover", test_chunked_leftover);
	for (size_t i = 0; i < ROWS(bad_chunks); i++)
		add_named_case(g, "malformed: ", bad_chunks[i].name,
			       test_chunked_error_row, &bad_chunks[i]);
	add_plain_case(g, "cut short", test_chunked_cut_short);
}

static void response_group(struct case_list *g)
{
	add_plain_case(g, "response fields", test_response_fields);
	for (size_t i = 0; i < ROWS(bad_responses); i++)
		add_named_case(g, "bad response: ", bad_responses[i].name,
			       test_response_bad_row, &bad_responses[i]);
	add_plain_case(g, "no reason phrase", test_response_no_reason);
}

int main(int argc, char **argv)
{
	/* One group per step of the handout that writes the functions. */
	static const struct case_group groups[] = {
		{"request", request_group},   {"token", token_group},
		{"framing", framing_group},   {"chunked", chunked_group},
		{"response", response_group},
	};

	return run_case_groups(groups, ROWS(groups), argc, argv);
}
