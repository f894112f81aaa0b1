/*
 * http_parse.c - the lab 05 parsers. Their contracts are in http_parse.h;
 * the unit tests in tests/test_http_parse.c check them. You write
 * http_parse_request and http_find_header in step 1 of the handout,
 * http_has_token in step 5, http_parse_content_length,
 * http_request_framing and http_decode_chunked in step 8, and
 * http_parse_response in step 10.
 *
 * The rules they follow are in docs/05-http.md, "The request, byte by
 * byte": a token (method, header name) is made of the characters
 * !#$%&'*+-.^_`|~, digits and letters; a line ends in CRLF (accept a
 * lone LF too); a header value loses the spaces and tabs around it.
 */
#include "http_parse.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	/*
	 * TODO (step 1): parse "METHOD SP target SP HTTP/d.d CRLF", then
	 * header lines "Name: value CRLF" up to the blank line.
	 * - Walk the buffer with a pointer and never read at or past
	 *   buf + len. Running out of bytes at any point, while everything
	 *   so far was valid, is HTTP_PARSE_PARTIAL; a byte that cannot
	 *   belong there is HTTP_PARSE_ERROR at once.
	 * - Store views (pointer + length) into buf; never copy, never
	 *   allocate, never write into buf.
	 * - More than HTTP_MAX_HEADERS headers -> HTTP_PARSE_TOO_MANY.
	 * - Return the number of bytes up to and including the blank line.
	 * Small helpers (take_token, take_eol, take_version...) keep each
	 * piece short and testable.
	 */
	(void)buf;
	(void)len;
	(void)req;
	return HTTP_PARSE_ERROR;
}

int http_parse_response(const char *buf, size_t len, struct http_response *res)
{
	/*
	 * TODO (step 10): "HTTP/d.d SP 3DIGIT SP reason CRLF", then the same
	 * header lines as a request: reuse your helpers from step 1.
	 */
	(void)buf;
	(void)len;
	(void)res;
	return HTTP_PARSE_ERROR;
}

const struct http_header *http_find_header(const struct http_header *headers,
					   size_t count, const char *name)
{
	/* TODO (step 1): compare lengths, then strncasecmp(). */
	(void)headers;
	(void)count;
	(void)name;
	return NULL;
}

int http_parse_content_length(const char *value, size_t len, uint64_t *out)
{
	/*
	 * TODO (step 8): digits only (no sign, no spaces, not empty) ->
	 * EINVAL otherwise; stop with ERANGE as soon as the value passes
	 * HTTP_MAX_CONTENT_LENGTH, before it can overflow.
	 */
	(void)value;
	(void)len;
	(void)out;
	errno = ENOSYS;
	return -1;
}

int http_has_token(const char *value, size_t len, const char *token)
{
	/*
	 * TODO (step 5): split value at commas, trim spaces and tabs from
	 * each item, compare it with token ignoring case.
	 */
	(void)value;
	(void)len;
	(void)token;
	return 0;
}

int http_request_framing(const struct http_request *req,
			 struct http_framing *framing)
{
	/*
	 * TODO (step 8): go through the header lines once.
	 * - Content-Length: http_parse_content_length(); a bad value, or
	 *   a second line with another value -> 400.
	 * - Transfer-Encoding: a comma-separated list of codings, maybe on
	 *   several lines; count them, count "chunked", note whether the
	 *   last one is chunked (drop ";parameters", trim spaces).
	 * Then the rules in http_parse.h, in that order. See
	 * docs/05-http.md, "Chunked request bodies". Until then, every
	 * request is taken to have no body.
	 */
	(void)req;
	framing->chunked = 0;
	framing->length = 0;
	return 0;
}

ssize_t http_decode_chunked(struct http_chunked *dec, char *buf, size_t *len)
{
	/*
	 * TODO (step 8): a small state machine, one byte at a time except
	 * inside chunk data (copy whole runs with memmove). States: size
	 * digits (hex), extension up to LF, LF after CR, data, CRLF after
	 * data, trailer lines, final CRLF. Keep the state in *dec: the next
	 * call continues where this one stopped. See docs/05-http.md,
	 * "Chunked transfer coding".
	 */
	(void)dec;
	(void)buf;
	*len = 0;
	return HTTP_PARSE_ERROR;
}
