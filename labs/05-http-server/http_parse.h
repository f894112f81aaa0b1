/*
 * http_parse.h - HTTP/1.1 message parsing for lab 05 (you write
 * http_parse.c).
 *
 * The parsers work on a buffer you own and never allocate: every name,
 * value, method or target they return points into that buffer. Call them
 * again, from the start of the buffer, each time more bytes arrive:
 *
 *   > 0                  the message head is complete; that many bytes
 *                        (request or status line, header lines and the
 *                        blank line) belong to it
 *   HTTP_PARSE_PARTIAL   the bytes so far are a valid beginning: read more
 *   HTTP_PARSE_ERROR     the bytes are not HTTP: answer 400 and close
 *   HTTP_PARSE_TOO_MANY  more than HTTP_MAX_HEADERS header lines
 *
 * See docs/05-http.md, "The request, byte by byte".
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_PARSE_ERROR (-1)
#define HTTP_PARSE_PARTIAL (-2)
#define HTTP_PARSE_TOO_MANY (-3)

/* Most header lines one message may have. */
#define HTTP_MAX_HEADERS 64

/* One header line, "Name: value", as two views into the buffer. */
struct http_header {
	const char *name;
	size_t name_len;
	const char *value; /* without the spaces or tabs around it */
	size_t value_len;
};

/* A parsed request head. */
struct http_request {
	const char *method; /* "GET", case as received */
	size_t method_len;
	const char *target; /* "/path?query", as received */
	size_t target_len;
	int major; /* HTTP/1.1 -> major 1, minor 1 */
	int minor;
	size_t num_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/* A parsed response head. */
struct http_response {
	int major;
	int minor;
	int status;	    /* 100..999 */
	const char *reason; /* may be empty */
	size_t reason_len;
	size_t num_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Parses a request head at the start of buf[0..len): request line
 * "METHOD SP target SP HTTP/d.d CRLF", header lines, blank line. Empty
 * lines before the request line are skipped. A lone LF is accepted as a
 * line end. Returns the head's length, or one of the HTTP_PARSE_ codes.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/*
 * Parses a response head at the start of buf[0..len): status line
 * "HTTP/d.d SP 3DIGIT SP reason CRLF", header lines, blank line.
 * Returns the head's length, or one of the HTTP_PARSE_ codes.
 */
int http_parse_response(const char *buf, size_t len, struct http_response *res);

/*
 * Finds the first header named name (compared without regard to case).
 * Returns it, or NULL when there is none.
 */
const struct http_header *http_find_header(const struct http_header *headers,
					   size_t count, const char *name);

/*
 * Reads a Content-Length value: digits only, no sign, no spaces, at most
 * HTTP_MAX_CONTENT_LENGTH. Returns 0 and sets *out, or -1 with errno EINVAL
 * (not a number) or ERANGE (too large).
 */
#define HTTP_MAX_CONTENT_LENGTH ((uint64_t)1 << 50)
int http_parse_content_length(const char *value, size_t len, uint64_t *out);

/*
 * Does a comma-separated header value (like Connection's "keep-alive,
 * Upgrade") contain token, compared without regard to case? 1 or 0.
 */
int http_has_token(const char *value, size_t len, const char *token);

/* How the body of a request is delimited (RFC 9112 section 6.3). */
struct http_framing {
	int chunked;	 /* 1: by the chunked transfer coding */
	uint64_t length; /* else its length: Content-Length, or 0 */
};

/*
 * What a server needs to know about a request beyond its parse. The
 * caller sets req and is_head; http_check_headers() fills the rest.
 */
struct http_request_info {
	const struct http_request *req;
	int is_head;	     /* HEAD: GET's head, and no body */
	uint64_t body_len;   /* from Content-Length; 0 when chunked */
	int chunked;	     /* the body is in the chunked transfer coding */
	int keep_alive;	     /* the connection stays open after the answer */
	int expect_continue; /* the client waits for "100 Continue" */
};

/*
 * Finds how the body of a parsed request is delimited, from its
 * Content-Length and Transfer-Encoding header lines and its version.
 * Returns 0 and fills *framing, or the status to refuse the request with,
 * after which the connection must close because its framing is unsure:
 *   400  a Content-Length that is not a number, or two that differ;
 *        Transfer-Encoding in HTTP/1.0, or beside a Content-Length, or
 *        without chunked as its last coding, or with chunked twice
 *   501  another coding before chunked ("gzip, chunked"): the body's
 *        end is known, but not how to decode it
 * Coding names are compared without regard to case, several
 * Transfer-Encoding lines make one list, and parameters (";q=1") are
 * ignored. See docs/05-http.md, "Chunked request bodies".
 */
int http_request_framing(const struct http_request *req,
			 struct http_framing *framing);

/*
 * Reads the header lines that decide how the connection goes on and how
 * the body is delimited, and fills info's keep_alive (Connection: close
 * or keep-alive, and the version's default), expect_continue (Expect:
 * 100-continue), chunked and body_len (http_request_framing). Returns 0,
 * or the status to refuse the request with: 400 for an HTTP/1.1 request
 * without exactly one Host (RFC 9112 section 3.2) or a second Host in
 * HTTP/1.0, else what http_request_framing() returns.
 */
int http_check_headers(const struct http_request *req,
		       struct http_request_info *info);

/*
 * Finds the path part of a request's target: "/p" in the origin form
 * "/p?q" and in the absolute form "http://host/p?q" that proxies send.
 * Sets *path (a view into the request) and *len, and returns 0; returns
 * -1 when the target is malformed (no path starting with '/').
 */
int http_target_path(const struct http_request *req, const char **path,
		     size_t *len);

/* Is the request's method exactly name (methods are case-sensitive)? */
int http_method_is(const struct http_request *req, const char *name);

/* Is the request's method one of RFC 9110's, or PATCH? 1 or 0. */
int http_method_is_known(const struct http_request *req);

/*
 * The reason phrase for a status code the course's servers send ("Not
 * Found" for 404), "Unknown" for any other. Never returns NULL.
 */
const char *http_reason_phrase(int status);

/* The value of a hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1. */
static inline int http_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	/* | 0x20 makes an ASCII letter lower case. */
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/*
 * The chunked transfer coding decoder's state; zero it (= {0}) before the
 * first call for each message.
 */
struct http_chunked {
	int state;
	uint64_t chunk_left; /* data bytes left in the current chunk */
	int size_digits;     /* hex digits read of the current size line */
};

/*
 * Decodes chunked data in place. On entry buf[0..*len) holds the next
 * bytes received; on return buf[0..*len) holds the body bytes they
 * contained. Returns HTTP_PARSE_PARTIAL when the body continues in more
 * input, HTTP_PARSE_ERROR when the coding is malformed, or >= 0 once the
 * last chunk and trailer section are complete: that many bytes after the
 * message follow the body bytes, at buf[*len].
 */
ssize_t http_decode_chunked(struct http_chunked *dec, char *buf, size_t *len);

#endif /* HTTP_PARSE_H */
