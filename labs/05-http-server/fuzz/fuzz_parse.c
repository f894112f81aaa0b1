/*
 * fuzz_parse.c - libFuzzer target for the lab 05 parsers.
 *
 * Feeds each input to http_parse_request and http_parse_response (from a
 * heap copy of exactly its size, so AddressSanitizer catches any read
 * past the end), checks what they return against their contracts (and
 * http_request_framing's on each request head parsed), and runs
 * http_decode_chunked over the input cut in two at a point chosen by
 * its first byte. Build and run it with fuzz/run.sh.
 */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Stops the fuzzer with a crash report: a contract was broken. */
static void check(int ok)
{
	if (!ok)
		abort();
}

/* A view must lie inside buf[0..len). */
static int inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && p + n <= buf + len;
}

static void fuzz_request(const char *buf, size_t len)
{
	struct http_request req;
	int rc = http_parse_request(buf, len, &req);

	check(rc == HTTP_PARSE_ERROR || rc == HTTP_PARSE_PARTIAL ||
	      rc == HTTP_PARSE_TOO_MANY || (rc > 0 && (size_t)rc <= len));
	if (rc <= 0)
		return;
	check(req.method_len > 0 &&
	      inside(req.method, req.method_len, buf, len));
	check(req.target_len > 0 &&
	      inside(req.target, req.target_len, buf, len));
	check(req.num_headers <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < req.num_headers; i++) {
		const struct http_header *h = &req.headers[i];
		check(inside(h->name, h->name_len, buf, len));
		check(inside(h->value, h->value_len, buf, len));
	}
	/* A complete head stays complete, with the same length, when more
	 * bytes follow it: parse the head alone. */
	check(http_parse_request(buf, (size_t)rc, &req) == rc);
	/* The framing of any parsed head: accepted with one framing, or
	 * refused with 400 or 501. */
	struct http_framing framing;
	int status = http_request_framing(&req, &framing);
	check(status == 0 || status == 400 || status == 501);
	check(status != 0 || !framing.chunked || framing.length == 0);
	check(status != 0 || framing.length <= HTTP_MAX_CONTENT_LENGTH);
}

static void fuzz_response(const char *buf, size_t len)
{
	struct http_response res;
	int rc = http_parse_response(buf, len, &res);

	check(rc == HTTP_PARSE_ERROR || rc == HTTP_PARSE_PARTIAL ||
	      rc == HTTP_PARSE_TOO_MANY || (rc > 0 && (size_t)rc <= len));
	if (rc > 0)
		check(res.status >= 100 && res.status <= 999 &&
		      inside(res.reason, res.reason_len, buf, len));
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
	struct http_chunked dec = {0};
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;
	char *copy = malloc(size > 0 ? size : 1);

	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	size_t first = cut;
	ssize_t rc = http_decode_chunked(&dec, copy, &first);
	check(first <= cut);
	if (rc == HTTP_PARSE_PARTIAL) {
		size_t second = size - cut;
		rc = http_decode_chunked(&dec, copy + cut, &second);
		check(second <= size - cut);
	}
	check(rc >= HTTP_PARSE_PARTIAL);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	fuzz_request(buf, size);
	fuzz_response(buf, size);
	free(buf);
	fuzz_chunked(data, size);
	return 0;
}
