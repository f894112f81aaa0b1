/*
 * http_parse.c - reference HTTP/1.1 head parsers, the request checks the
 * servers share, and the chunked decoder (lab 05). Contracts are in
 * ../http_parse.h; the grammar is RFC 9112.
 */
#include "http_parse.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* States of the chunked decoder (struct http_chunked.state). */
enum chunk_state {
	CHUNK_SIZE = 0, /* reading hex digits of a chunk size */
	CHUNK_EXT,	/* skipping ";name=value" up to the line end */
	CHUNK_SIZE_LF,	/* a CR ended the size line; the LF must follow */
	CHUNK_DATA,	/* copying chunk_left data bytes */
	CHUNK_DATA_CR,	/* the CRLF after a chunk's data */
	CHUNK_DATA_LF,
	CHUNK_TRAILER_START, /* start of a trailer line, or the final CRLF */
	CHUNK_TRAILER_LINE,  /* skipping a trailer field line */
	CHUNK_FINAL_LF,
};

/* Chunk sizes above this are refused (they would overflow soon after). */
#define CHUNK_SIZE_MAX_DIGITS 15

/* The bytes being parsed, and where the parser is in them. */
struct cursor {
	const char *p;
	const char *end;
};

/*
 * tchar from RFC 9110 section 5.6.2: the characters of a token (method,
 * header name).
 */
static int is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 1;
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed inside a field value: visible, obs-text, SP or HTAB. */
static int is_field_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/*
 * Skips a token; returns its length (0 if none), or HTTP_PARSE_PARTIAL if
 * the buffer ends inside it.
 */
static int take_token(struct cursor *c, const char **start, size_t *len)
{
	*start = c->p;
	while (c->p < c->end && is_tchar((unsigned char)*c->p))
		c->p++;
	if (c->p == c->end)
		return HTTP_PARSE_PARTIAL;
	*len = (size_t)(c->p - *start);
	return (int)*len;
}

/*
 * Expects the line end: CRLF, or a lone LF. Returns 1 when found, 0 when
 * something else is there, HTTP_PARSE_PARTIAL when the buffer ends first.
 */
static int take_eol(struct cursor *c)
{
	if (c->p == c->end)
		return HTTP_PARSE_PARTIAL;
	if (*c->p == '\n') {
		c->p++;
		return 1;
	}
	if (*c->p != '\r')
		return 0;
	if (c->p + 1 == c->end)
		return HTTP_PARSE_PARTIAL;
	if (c->p[1] != '\n')
		return 0;
	c->p += 2;
	return 1;
}

/*
 * Expects the literal text; 1 if there, 0 if not, HTTP_PARSE_PARTIAL if
 * the buffer ends while it still matches.
 */
static int take_literal(struct cursor *c, const char *text)
{
	for (; *text != '\0'; text++, c->p++) {
		if (c->p == c->end)
			return HTTP_PARSE_PARTIAL;
		if (*c->p != *text)
			return 0;
	}
	return 1;
}

/* One decimal digit: its value, -1 if not a digit, PARTIAL at the end. */
static int take_digit(struct cursor *c)
{
	if (c->p == c->end)
		return HTTP_PARSE_PARTIAL;
	if (*c->p < '0' || *c->p > '9')
		return -1;
	return *c->p++ - '0';
}

/* "HTTP/d.d". Returns 1, or HTTP_PARSE_ERROR / HTTP_PARSE_PARTIAL. */
static int take_version(struct cursor *c, int *major, int *minor)
{
	int rc = take_literal(c, "HTTP/");
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	*major = take_digit(c);
	if (*major < 0)
		return *major == HTTP_PARSE_PARTIAL ? *major : HTTP_PARSE_ERROR;
	rc = take_literal(c, ".");
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	*minor = take_digit(c);
	if (*minor < 0)
		return *minor == HTTP_PARSE_PARTIAL ? *minor : HTTP_PARSE_ERROR;
	return 1;
}

/* Removes spaces and tabs from both ends of a view. */
static void trim_ows(const char **start, size_t *len)
{
	while (*len > 0 && (**start == ' ' || **start == '\t')) {
		(*start)++;
		(*len)--;
	}
	while (*len > 0 &&
	       ((*start)[*len - 1] == ' ' || (*start)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * One "Name: value" line, or the blank line that ends the head.
 * Returns 1 for a header (stored in *h), 0 for the blank line, or
 * HTTP_PARSE_ERROR / HTTP_PARSE_PARTIAL.
 */
static int take_header(struct cursor *c, struct http_header *h)
{
	int rc = take_eol(c);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	/* A line starting with SP or HTAB is obsolete line folding: refused. */
	rc = take_token(c, &h->name, &h->name_len);
	if (rc < 0)
		return rc;
	if (rc == 0 || *c->p != ':')
		return HTTP_PARSE_ERROR;
	c->p++;
	h->value = c->p;
	while (c->p < c->end && is_field_byte((unsigned char)*c->p))
		c->p++;
	h->value_len = (size_t)(c->p - h->value);
	rc = take_eol(c);
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	trim_ows(&h->value, &h->value_len);
	return 1;
}

/*
 * The header lines and the blank line after them. Returns 1, or one of
 * the HTTP_PARSE_ codes.
 */
static int take_headers(struct cursor *c, struct http_header *headers,
			size_t *count)
{
	struct http_header h;
	int rc;

	*count = 0;
	while ((rc = take_header(c, &h)) == 1) {
		if (*count == HTTP_MAX_HEADERS)
			return HTTP_PARSE_TOO_MANY;
		headers[(*count)++] = h;
	}
	return rc == 0 ? 1 : rc;
}

/* The request target: visible bytes up to the next space. */
static int take_target(struct cursor *c, const char **start, size_t *len)
{
	*start = c->p;
	while (c->p < c->end && (unsigned char)*c->p > 0x20 && *c->p != 0x7f)
		c->p++;
	if (c->p == c->end)
		return HTTP_PARSE_PARTIAL;
	*len = (size_t)(c->p - *start);
	return *len > 0 && *c->p == ' ' ? 1 : HTTP_PARSE_ERROR;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	struct cursor c = {buf, buf + len};
	int rc;

	/* RFC 9112 section 2.2: ignore empty lines before the request line. */
	while ((rc = take_eol(&c)) == 1)
		;
	if (rc == HTTP_PARSE_PARTIAL)
		return rc;
	rc = take_token(&c, &req->method, &req->method_len);
	if (rc < 0)
		return rc;
	if (rc == 0 || *c.p != ' ')
		return HTTP_PARSE_ERROR;
	c.p++;
	rc = take_target(&c, &req->target, &req->target_len);
	if (rc != 1)
		return rc;
	c.p++;
	rc = take_version(&c, &req->major, &req->minor);
	if (rc != 1)
		return rc;
	rc = take_eol(&c);
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	rc = take_headers(&c, req->headers, &req->num_headers);
	if (rc != 1)
		return rc;
	return (int)(c.p - buf);
}

int http_parse_response(const char *buf, size_t len, struct http_response *res)
{
	struct cursor c = {buf, buf + len};
	int rc = take_version(&c, &res->major, &res->minor);
	if (rc != 1)
		return rc;
	rc = take_literal(&c, " ");
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	res->status = 0;
	for (int i = 0; i < 3; i++) {
		int d = take_digit(&c);
		if (d < 0)
			return d == HTTP_PARSE_PARTIAL ? d : HTTP_PARSE_ERROR;
		res->status = res->status * 10 + d;
	}
	if (res->status < 100)
		return HTTP_PARSE_ERROR;
	/* The reason phrase, after one space; some servers send none. */
	res->reason = c.p;
	if (c.p < c.end && *c.p == ' ') {
		res->reason = ++c.p;
		while (c.p < c.end && is_field_byte((unsigned char)*c.p))
			c.p++;
	}
	res->reason_len = (size_t)(c.p - res->reason);
	rc = take_eol(&c);
	if (rc != 1)
		return rc == 0 ? HTTP_PARSE_ERROR : rc;
	rc = take_headers(&c, res->headers, &res->num_headers);
	if (rc != 1)
		return rc;
	return (int)(c.p - buf);
}

const struct http_header *http_find_header(const struct http_header *headers,
					   size_t count, const char *name)
{
	size_t name_len = strlen(name);

	for (size_t i = 0; i < count; i++) {
		if (headers[i].name_len == name_len &&
		    strncasecmp(headers[i].name, name, name_len) == 0)
			return &headers[i];
	}
	return NULL;
}

int http_parse_content_length(const char *value, size_t len, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		n = n * 10 + (uint64_t)(value[i] - '0');
		if (n > HTTP_MAX_CONTENT_LENGTH) {
			errno = ERANGE;
			return -1;
		}
	}
	*out = n;
	return 0;
}

/*
 * Takes the next item of a comma-separated list value[*pos..len), without
 * the spaces around it, and moves *pos past its comma. Returns 0, or -1
 * at the end of the list.
 */
static int next_list_item(const char *value, size_t len, size_t *pos,
			  const char **item, size_t *item_len)
{
	if (*pos >= len)
		return -1;
	*item = value + *pos;
	*item_len = 0;
	while (*pos < len && value[*pos] != ',') {
		(*pos)++;
		(*item_len)++;
	}
	(*pos)++; /* the comma */
	trim_ows(item, item_len);
	return 0;
}

int http_has_token(const char *value, size_t len, const char *token)
{
	size_t token_len = strlen(token);
	size_t pos = 0;
	const char *item;
	size_t item_len;

	while (next_list_item(value, len, &pos, &item, &item_len) == 0) {
		if (item_len == token_len &&
		    strncasecmp(item, token, token_len) == 0)
			return 1;
	}
	return 0;
}

/* Is h named name? */
static int header_is(const struct http_header *h, const char *name)
{
	return http_find_header(h, 1, name) != NULL;
}

/* The transfer codings of a request, in the order they were applied. */
struct codings {
	int lines; /* Transfer-Encoding header lines */
	int count;
	int chunked; /* how many of them are "chunked" */
	int last_is_chunked;
};

/* Adds the codings listed in one Transfer-Encoding value to *codings. */
static void add_codings(const char *value, size_t len, struct codings *codings)
{
	static const char chunked[] = "chunked";
	size_t pos = 0;
	const char *item;
	size_t item_len;

	codings->lines++;
	while (next_list_item(value, len, &pos, &item, &item_len) == 0) {
		const char *params = memchr(item, ';', item_len);
		if (params != NULL) {
			item_len = (size_t)(params - item);
			trim_ows(&item, &item_len);
		}
		if (item_len == 0)
			continue; /* "a, , b": empty items do not count */
		int is_chunked = item_len == sizeof(chunked) - 1 &&
				 strncasecmp(item, chunked, item_len) == 0;
		codings->count++;
		codings->chunked += is_chunked;
		codings->last_is_chunked = is_chunked;
	}
}

int http_request_framing(const struct http_request *req,
			 struct http_framing *framing)
{
	struct codings codings = {0, 0, 0, 0};
	int has_length = 0;

	framing->chunked = 0;
	framing->length = 0;
	for (size_t i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];
		uint64_t n;

		if (header_is(h, "Content-Length")) {
			if (http_parse_content_length(h->value, h->value_len,
						      &n) < 0 ||
			    (has_length && n != framing->length))
				return 400;
			framing->length = n;
			has_length = 1;
		} else if (header_is(h, "Transfer-Encoding")) {
			add_codings(h->value, h->value_len, &codings);
		}
	}
	if (codings.lines == 0)
		return 0;
	/* HTTP/1.0 has no transfer codings; with a length, one side lies. */
	if (req->minor == 0 || has_length)
		return 400;
	/* Without chunked last, nothing says where the body ends. */
	if (!codings.last_is_chunked || codings.chunked > 1)
		return 400;
	if (codings.count > 1)
		return 501;
	framing->length = 0;
	framing->chunked = 1;
	return 0;
}

int http_check_headers(const struct http_request *req,
		       struct http_request_info *info)
{
	struct http_framing framing;
	int hosts = 0;
	int close_asked = 0;
	int keep_asked = 0;

	info->expect_continue = 0;
	for (size_t i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (header_is(h, "Host")) {
			hosts++;
		} else if (header_is(h, "Connection")) {
			close_asked |=
				http_has_token(h->value, h->value_len, "close");
			keep_asked |= http_has_token(h->value, h->value_len,
						     "keep-alive");
		} else if (header_is(h, "Expect")) {
			info->expect_continue = http_has_token(
				h->value, h->value_len, "100-continue");
		}
	}
	if (req->minor >= 1)
		info->keep_alive = !close_asked;
	else
		info->keep_alive = keep_asked && !close_asked;
	if (req->minor >= 1 && hosts != 1)
		return 400; /* RFC 9112 section 3.2 */
	if (hosts > 1)
		return 400;
	int status = http_request_framing(req, &framing);
	info->chunked = framing.chunked;
	info->body_len = framing.length;
	return status;
}

int http_target_path(const struct http_request *req, const char **path,
		     size_t *len)
{
	static const char scheme[] = "http://";
	const size_t scheme_len = sizeof(scheme) - 1;
	const char *t = req->target;
	const char *end = t + req->target_len;

	/* The absolute form: skip the scheme and the host. */
	if (req->target_len > scheme_len &&
	    strncasecmp(t, scheme, scheme_len) == 0) {
		t += scheme_len;
		while (t < end && *t != '/' && *t != '?')
			t++;
	}
	if (t == end || *t != '/')
		return -1;
	*path = t;
	*len = 0;
	while (t + *len < end && t[*len] != '?' && t[*len] != '#')
		(*len)++;
	return 0;
}

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

/* The size line ended: go to the data, or to the trailers after size 0. */
static int end_size_line(struct http_chunked *dec)
{
	if (dec->size_digits == 0)
		return HTTP_PARSE_ERROR;
	dec->size_digits = 0;
	dec->state = dec->chunk_left == 0 ? CHUNK_TRAILER_START : CHUNK_DATA;
	return 0;
}

/*
 * Handles one byte of a size line. Returns 0, or HTTP_PARSE_ERROR.
 */
static int size_line_byte(struct http_chunked *dec, unsigned char ch)
{
	int v;

	switch (dec->state) {
	case CHUNK_SIZE:
		v = http_hex_value(ch);
		if (v >= 0) {
			if (++dec->size_digits > CHUNK_SIZE_MAX_DIGITS)
				return HTTP_PARSE_ERROR;
			dec->chunk_left = dec->chunk_left * 16 + (uint64_t)v;
			return 0;
		}
		if (ch == ';' || ch == ' ' || ch == '\t') {
			dec->state = CHUNK_EXT;
			return 0;
		}
		if (ch == '\r') {
			dec->state = CHUNK_SIZE_LF;
			return 0;
		}
		return ch == '\n' ? end_size_line(dec) : HTTP_PARSE_ERROR;
	case CHUNK_EXT:
		return ch == '\n' ? end_size_line(dec) : 0;
	default: /* CHUNK_SIZE_LF */
		return ch == '\n' ? end_size_line(dec) : HTTP_PARSE_ERROR;
	}
}

/*
 * Handles one byte after a chunk's data or in the trailer section.
 * Returns 0, 1 when the message is complete, or HTTP_PARSE_ERROR.
 */
static int framing_byte(struct http_chunked *dec, unsigned char ch)
{
	switch (dec->state) {
	case CHUNK_DATA_CR:
		if (ch == '\n') {
			dec->state = CHUNK_SIZE;
			return 0;
		}
		dec->state = CHUNK_DATA_LF;
		return ch == '\r' ? 0 : HTTP_PARSE_ERROR;
	case CHUNK_DATA_LF:
		dec->state = CHUNK_SIZE;
		return ch == '\n' ? 0 : HTTP_PARSE_ERROR;
	case CHUNK_TRAILER_START:
		if (ch == '\n')
			return 1;
		dec->state = ch == '\r' ? CHUNK_FINAL_LF : CHUNK_TRAILER_LINE;
		return 0;
	case CHUNK_TRAILER_LINE:
		if (ch == '\n')
			dec->state = CHUNK_TRAILER_START;
		return 0;
	default: /* CHUNK_FINAL_LF */
		return ch == '\n' ? 1 : HTTP_PARSE_ERROR;
	}
}

ssize_t http_decode_chunked(struct http_chunked *dec, char *buf, size_t *len)
{
	size_t in = 0;
	size_t out = 0;

	while (in < *len) {
		int rc;
		if (dec->state == CHUNK_DATA) {
			size_t n = *len - in;
			if (n > dec->chunk_left)
				n = (size_t)dec->chunk_left;
			memmove(buf + out, buf + in, n);
			in += n;
			out += n;
			dec->chunk_left -= n;
			if (dec->chunk_left == 0)
				dec->state = CHUNK_DATA_CR;
			continue;
		}
		unsigned char ch = (unsigned char)buf[in++];
		if (dec->state <= CHUNK_SIZE_LF)
			rc = size_line_byte(dec, ch);
		else
			rc = framing_byte(dec, ch);
		if (rc < 0)
			return HTTP_PARSE_ERROR;
		if (rc == 1) {
			size_t rest = *len - in;
			memmove(buf + out, buf + in, rest);
			*len = out;
			return (ssize_t)rest;
		}
	}
	*len = out;
	return HTTP_PARSE_PARTIAL;
}
