/*
 * http_parse.c - the lab 05 parsers. Their contracts are in http_parse.h;
 * the unit tests in tests/test_http_parse.c check them. You write
 * http_parse_request and http_find_header in step 1 of the handout,
 * http_target_path in step 4, http_has_token and http_check_headers in
 * step 5 (which grows in steps 6 and 8), http_parse_content_length,
 * http_request_framing and http_decode_chunked in step 8, and
 * http_parse_response in step 10. The servers' small helpers at the end
 * (http_method_is, http_reason_phrase, ...) are provided.
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

int http_check_headers(const struct http_request *req,
		       struct http_request_info *info)
{
	/*
	 * TODO (step 5): read the header lines that decide how the
	 * connection goes on. Connection: close ends it after this answer;
	 * an HTTP/1.0 request ends it unless it asks for keep-alive (tokens
	 * compared with http_has_token). Step 6: an HTTP/1.1 request needs
	 * exactly one Host (400 otherwise). Step 8: the body's framing comes
	 * from http_request_framing(), and Expect: 100-continue is noted.
	 * See docs/05-http.md, "Keep-alive and pipelining".
	 */
	(void)req;
	info->keep_alive = 0;
	info->chunked = 0;
	info->body_len = 0;
	info->expect_continue = 0;
	return 500;
}

int http_target_path(const struct http_request *req, const char **path,
		     size_t *len)
{
	/*
	 * TODO (step 4): the path part of the request target, as a view into
	 * the request: "/p?q" gives "/p", and so does the absolute form
	 * "http://host/p?q" that proxies send. Anything that does not start
	 * with '/' after that is malformed.
	 */
	(void)req;
	(void)path;
	(void)len;
	errno = ENOSYS;
	return -1;
}

/* Provided: the servers' small helpers. */

int http_method_is(const struct http_request *req, const char *name)
{
	return strlen(name) == req->method_len &&
	       memcmp(req->method, name, req->method_len) == 0;
}

int http_method_is_known(const struct http_request *req)
{
	static const char *const known[] = {"GET",     "HEAD",	 "POST",
					    "PUT",     "DELETE", "CONNECT",
					    "OPTIONS", "TRACE",	 "PATCH"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (http_method_is(req, known[i]))
			return 1;
	}
	return 0;
}

const char *http_reason_phrase(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 301:
		return "Moved Permanently";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

ssize_t http_decode_chunked(struct http_chunked *dec, char *buf, size_t *len)
{
	/*
	 * TODO (step 8): a small state machine, one byte at a time except
	 * inside chunk data (copy whole runs with memmove). States: size
	 * digits (hex: http_hex_value), extension up to LF, LF after CR,
	 * data, CRLF after data, trailer lines, final CRLF. Keep the state
	 * in *dec: the next call continues where this one stopped. See
	 * docs/05-http.md, "Chunked transfer coding".
	 */
	(void)dec;
	(void)buf;
	*len = 0;
	return HTTP_PARSE_ERROR;
}
