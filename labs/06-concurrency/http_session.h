/*
 * http_session.h - the HTTP side of one client connection (provided).
 *
 * Lab 06 is about serving many clients at once, not about HTTP: this file
 * is a complete request handler for lab 05's subset of HTTP/1.1 (GET and
 * HEAD of static files, keep-alive, pipelining, the error statuses), built
 * on lab 05's parser. It does the reading, parsing, file opening and
 * writing for one connection, but it never waits: it tells its caller what
 * it needs next, and the caller - your fork, thread or epoll server -
 * decides how to wait for it.
 *
 *   struct http_session s;
 *   http_session_init(&s, site, fd);           // fd is non-blocking
 *   enum http_want want = HTTP_WANT_READ;
 *   while (want != HTTP_WANT_CLOSE) {
 *       wait until fd is readable (WANT_READ) or writable (WANT_WRITE);
 *       want = want == HTTP_WANT_READ ? http_session_on_readable(&s)
 *                                     : http_session_on_writable(&s);
 *   }
 *   http_session_end(&s);
 *   close(fd);
 *
 * The socket must be non-blocking (O_NONBLOCK): each call reads or writes
 * what the kernel can take right now and returns. An idle session keeps
 * no buffers (about a hundred bytes each), so an event loop can hold
 * thousands of idle keep-alive connections. See docs/06-concurrency.md.
 */
#ifndef HTTP_SESSION_H
#define HTTP_SESSION_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTP_SESSION_HEAD_MAX 8192 /* a longer request head gets 431 */
#define HTTP_SERVER_NAME "lab06-conc_server"

/* The document root, shared read-only by every session and thread. */
struct http_site {
	char root[PATH_MAX]; /* canonical path, without a trailing '/' */
	size_t root_len;
	int root_fd; /* the root directory, opened once (O_PATH) */
	int beneath; /* nonzero: the kernel has openat2(RESOLVE_BENEATH) */
};

/*
 * Canonicalises docroot into site and opens it. Returns 0, or -1 with
 * errno set (ENOTDIR when it is not a directory).
 */
int http_site_open(struct http_site *site, const char *docroot);

/* Closes the root directory that http_site_open() opened. */
void http_site_close(struct http_site *site);

struct http_chunked; /* http_parse.h: the chunked body decoder */

/* What a session needs before it can make progress. */
enum http_want {
	HTTP_WANT_READ,	 /* call http_session_on_readable when fd is readable */
	HTTP_WANT_WRITE, /* call http_session_on_writable when fd is writable */
	HTTP_WANT_CLOSE, /* finished: call http_session_end, then close(fd) */
};

/* One connection. Its fields are private to http_session.c. */
struct http_session {
	const struct http_site *site;
	int fd;
	int state;
	char *in; /* received bytes not yet handled (NULL while idle) */
	size_t in_start, in_len;
	char *out; /* the response head, and small bodies (NULL while idle) */
	size_t out_len, out_sent;
	int file; /* body still to send from this file, or -1 */
	off_t file_off, file_end;
	int keep_alive;	     /* keep the connection after this response */
	size_t discard_left; /* request body bytes still to read and drop */
	struct http_chunked *chunks; /* a chunked body being dropped, or NULL */
	size_t chunks_read;	     /* bytes of that body read so far */
	unsigned long served;	     /* responses completed */
};

/* Starts a session on a connected, non-blocking socket. */
void http_session_init(struct http_session *s, const struct http_site *site,
		       int fd);

/*
 * Reads what the socket has, and when a whole request has arrived,
 * prepares its response and starts sending it. Returns what to wait for
 * next. Never blocks.
 */
enum http_want http_session_on_readable(struct http_session *s);

/* Sends as much of the response as the socket takes. Never blocks. */
enum http_want http_session_on_writable(struct http_session *s);

/*
 * Nonzero when the session sits between requests with nothing received
 * and nothing to send, or lingers after its last response: the moment a
 * server may close the connection (idle timeout, shutdown) without
 * cutting a response short.
 */
int http_session_is_idle(const struct http_session *s);

/* Frees the session's buffers and closes its file. Does not close fd. */
void http_session_end(struct http_session *s);

/*
 * Serves one connection to its end, waiting with poll(2) - the way the
 * fork and thread models use a session. Makes fd non-blocking. Returns
 * when the client is done, when nothing has moved for idle_timeout_ms,
 * or, if stop_fd >= 0, once stop_fd becomes readable and the session is
 * idle (a response in flight is finished first). Does not close fd.
 * Returns the number of responses sent, or -1 with errno set.
 */
long http_session_serve(int fd, const struct http_site *site,
			int idle_timeout_ms, int stop_fd);

#endif /* HTTP_SESSION_H */
