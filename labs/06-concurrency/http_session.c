/*
 * http_session.c - the HTTP side of one client connection (provided).
 *
 * A session is a small state machine driven by its caller:
 *
 *   READ    receiving a request head (or dropping a request body);
 *           complete heads are answered in the order they arrived
 *   WRITE   sending one response: the bytes in s->out, then the rest of
 *           a file with sendfile(2); the next request waits meanwhile
 *   LINGER  the response was the last one: the sending side is shut and
 *           whatever the client still sends is read and dropped until it
 *           closes, so that closing cannot reset the connection and
 *           destroy a response the client has not read yet
 *
 * Every socket call is non-blocking; EAGAIN turns into a "want" for the
 * caller. The parsing, the checks of a request's headers and target,
 * and the path rules are lab 05's reference code, which lab 06 borrows
 * (http_parse.h, http_path.h); the statuses are lab 05's server's, minus
 * POST /echo.
 */
#define _GNU_SOURCE /* syscall, realpath */
#include "http_session.h"

#include "http_parse.h"
#include "http_path.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef SYS_openat2 /* kernel headers of Linux 5.6 or later */
#include <linux/openat2.h>
#endif

/* Limits on what a client may send (docs/05-http.md, "Limits"). */
#define REQUEST_LINE_MAX 4096 /* a longer request line gets 414 */
#define HEAD_MAX HTTP_SESSION_HEAD_MAX
#define IN_BUF_SIZE (2 * HEAD_MAX) /* a whole head, and room to read on */
#define DISCARD_MAX (1 << 20)	   /* request bodies dropped, not refused */
#define LINGER_BYTES (256 << 10)   /* most dropped while lingering */
#define LINGER_MS 300		   /* longest linger in http_session_serve */
#define DROP_CHUNK 4096		   /* stack buffer for dropped bytes */

/*
 * Responses: the head, then small bodies in the same buffer so that they
 * leave in one send(); a larger file follows with sendfile(2).
 */
#define OUT_HEAD_MAX (REQUEST_LINE_MAX + 1024) /* Location holds a path */
#define SMALL_BODY_MAX 16384
#define OUT_BUF_SIZE (OUT_HEAD_MAX + SMALL_BODY_MAX)
#define SENDFILE_CHUNK (1 << 20) /* bytes asked of one sendfile() call */
#define STATUS_PAGE_MAX 512
#define DATE_TEXT_MAX 64
#define UINT64_DIGITS 20    /* 18446744073709551615 */
#define PROC_FD_PATH_MAX 32 /* "/proc/self/fd/" and a descriptor */

#define ALLOW_METHODS "GET, HEAD"
#define INDEX_NAME "index.html" /* what a directory serves */

enum session_state {
	ST_READ,
	ST_WRITE,
	ST_LINGER,
};

/* ---- buffers ------------------------------------------------------- */

/*
 * A session holds its input and output buffers only while it is busy,
 * so that an idle keep-alive connection costs no buffer. Freeing them
 * after every response and allocating them again for the next request
 * would cost two malloc()s and two free()s per request, so a thread
 * keeps the last buffers freed as spares, and the next session to need
 * one takes it: an event loop serving thousands of connections then
 * allocates nothing per request, and holds one pair of spares in all.
 * Thread-local, so threads never share a spare and need no lock.
 * http_session_serve() frees its thread's spares before it waits: a
 * thousand threads waiting on idle clients must not hold a thousand.
 */
static _Thread_local struct {
	char *in, *out;
} spare;

/* A buffer of size bytes: the spare in *slot if any, else malloc's. */
static char *buffer_take(char **slot, size_t size)
{
	char *buf = *slot;

	if (buf == NULL)
		return malloc(size);
	*slot = NULL;
	return buf;
}

/* Keeps buf (or NULL) as the spare in *slot, or frees it. */
static void buffer_give(char **slot, char *buf)
{
	if (*slot == NULL)
		*slot = buf;
	else
		free(buf);
}

static void spares_free(void)
{
	free(spare.in);
	free(spare.out);
	spare.in = NULL;
	spare.out = NULL;
}

/* ---- the document root --------------------------------------------- */

#ifdef SYS_openat2
/*
 * Opens path relative to dirfd, and lets the kernel refuse whatever
 * would resolve outside dirfd: with RESOLVE_BENEATH, a "..", an absolute
 * path or a symlink that leads out fails with EXDEV, checked as each
 * component is looked up, so no later rename can slip past it.
 * RESOLVE_NO_MAGICLINKS refuses /proc-style links too (ELOOP). glibc has
 * no openat2() wrapper (2.36 has none): syscall(2) calls it by number.
 * Returns a descriptor, or -1 with errno set (ENOSYS before Linux 5.6).
 */
static int open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}
#else
/* Headers older than Linux 5.6: no openat2(), the fallback serves. */
static int open_beneath(int dirfd, const char *path, int flags)
{
	(void)dirfd;
	(void)path;
	(void)flags;
	errno = ENOSYS;
	return -1;
}
#endif

int http_site_open(struct http_site *site, const char *docroot)
{
	static int spares_freed_at_exit;

	/*
	 * The thread that ends the process (in the epoll model, the loop's)
	 * frees its spares on the way out, so that valgrind finds every
	 * block freed. Once: a program may open more than one site.
	 */
	if (!spares_freed_at_exit && atexit(spares_free) == 0)
		spares_freed_at_exit = 1;
	site->root_fd = -1;
	if (realpath(docroot, site->root) == NULL)
		return -1;
	/* O_DIRECTORY: ENOTDIR when it is not one. */
	site->root_fd = open(site->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (site->root_fd < 0)
		return -1;
	site->root_len = strlen(site->root);
	/* The root "/" itself: paths are then compared against "" + '/'. */
	if (site->root_len == 1)
		site->root_len = 0;
	/*
	 * Tried once here rather than on every request: an old kernel says
	 * ENOSYS, and a sandbox's seccomp filter may refuse the call with
	 * ENOSYS or EPERM. Any failure means the fallback (open_checked).
	 */
	int fd = open_beneath(site->root_fd, ".", O_RDONLY | O_CLOEXEC);
	site->beneath = fd >= 0;
	if (fd >= 0)
		close(fd);
	return 0;
}

void http_site_close(struct http_site *site)
{
	if (site->root_fd >= 0)
		close(site->root_fd);
	site->root_fd = -1;
}

/* ---- response text ------------------------------------------------- */

/*
 * The current time as an IMF-fixdate (RFC 9110 section 5.6.7), formatted
 * at most once a second per thread: a busy server answers thousands of
 * requests in the same second. Thread-local, so threads never share it.
 */
static const char *http_date(void)
{
	static _Thread_local time_t cached_at = -1;
	static _Thread_local char text[DATE_TEXT_MAX];
	time_t now = time(NULL);
	struct tm tm;

	if (now == cached_at)
		return text;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		snprintf(text, sizeof(text), "Thu, 01 Jan 1970 00:00:00 GMT");
	cached_at = now;
	return text;
}

/*
 * Appends len bytes to the head in s->out. Returns 0, or -1 when they do
 * not fit in OUT_HEAD_MAX (the caller's sizes make that a bug, not a
 * client's doing, but the check keeps a mistake from overflowing).
 * The head is built with memcpy, not snprintf: snprintf interprets its
 * format string anew on every call, and took more than half of the
 * server's instructions per request (valgrind --tool=callgrind).
 */
static int out_put(struct http_session *s, const char *text, size_t len)
{
	if (len > OUT_HEAD_MAX - s->out_len)
		return -1;
	memcpy(s->out + s->out_len, text, len);
	s->out_len += len;
	return 0;
}

static int out_str(struct http_session *s, const char *text)
{
	return out_put(s, text, strlen(text));
}

/* Appends n in decimal. */
static int out_uint(struct http_session *s, uint64_t n)
{
	char digits[UINT64_DIGITS];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	return out_put(s, digits + i, sizeof(digits) - i);
}

/* Appends a header line "name: value\r\n". */
static int out_header(struct http_session *s, const char *name,
		      const char *value, size_t value_len)
{
	if (out_str(s, name) < 0 || out_put(s, ": ", 2) < 0 ||
	    out_put(s, value, value_len) < 0)
		return -1;
	return out_put(s, "\r\n", 2);
}

/* Gives the session an empty output buffer. Returns 0 or -1 (ENOMEM). */
static int out_open(struct http_session *s)
{
	if (s->out == NULL) {
		s->out = buffer_take(&spare.out, OUT_BUF_SIZE);
		if (s->out == NULL)
			return -1;
	}
	s->out_len = 0;
	s->out_sent = 0;
	return 0;
}

/*
 * Writes the status line and the headers every response has. The caller
 * adds its own, then out_end_head().
 */
static int out_start_head(struct http_session *s, int status,
			  uint64_t content_length)
{
	const char *reason = http_reason_phrase(status);
	const char *date = http_date();
	const char *conn = s->keep_alive ? "keep-alive" : "close";

	if (out_str(s, "HTTP/1.1 ") < 0 || out_uint(s, (uint64_t)status) < 0 ||
	    out_put(s, " ", 1) < 0 || out_str(s, reason) < 0 ||
	    out_put(s, "\r\n", 2) < 0 ||
	    out_header(s, "Date", date, strlen(date)) < 0 ||
	    out_header(s, "Server", HTTP_SERVER_NAME,
		       sizeof(HTTP_SERVER_NAME) - 1) < 0 ||
	    out_str(s, "Content-Length: ") < 0 ||
	    out_uint(s, content_length) < 0 || out_put(s, "\r\n", 2) < 0)
		return -1;
	return out_header(s, "Connection", conn, strlen(conn));
}

static int out_end_head(struct http_session *s)
{
	return out_put(s, "\r\n", 2);
}

/* Extra header lines of a status page. */
struct page_extra {
	const char *allow;    /* for 405 */
	const char *location; /* for 301 */
	size_t location_len;
};

/*
 * Queues a complete response with a small HTML body naming the status.
 * Returns 0, or -1 when the session must close (no memory).
 */
static int queue_status_page(struct http_session *s, int status, int is_head,
			     const struct page_extra *extra)
{
	char body[STATUS_PAGE_MAX];
	const char *reason = http_reason_phrase(status);

	int n = snprintf(body, sizeof(body),
			 "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
			 "</head>\n<body><h1>%d %s</h1></body></html>\n",
			 status, reason, status, reason);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = 0;
	if (out_open(s) < 0)
		return -1;
	if (out_start_head(s, status, (uint64_t)n) < 0 ||
	    out_str(s, "Content-Type: text/html; charset=utf-8\r\n") < 0)
		return -1;
	if (extra != NULL && extra->allow != NULL &&
	    out_header(s, "Allow", extra->allow, strlen(extra->allow)) < 0)
		return -1;
	if (extra != NULL && extra->location != NULL &&
	    out_header(s, "Location", extra->location, extra->location_len) < 0)
		return -1;
	if (out_end_head(s) < 0)
		return -1;
	if (!is_head && n > 0) {
		memcpy(s->out + s->out_len, body, (size_t)n);
		s->out_len += (size_t)n;
	}
	s->state = ST_WRITE;
	return 0;
}

/* ---- files --------------------------------------------------------- */

/*
 * The status for an open()/stat() failure on a path under the root:
 * EXDEV says the path resolves outside it (a symlink to "..", say).
 */
static int status_for_errno(int err)
{
	return err == EACCES || err == EPERM || err == ELOOP || err == EXDEV
		       ? 403
		       : 404;
}

/* Is the canonical path real the root or under it? */
static int is_under_root(const struct http_site *site, const char *real)
{
	return strncmp(real, site->root, site->root_len) == 0 &&
	       (real[site->root_len] == '/' || real[site->root_len] == '\0');
}

/*
 * The fallback where openat2() is missing: opens root + url_path, then
 * asks where the file really is, symlinks followed, and refuses it when
 * that is outside the root. The kernel names an open file's canonical
 * path in /proc/self/fd/N: one readlink(2), where realpath(3) costs one
 * per path component. Unlike RESOLVE_BENEATH, it accepts an absolute
 * symlink that leads back under the root.
 * Returns a descriptor, or -1 with errno set (EXDEV: outside the root).
 */
static int open_checked(const struct http_site *site, const char *url_path,
			int flags)
{
	char path[PATH_MAX], real[PATH_MAX], link[PROC_FD_PATH_MAX];

	int len = snprintf(path, sizeof(path), "%.*s%s", (int)site->root_len,
			   site->root, url_path);
	if (len < 0 || (size_t)len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(path, flags);
	if (fd < 0)
		return -1;
	int link_len = snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = -1;
	if (link_len > 0 && (size_t)link_len < sizeof(link))
		n = readlink(link, real, sizeof(real) - 1);
	if (n >= 0)
		real[n] = '\0';
	else if (realpath(path, real) != NULL) /* no /proc: the slow way */
		n = (ssize_t)strlen(real);
	if (n < 0 || (size_t)n >= sizeof(real) - 1) {
		close(fd);
		errno = ENOENT; /* gone meanwhile, or too long to check */
		return -1;
	}
	if (!is_under_root(site, real)) {
		close(fd);
		errno = EXDEV; /* what openat2() says in the same case */
		return -1;
	}
	return fd;
}

/*
 * Opens root + url_path (which starts with '/' and holds no "..") and
 * refuses anything that resolves outside the root. O_NONBLOCK: opening
 * a FIFO must not wait for a writer (it then fails the regular-file
 * check). Returns 0 with *fd open and st filled, or a status to send
 * (403, 404).
 */
static int open_under_root(const struct http_site *site, const char *url_path,
			   int *fd, struct stat *st)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;

	if (site->beneath) /* the path relative to the root; "/" is "." */
		*fd = open_beneath(site->root_fd,
				   url_path[1] != '\0' ? url_path + 1 : ".",
				   flags);
	else
		*fd = open_checked(site, url_path, flags);
	if (*fd < 0)
		return status_for_errno(errno);
	if (fstat(*fd, st) < 0) {
		close(*fd);
		return 403;
	}
	return 0;
}

/*
 * Opens the file for a URL path: a directory means its index.html, or a
 * redirect (returned as 301) when the path lacks its trailing slash.
 * Returns 0 with *fd open on a regular file and *st filled, or the
 * status to send.
 */
static int open_resource(const struct http_site *site, const char *url_path,
			 int *fd, struct stat *st)
{
	char index[PATH_MAX];
	size_t len = strlen(url_path);

	int status = open_under_root(site, url_path, fd, st);
	if (status != 0)
		return status;
	if (S_ISDIR(st->st_mode)) {
		close(*fd);
		if (url_path[len - 1] != '/')
			return 301;
		int n = snprintf(index, sizeof(index), "%s" INDEX_NAME,
				 url_path);
		if (n < 0 || (size_t)n >= sizeof(index))
			return 404;
		status = open_under_root(site, index, fd, st);
		if (status != 0)
			return status;
	}
	if (!S_ISREG(st->st_mode)) {
		close(*fd);
		return 403;
	}
	return 0;
}

/*
 * Reads len bytes of file from offset 0 into buf. Returns 0, or -1 when
 * the file could not be read or shrank since fstat().
 */
static int read_small_file(int file, char *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n = pread(file, buf + have, len - have, (off_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return 0;
}

/*
 * Queues a 200 response for an open file: a small body is read into the
 * buffer behind the head; a larger one is left to sendfile().
 * Takes over file. Returns 0, or -1 when the session must close.
 */
static int queue_file(struct http_session *s,
		      const struct http_request_info *ri, int file,
		      const struct stat *st, const char *name)
{
	uint64_t size = (uint64_t)st->st_size;
	const char *type = http_mime_type(name);

	if (out_open(s) < 0 || out_start_head(s, 200, size) < 0 ||
	    out_header(s, "Content-Type", type, strlen(type)) < 0 ||
	    out_end_head(s) < 0) {
		close(file);
		return -1;
	}
	s->state = ST_WRITE;
	if (ri->is_head || size == 0) {
		close(file);
		return 0;
	}
	if (size <= SMALL_BODY_MAX) {
		int rc = read_small_file(file, s->out + s->out_len,
					 (size_t)size);
		close(file);
		if (rc < 0) {
			s->out_len = 0;
			s->keep_alive = 0;
			return queue_status_page(s, 500, 0, NULL);
		}
		s->out_len += (size_t)size;
		return 0;
	}
	s->file = file;
	s->file_off = 0;
	s->file_end = st->st_size;
	return 0;
}

/* ---- requests ------------------------------------------------------ */

/*
 * The status that refuses a whole request head before it is routed, or
 * 0. Fills ri.
 */
static int check_request(const struct http_request *req, size_t head_len,
			 struct http_request_info *ri)
{
	int status;

	if (req->major != 1)
		return 505;
	if (req->target_len >= REQUEST_LINE_MAX)
		return 414;
	if (head_len > HEAD_MAX)
		return 431;
	status = http_check_headers(req, ri);
	if (status != 0)
		return status;
	if (!http_method_is_known(req))
		return 501;
	if (ri->body_len > DISCARD_MAX)
		return 413;
	return 0;
}

/* GET and HEAD of a path: the file, a redirect, or an error page. */
static int route_file(struct http_session *s,
		      const struct http_request_info *ri, const char *raw,
		      size_t raw_len)
{
	char decoded[REQUEST_LINE_MAX + 1];
	char url_path[REQUEST_LINE_MAX + 1];
	char location[REQUEST_LINE_MAX + 2];
	struct stat st;
	int file = -1;

	if (http_percent_decode(raw, raw_len, decoded, sizeof(decoded)) < 0)
		return queue_status_page(s, 400, ri->is_head, NULL);
	if (http_normalize_path(decoded, url_path, sizeof(url_path)) < 0)
		return queue_status_page(s, errno == EACCES ? 403 : 400,
					 ri->is_head, NULL);
	int status = open_resource(s->site, url_path, &file, &st);
	if (status == 0) {
		/* The type goes by the name asked for, as a client sees it. */
		size_t len = strlen(url_path);
		return queue_file(s, ri, file, &st,
				  url_path[len - 1] == '/' ? INDEX_NAME
							   : url_path);
	}
	if (status == 301) {
		/* The client's own spelling of the path, plus the slash. */
		int n = snprintf(location, sizeof(location), "%.*s/",
				 (int)raw_len, raw);
		if (n < 0 || (size_t)n >= sizeof(location)) /* too long */
			return queue_status_page(s, 414, ri->is_head, NULL);
		struct page_extra ex = {NULL, location, (size_t)n};
		return queue_status_page(s, 301, ri->is_head, &ex);
	}
	return queue_status_page(s, status, ri->is_head, NULL);
}

/*
 * Prepares the response to a parsed request whose head has been taken
 * out of the input. Returns 0, or -1 when the session must close.
 */
static int answer(struct http_session *s, const struct http_request *req,
		  size_t head_len)
{
	struct http_request_info ri = {.req = req,
				       .is_head = http_method_is(req, "HEAD")};
	const char *raw;
	size_t raw_len;

	int status = check_request(req, head_len, &ri);
	if (status != 0) {
		s->keep_alive = 0;
		return queue_status_page(s, status, ri.is_head, NULL);
	}
	s->keep_alive = ri.keep_alive;
	/* A body to GET or HEAD means nothing: drop it after answering. */
	size_t buffered =
		s->in_len < ri.body_len ? s->in_len : (size_t)ri.body_len;
	s->in_start += buffered;
	s->in_len -= buffered;
	s->discard_left = (size_t)ri.body_len - buffered;
	/*
	 * A client that waits for "100 Continue" may never send the body
	 * it announced; answering at once and closing is allowed (RFC 9110
	 * section 10.1.1) and cannot leave the connection stuck.
	 */
	if (ri.expect_continue && (s->discard_left > 0 || ri.chunked))
		s->keep_alive = 0;
	/* A chunked body is decoded to find its end, unless we close. */
	if (ri.chunked && s->keep_alive) {
		s->chunks = calloc(1, sizeof(*s->chunks));
		if (s->chunks == NULL)
			return -1;
		s->chunks_read = 0;
	}
	if (!http_method_is(req, "GET") && !ri.is_head) {
		struct page_extra allow = {ALLOW_METHODS, NULL, 0};
		return queue_status_page(s, 405, 0, &allow);
	}
	if (http_target_path(req, &raw, &raw_len) < 0)
		return queue_status_page(s, 400, ri.is_head, NULL);
	return route_file(s, &ri, raw, raw_len);
}

/* ---- the state machine --------------------------------------------- */

/* Stops decoding a chunked body, if one was being dropped. */
static void end_chunks(struct http_session *s)
{
	free(s->chunks);
	s->chunks = NULL;
}

/*
 * Gives the input and output buffers back (to the thread's spares). A
 * chunked body's decoder stays: an empty input buffer can sit in the
 * middle of such a body.
 */
static void free_buffers(struct http_session *s)
{
	buffer_give(&spare.in, s->in);
	s->in = NULL;
	s->in_start = 0;
	s->in_len = 0;
	buffer_give(&spare.out, s->out);
	s->out = NULL;
	s->out_len = 0;
	s->out_sent = 0;
}

void http_session_init(struct http_session *s, const struct http_site *site,
		       int fd)
{
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->site = site;
	s->fd = fd;
	s->state = ST_READ;
	s->file = -1;
	/*
	 * Pipelined responses leave in separate sends; without TCP_NODELAY
	 * Nagle's algorithm holds a small one back until the client's
	 * delayed ACK of the last (docs/05-http.md, "Benchmark"). It fails
	 * harmlessly on sockets that are not TCP (socketpairs in tests).
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static enum http_want session_linger(struct http_session *s);

void http_session_end(struct http_session *s)
{
	/*
	 * Cut short while lingering (a stop, a timeout): drop what has
	 * arrived, so that the close that follows finds nothing unread and
	 * sends a FIN, not a reset that could destroy the response.
	 */
	if (s->state == ST_LINGER) {
		(void)session_linger(s);
		/* A second end touches the socket no more. */
		s->state = ST_READ;
		s->discard_left = 0;
	}
	free_buffers(s);
	end_chunks(s);
	if (s->file >= 0) {
		close(s->file);
		s->file = -1;
	}
}

int http_session_is_idle(const struct http_session *s)
{
	if (s->state == ST_LINGER)
		return 1; /* the last response is out; only dropping is left */
	return s->state == ST_READ && s->in_len == 0 && s->discard_left == 0 &&
	       s->chunks == NULL;
}

/* Answers an unparseable or oversized head; the connection then ends. */
static int refuse(struct http_session *s, int status)
{
	s->keep_alive = 0;
	s->in_len = 0;
	return queue_status_page(s, status, 0, NULL);
}

/*
 * When the head is still incomplete: the status to refuse it with if it
 * is already over a limit (414 for the request line, 431 for the head),
 * else 0.
 */
static int head_over_limit(const struct http_session *s)
{
	const char *head = s->in + s->in_start;
	const char *eol = memchr(head, '\n', s->in_len);
	size_t line_len = eol != NULL ? (size_t)(eol - head) : s->in_len;

	if (line_len > REQUEST_LINE_MAX)
		return 414;
	if (s->in_len > HEAD_MAX)
		return 431;
	return 0;
}

/*
 * Drops request body bytes that are buffered. Returns nonzero while more
 * are still to come.
 */
static int drop_buffered_body(struct http_session *s)
{
	size_t take = s->in_len < s->discard_left ? s->in_len : s->discard_left;

	s->in_start += take;
	s->in_len -= take;
	s->discard_left -= take;
	return s->discard_left > 0;
}

/*
 * Decodes and drops the buffered bytes of a chunked request body.
 * Returns 1 while more are still to come, 0 once the body has ended
 * (the bytes after it stay buffered), -1 when the coding is malformed or
 * the body too large to drop: the session must close.
 */
static int drop_chunked_body(struct http_session *s)
{
	size_t data_len = s->in_len;
	ssize_t rest =
		http_decode_chunked(s->chunks, s->in + s->in_start, &data_len);

	if (rest == HTTP_PARSE_ERROR)
		return -1;
	/* Bytes after the body (rest >= 0) belong to the next request. */
	s->chunks_read += s->in_len - (rest >= 0 ? (size_t)rest : 0);
	if (s->chunks_read > DISCARD_MAX)
		return -1;
	if (rest == HTTP_PARSE_PARTIAL) {
		s->in_len = 0;
		return 1;
	}
	/* The decoder moved the next request's bytes right after the data. */
	s->in_start += data_len;
	s->in_len = (size_t)rest;
	end_chunks(s);
	return 0;
}

/*
 * Prepares the response to the next request in the input buffer.
 * Returns 1 when a response is queued (state WRITE), 0 when more input
 * is needed, -1 when the session must close.
 */
static int next_request(struct http_session *s)
{
	struct http_request req;

	if (s->discard_left > 0 && drop_buffered_body(s))
		return 0;
	if (s->chunks != NULL) {
		int rc = drop_chunked_body(s);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
	}
	if (s->in_len == 0) {
		free_buffers(s); /* idle: hold no memory */
		return 0;
	}
	int n = http_parse_request(s->in + s->in_start, s->in_len, &req);
	if (n > 0) {
		s->in_start += (size_t)n;
		s->in_len -= (size_t)n;
		return answer(s, &req, (size_t)n) < 0 ? -1 : 1;
	}
	int status = 400;
	if (n == HTTP_PARSE_TOO_MANY)
		status = 431;
	else if (n == HTTP_PARSE_PARTIAL)
		status = head_over_limit(s);
	if (status == 0)
		return 0;
	return refuse(s, status) < 0 ? -1 : 1;
}

/*
 * Receives into the input buffer once. Returns the bytes received, 0 at
 * end of stream, or -1 with errno set (EAGAIN: nothing there yet).
 */
static ssize_t recv_input(struct http_session *s)
{
	if (s->in == NULL) {
		s->in = buffer_take(&spare.in, IN_BUF_SIZE);
		if (s->in == NULL)
			return -1;
		s->in_start = 0;
	}
	if (s->in_len == 0)
		s->in_start = 0;
	else if (s->in_start + s->in_len == IN_BUF_SIZE)
		/* A partial head at the end: move it to the front. */
		memmove(s->in, s->in + s->in_start, s->in_len);
	if (s->in_start + s->in_len == IN_BUF_SIZE)
		s->in_start = 0;
	for (;;) {
		ssize_t n = recv(s->fd, s->in + s->in_start + s->in_len,
				 IN_BUF_SIZE - s->in_start - s->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			s->in_len += (size_t)n;
		return n;
	}
}

/*
 * Reads and drops what a client still sends after the last response,
 * until it closes or has sent LINGER_BYTES.
 */
static enum http_want session_linger(struct http_session *s)
{
	char drop[DROP_CHUNK];

	for (;;) {
		ssize_t n = recv(s->fd, drop, sizeof(drop), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return HTTP_WANT_READ;
		if (n <= 0 || (size_t)n >= s->discard_left)
			return HTTP_WANT_CLOSE;
		s->discard_left -= (size_t)n;
	}
}

/*
 * Sends out[out_sent..out_len); MSG_MORE when a file follows, so that
 * the head and the file's first bytes share a packet.
 * Returns 1 when all is sent, 0 on EAGAIN, -1 when the session must end.
 */
static int send_out(struct http_session *s)
{
	int flags = MSG_NOSIGNAL | (s->file >= 0 ? MSG_MORE : 0);

	while (s->out_sent < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_sent,
				 s->out_len - s->out_sent, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		s->out_sent += (size_t)n;
	}
	return 1;
}

/* Sends the rest of the file. Returns like send_out(). */
static int send_file_part(struct http_session *s)
{
	while (s->file_off < s->file_end) {
		off_t left = s->file_end - s->file_off;
		size_t chunk =
			left < SENDFILE_CHUNK ? (size_t)left : SENDFILE_CHUNK;
		ssize_t n = sendfile(s->fd, s->file, &s->file_off, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		/* The file shrank: the length promised cannot be met. */
		if (n == 0)
			return -1;
	}
	close(s->file);
	s->file = -1;
	return 1;
}

/* The last response is out: shut the sending side and linger. */
static enum http_want start_linger(struct http_session *s)
{
	free_buffers(s);
	end_chunks(s);
	s->state = ST_LINGER;
	s->discard_left = LINGER_BYTES;
	if (shutdown(s->fd, SHUT_WR) < 0)
		return HTTP_WANT_CLOSE;
	return session_linger(s);
}

/*
 * Sends the response in progress, then answers the requests already
 * buffered one after another (pipelining), until the socket or the input
 * runs dry. A loop, not recursion: a client may pipeline hundreds.
 */
static enum http_want session_run(struct http_session *s)
{
	for (;;) {
		if (s->state == ST_WRITE) {
			int rc = send_out(s);
			if (rc == 1 && s->file >= 0)
				rc = send_file_part(s);
			if (rc < 0)
				return HTTP_WANT_CLOSE;
			if (rc == 0)
				return HTTP_WANT_WRITE;
			s->served++;
			s->out_len = 0;
			s->out_sent = 0;
			if (!s->keep_alive)
				return start_linger(s);
			s->state = ST_READ;
		}
		int rc = next_request(s);
		if (rc < 0)
			return HTTP_WANT_CLOSE;
		if (rc == 0)
			return HTTP_WANT_READ;
	}
}

enum http_want http_session_on_readable(struct http_session *s)
{
	if (s->state == ST_WRITE)
		return session_run(s);
	if (s->state == ST_LINGER)
		return session_linger(s);
	ssize_t n = recv_input(s);
	if (n == 0)
		return HTTP_WANT_CLOSE;
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return HTTP_WANT_CLOSE;
		if (s->in_len == 0)
			free_buffers(s);
		return HTTP_WANT_READ;
	}
	return session_run(s);
}

enum http_want http_session_on_writable(struct http_session *s)
{
	if (s->state != ST_WRITE)
		return HTTP_WANT_READ;
	return session_run(s);
}

/* ---- the blocking-style driver ------------------------------------- */

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	if (flags & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

long http_session_serve(int fd, const struct http_site *site,
			int idle_timeout_ms, int stop_fd)
{
	struct http_session s;
	enum http_want want = HTTP_WANT_READ;
	int stopping = 0, lingering = 0;
	long long deadline;

	if (set_nonblocking(fd) < 0)
		return -1;
	http_session_init(&s, site, fd);
	deadline = net_now_ms() + idle_timeout_ms;
	while (want != HTTP_WANT_CLOSE) {
		struct pollfd fds[2] = {
			{.fd = fd,
			 .events = want == HTTP_WANT_READ ? POLLIN : POLLOUT},
			{.fd = stop_fd, .events = POLLIN},
		};
		nfds_t nfds = stop_fd >= 0 && !stopping ? 2 : 1;

		if (stopping && http_session_is_idle(&s))
			break;
		long long left = deadline - net_now_ms();
		if (left <= 0)
			break;
		spares_free(); /* this thread holds no buffer while it waits */
		int rc = poll(fds, nfds, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			int err = errno;
			http_session_end(&s);
			spares_free();
			errno = err;
			return -1;
		}
		if (nfds == 2 && fds[1].revents != 0)
			stopping = 1;
		if (fds[0].revents == 0)
			continue;
		want = want == HTTP_WANT_READ ? http_session_on_readable(&s)
					      : http_session_on_writable(&s);
		if (s.state != ST_LINGER)
			deadline = net_now_ms() + idle_timeout_ms;
		else if (!lingering && idle_timeout_ms > LINGER_MS)
			deadline = net_now_ms() + LINGER_MS;
		lingering = s.state == ST_LINGER;
	}
	http_session_end(&s);
	spares_free();
	return (long)s.served;
}
