/*
 * http_server - a sequential HTTP/1.1 static-file server (lab 05,
 * reference).
 *
 * usage: http_server [-a ADDR] -p PORT -d DOCROOT [-t SECONDS]
 *
 * Serves GET and HEAD of the files under DOCROOT (a directory serves its
 * index.html) and POST /echo, one connection at a time, with keep-alive
 * and pipelining. -t sets the idle and stall timeout (default 5 s).
 * Prints "listening on ADDR:PORT" once ready. Exits 0 on SIGINT or
 * SIGTERM, 1 on a fatal error, 2 on bad arguments.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "http_parse.h"
#include "http_path.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PROG "http_server"
#define SERVER_NAME "lab05-http_server"
#define DEFAULT_ADDR "127.0.0.1"
#define LISTEN_BACKLOG 64
#define DEFAULT_TIMEOUT_S 5
#define MAX_TIMEOUT_S 3600

/* Limits on what a client may send (docs/05-http.md, "Limits"). */
#define REQUEST_LINE_MAX 4096 /* longer -> 414 URI Too Long */
#define HEAD_MAX 8192	      /* longer -> 431 */
#define CONN_BUF_SIZE 16384   /* a head and the start of the next */
#define DISCARD_MAX (1 << 20) /* bodies we read and drop to keep alive */
#define LINGER_MS 300	      /* read what a client still sends, then close */
#define LINGER_BYTES (256 << 10)
#define FIRST_REQUEST_GRACE_MS 1000 /* before a new idle client yields */

#define FILE_CHUNK 65536 /* bytes of a file read and sent at a time */
#define RESPONSE_HEAD_MAX 8192
#define DATE_TEXT_MAX 64
#define ECHO_PATH "/echo"
/* head_start's content length for a body sent in the chunked coding. */
#define BODY_CHUNKED UINT64_MAX
/* The longest "size CRLF" line that starts a chunk of the echo. */
#define CHUNK_SIZE_LINE_MAX 20

struct server {
	const char *addr_text;
	uint16_t port;
	const char *docroot_arg;
	char docroot[PATH_MAX]; /* canonical: realpath(docroot_arg) */
	size_t docroot_len;
	int timeout_ms;
	int listener;
};

/* One client connection and the bytes received but not yet used. */
struct conn {
	int fd;
	const struct server *srv;
	char buf[CONN_BUF_SIZE];
	size_t have;  /* bytes in buf */
	size_t start; /* buf[0..start) is the head being answered */
	int served;   /* requests answered so far */
};

/* Set by the SIGINT/SIGTERM handler. */
static volatile sig_atomic_t stop_requested;

/* Signals are blocked except while waiting in net_wait() with this mask. */
static sigset_t wait_mask;

static void usage(void)
{
	fprintf(stderr, "usage: %s [-a ADDR] -p PORT -d DOCROOT [-t SECONDS]\n",
		PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct server *srv)
{
	int have_port = 0;
	int opt;
	char *end;
	long seconds;

	srv->addr_text = DEFAULT_ADDR;
	srv->docroot_arg = NULL;
	srv->timeout_ms = DEFAULT_TIMEOUT_S * NET_MS_PER_S;
	while ((opt = getopt(argc, argv, ":a:p:d:t:")) != -1) {
		switch (opt) {
		case 'a':
			srv->addr_text = optarg;
			break;
		case 'p':
			if (net_parse_port(optarg, &srv->port) < 0) {
				fprintf(stderr, "%s: bad port '%s': %s\n", PROG,
					optarg, strerror(errno));
				return -1;
			}
			have_port = 1;
			break;
		case 'd':
			srv->docroot_arg = optarg;
			break;
		case 't':
			seconds = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    seconds < 1 || seconds > MAX_TIMEOUT_S) {
				fprintf(stderr, "%s: bad timeout '%s'\n", PROG,
					optarg);
				return -1;
			}
			srv->timeout_ms = (int)seconds * NET_MS_PER_S;
			break;
		case ':':
			fprintf(stderr, "%s: -%c needs a value\n", PROG,
				optopt);
			return -1;
		default:
			fprintf(stderr, "%s: unknown option -%c\n", PROG,
				optopt);
			return -1;
		}
	}
	if (!have_port || srv->docroot_arg == NULL) {
		fprintf(stderr, "%s: -p PORT and -d DOCROOT are required\n",
			PROG);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG,
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Results of conn_fill besides a byte count. */
#define FILL_EOF 0
#define FILL_FAILED (-1) /* errno set: ETIMEDOUT, EINTR (stop), ... */
#define FILL_YIELD (-2)	 /* idle while another client waits */

/*
 * Receives more bytes into c->buf. While the connection is idle (no
 * bytes of a request yet), it also watches the listener: when another
 * client is waiting, an idle keep-alive connection is closed for it
 * (RFC 9112 section 9.6 lets a server close idle connections; clients
 * retry a request on a new connection when a reused one closes). A new
 * connection first gets FIRST_REQUEST_GRACE_MS to send its request: a
 * browser's request may still be on its way.
 */
static ssize_t conn_fill(struct conn *c)
{
	int idle = c->have == 0;
	int watch = idle && c->served > 0 ? 2 : 1;
	int timeout_ms = c->srv->timeout_ms;
	struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN},
				{.fd = c->srv->listener, .events = POLLIN}};

	if (idle && c->served == 0 && timeout_ms > FIRST_REQUEST_GRACE_MS) {
		timeout_ms = FIRST_REQUEST_GRACE_MS;
		watch = 1;
	}
	for (;;) {
		if (stop_requested) {
			errno = EINTR;
			return FILL_FAILED;
		}
		int rc = net_wait(fds, (nfds_t)watch, timeout_ms, &wait_mask);
		if (rc == 0 && watch == 1 && idle && c->served == 0 &&
		    timeout_ms < c->srv->timeout_ms) {
			/* Grace over: wait the rest, yielding if needed. */
			timeout_ms = c->srv->timeout_ms - timeout_ms;
			watch = 2;
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return FILL_FAILED;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return FILL_FAILED;
		}
		if (fds[0].revents == 0)
			return FILL_YIELD;
		ssize_t n = recv(c->fd, c->buf + c->have,
				 sizeof(c->buf) - c->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			c->have += (size_t)n;
		return n;
	}
}

/* Bytes received after the head being answered. */
static size_t conn_pending(const struct conn *c)
{
	return c->have - c->start;
}

/* Drops n bytes that follow the head being answered. */
static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->buf + c->start, c->buf + c->start + n,
		c->have - c->start - n);
	c->have -= n;
}

/*
 * Drops the head that was answered: the next request's bytes move to the
 * start of the buffer. Views into the old head become invalid.
 */
static void conn_end_request(struct conn *c)
{
	size_t head_len = c->start;

	c->start = 0;
	conn_consume(c, head_len);
}

/*
 * Closes the sending side, then reads (and drops) what the client still
 * sends for a moment, so that closing does not reset the connection and
 * destroy the response before the client has read it.
 */
static void linger_close(struct conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	size_t dropped = 0;

	shutdown(c->fd, SHUT_WR);
	while (dropped < LINGER_BYTES && !stop_requested &&
	       net_wait(&pfd, 1, LINGER_MS, &wait_mask) > 0) {
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n <= 0)
			break;
		dropped += (size_t)n;
	}
}

/* Writes the current time as an IMF-fixdate (RFC 9110 section 5.6.7). */
static void format_date(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* A response head being built. */
struct head {
	char text[RESPONSE_HEAD_MAX];
	size_t len;
	int overflow;
};

/* Appends formatted text to the head; sets overflow when it is full. */
static void head_add(struct head *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(h->text + h->len, sizeof(h->text) - h->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(h->text) - h->len)
		h->overflow = 1;
	else
		h->len += (size_t)n;
}

/*
 * Starts a response head: status line, Date, Server, Content-Length (or
 * Transfer-Encoding for BODY_CHUNKED) and Connection. The caller adds its
 * own headers, then head_send() ends it.
 */
static void head_start(struct head *h, int status, uint64_t content_length,
		       int keep_alive)
{
	char date[DATE_TEXT_MAX];

	h->len = 0;
	h->overflow = 0;
	format_date(date, sizeof(date));
	head_add(h, "HTTP/1.1 %d %s\r\n", status, http_reason_phrase(status));
	head_add(h, "Date: %s\r\nServer: %s\r\n", date, SERVER_NAME);
	if (content_length == BODY_CHUNKED)
		head_add(h, "Transfer-Encoding: chunked\r\n");
	else
		head_add(h, "Content-Length: %llu\r\n",
			 (unsigned long long)content_length);
	head_add(h, "Connection: %s\r\n", keep_alive ? "keep-alive" : "close");
}

/* Ends the head with the blank line and sends it. Returns 0 or -1. */
static int head_send(struct head *h, int fd)
{
	head_add(h, "\r\n");
	if (h->overflow) {
		errno = EMSGSIZE;
		return -1;
	}
	return net_send_all(fd, h->text, h->len) < 0 ? -1 : 0;
}

/* The extra header lines of an error response (Allow, Location). */
struct extra {
	const char *allow;    /* for 405 and OPTIONS */
	const char *location; /* for 301 */
	size_t location_len;
};

/*
 * Sends a complete response with a small HTML body explaining status.
 * Returns 0, or -1 when sending failed.
 */
static int send_status_page(struct conn *c, int status, int keep_alive,
			    int is_head, const struct extra *extra)
{
	char body[512];
	struct head h;

	int n = snprintf(body, sizeof(body),
			 "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
			 "</head>\n<body><h1>%d %s</h1></body></html>\n",
			 status, http_reason_phrase(status), status,
			 http_reason_phrase(status));
	if (n < 0 || (size_t)n >= sizeof(body))
		n = 0;
	head_start(&h, status, (uint64_t)n, keep_alive);
	head_add(&h, "Content-Type: text/html; charset=utf-8\r\n");
	if (extra != NULL && extra->allow != NULL)
		head_add(&h, "Allow: %s\r\n", extra->allow);
	if (extra != NULL && extra->location != NULL)
		head_add(&h, "Location: %.*s\r\n", (int)extra->location_len,
			 extra->location);
	if (head_send(&h, c->fd) < 0)
		return -1;
	if (is_head || n == 0)
		return 0;
	return net_send_all(c->fd, body, (size_t)n) < 0 ? -1 : 0;
}

/* Logs one request on stderr: peer-less, one line. */
static void log_request(const struct http_request *req, int status)
{
	fprintf(stderr, "%s: \"%.*s %.*s HTTP/%d.%d\" %d\n", PROG,
		(int)req->method_len, req->method,
		(int)(req->target_len > 200 ? 200 : req->target_len),
		req->target, req->major, req->minor, status);
}

/*
 * Sends "100 Continue" if the client waits for it before sending a body
 * we are about to read (RFC 9110 section 10.1.1).
 */
static int maybe_continue(struct conn *c, const struct http_request_info *ri)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!ri->expect_continue)
		return 0;
	/* A chunked body has begun to arrive if any byte of it is here. */
	if (ri->chunked ? conn_pending(c) > 0
			: ri->body_len == 0 || conn_pending(c) >= ri->body_len)
		return 0;
	return net_send_all(c->fd, interim, sizeof(interim) - 1) < 0 ? -1 : 0;
}

/*
 * Hands the request body, body_len bytes, to fd (or drops it when fd <
 * 0), taking first what is buffered, then receiving the rest.
 * Returns 0, or -1 with errno set (ETIMEDOUT, ECONNRESET...).
 */
static int relay_body(struct conn *c, uint64_t body_len, int fd)
{
	while (body_len > 0) {
		if (conn_pending(c) == 0) {
			ssize_t n = conn_fill(c);
			if (n == FILL_EOF) {
				errno = ECONNRESET;
				return -1;
			}
			if (n < 0) {
				if (n == FILL_YIELD)
					continue;
				return -1;
			}
		}
		size_t avail = conn_pending(c);
		size_t take = avail < body_len ? avail : (size_t)body_len;
		if (fd >= 0 && net_send_all(fd, c->buf + c->start, take) < 0)
			return -1;
		conn_consume(c, take);
		body_len -= take;
	}
	return 0;
}

/*
 * Sends len bytes as one chunk of a chunked body (RFC 9112 section 7.1).
 * Returns 0 or -1.
 */
static int send_chunk(int fd, const char *data, size_t len)
{
	char size_line[CHUNK_SIZE_LINE_MAX];
	int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);

	if (n < 0 || (size_t)n >= sizeof(size_line)) {
		errno = EOVERFLOW;
		return -1;
	}
	if (net_send_all(fd, size_line, (size_t)n) < 0 ||
	    net_send_all(fd, data, len) < 0 || net_send_all(fd, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/*
 * Hands a chunked request body to fd, decoded and coded again in chunks
 * (or drops it when fd < 0), up to its last chunk and trailer section,
 * whose fields are dropped. Gives up with errno EFBIG once more than
 * limit bytes have been read. Returns 0, or -1 with errno set: EPROTO for
 * a malformed coding, ETIMEDOUT, ECONNRESET...
 */
static int relay_chunked(struct conn *c, int fd, uint64_t limit)
{
	struct http_chunked dec = {0};
	uint64_t read_so_far = 0;

	for (;;) {
		if (conn_pending(c) == 0) {
			ssize_t n = conn_fill(c);
			if (n == FILL_EOF) {
				errno = ECONNRESET;
				return -1;
			}
			if (n == FILL_YIELD)
				continue;
			if (n < 0)
				return -1;
		}
		size_t in = conn_pending(c);
		size_t data_len = in;
		char *data = c->buf + c->start;
		ssize_t rest = http_decode_chunked(&dec, data, &data_len);
		if (rest == HTTP_PARSE_ERROR) {
			errno = EPROTO;
			return -1;
		}
		/* Bytes after the body (rest >= 0): the next request's. */
		read_so_far += in - (rest >= 0 ? (size_t)rest : 0);
		if (read_so_far > limit) {
			errno = EFBIG;
			return -1;
		}
		if (fd >= 0 && data_len > 0 &&
		    send_chunk(fd, data, data_len) < 0)
			return -1;
		if (rest == HTTP_PARSE_PARTIAL) {
			c->have = c->start; /* all of it decoded and used */
			continue;
		}
		/* The bytes after the body: the next, pipelined request. */
		memmove(data, data + data_len, (size_t)rest);
		c->have = c->start + (size_t)rest;
		if (fd >= 0 && net_send_all(fd, "0\r\n\r\n", 5) < 0)
			return -1;
		return 0;
	}
}

/* POST /echo: the body back, with the request's Content-Type. */
static int serve_echo(struct conn *c, const struct http_request_info *ri)
{
	const struct http_request *req = ri->req;
	const struct http_header *type = http_find_header(
		req->headers, req->num_headers, "Content-Type");
	struct head h;

	if (maybe_continue(c, ri) < 0)
		return -1;
	log_request(req, 200);
	/*
	 * A chunked body's length is known only at its end, so it goes back
	 * in chunks as it arrives; a broken coding half way cuts the
	 * response short (the client sees no last chunk).
	 */
	head_start(&h, 200, ri->chunked ? BODY_CHUNKED : ri->body_len,
		   ri->keep_alive);
	if (type != NULL)
		head_add(&h, "Content-Type: %.*s\r\n", (int)type->value_len,
			 type->value);
	else
		head_add(&h, "Content-Type: %s\r\n", HTTP_DEFAULT_MIME);
	if (head_send(&h, c->fd) < 0)
		return -1;
	if (ri->chunked)
		return relay_chunked(c, c->fd, UINT64_MAX);
	return relay_body(c, ri->body_len, c->fd);
}

/* Streams len bytes of an open file to the client. Returns 0 or -1. */
static int send_file_body(int sock, int file, uint64_t len)
{
	char chunk[FILE_CHUNK];

	while (len > 0) {
		size_t want = len < sizeof(chunk) ? (size_t)len : sizeof(chunk);
		ssize_t n = read(file, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank: the promised length is wrong. */
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (net_send_all(sock, chunk, (size_t)n) < 0)
			return -1;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The status for an open()/stat() failure on a path under the root. */
static int status_for_errno(int err)
{
	return err == EACCES || err == EPERM || err == ELOOP ? 403 : 404;
}

/*
 * Maps a normalised URL path to a file under the document root, following
 * symlinks, and refuses any result outside the root. Returns 0 with the
 * canonical path in out, or an HTTP status (403, 404) to send instead.
 */
static int resolve_file(const struct server *srv, const char *url_path,
			char *out)
{
	char joined[PATH_MAX];

	int n = snprintf(joined, sizeof(joined), "%s%s", srv->docroot,
			 url_path);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return 404;
	if (realpath(joined, out) == NULL)
		return status_for_errno(errno);
	if (strncmp(out, srv->docroot, srv->docroot_len) != 0 ||
	    (out[srv->docroot_len] != '/' && out[srv->docroot_len] != '\0'))
		return 403; /* a symlink pointing out of the root */
	return 0;
}

/*
 * Opens the file for a URL path: a directory means its index.html, or a
 * redirect (returned as 301) when the path lacks its trailing slash.
 * Returns 0 with *fd open, *st filled and the file's canonical path in
 * real (PATH_MAX bytes), or the status to send.
 */
static int open_resource(const struct server *srv, const char *url_path,
			 int *fd, struct stat *st, char *real)
{
	char index[PATH_MAX];
	size_t len = strlen(url_path);

	int status = resolve_file(srv, url_path, real);
	if (status != 0)
		return status;
	if (stat(real, st) < 0)
		return status_for_errno(errno);
	if (S_ISDIR(st->st_mode)) {
		if (url_path[len - 1] != '/')
			return 301;
		int n = snprintf(index, sizeof(index), "%sindex.html",
				 url_path);
		if (n < 0 || (size_t)n >= sizeof(index))
			return 404;
		status = resolve_file(srv, index, real);
		if (status != 0)
			return status;
	}
	*fd = open(real, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return status_for_errno(errno);
	if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(*fd);
		return 403;
	}
	return 0;
}

/*
 * GET and HEAD of a file. raw_path is the path as the client wrote it
 * (for the Location of a redirect); url_path is decoded and normalised.
 */
static int serve_file(struct conn *c, const struct http_request_info *ri,
		      const char *raw_path, size_t raw_len,
		      const char *url_path)
{
	struct stat st;
	struct head h;
	int fd = -1;
	char location[REQUEST_LINE_MAX + 2];
	char real[PATH_MAX];

	int status = open_resource(c->srv, url_path, &fd, &st, real);
	if (status == 301) {
		/* The client's own spelling of the path, plus the slash. */
		int n = snprintf(location, sizeof(location), "%.*s/",
				 (int)raw_len, raw_path);
		if (n >= 0 && (size_t)n < sizeof(location)) {
			struct extra ex = {NULL, location, (size_t)n};
			log_request(ri->req, 301);
			return send_status_page(c, 301, ri->keep_alive,
						ri->is_head, &ex);
		}
		status = 414; /* too long to redirect to */
	}
	log_request(ri->req, status == 0 ? 200 : status);
	if (status != 0)
		return send_status_page(c, status, ri->keep_alive, ri->is_head,
					NULL);
	head_start(&h, 200, (uint64_t)st.st_size, ri->keep_alive);
	head_add(&h, "Content-Type: %s\r\n", http_mime_type(real));
	int rc = head_send(&h, c->fd);
	if (rc == 0 && !ri->is_head)
		rc = send_file_body(c->fd, fd, (uint64_t)st.st_size);
	close(fd);
	return rc;
}

/*
 * Reads and drops a chunked body that is not echoed. Returns 0, or -1
 * (after answering 413 or 400 when the body is too large to drop or
 * malformed) when the connection must close.
 */
static int drop_chunked_body(struct conn *c, const struct http_request_info *ri)
{
	if (maybe_continue(c, ri) < 0)
		return -1;
	if (relay_chunked(c, -1, DISCARD_MAX) == 0)
		return 0;
	if (errno == EFBIG || errno == EPROTO) {
		int status = errno == EFBIG ? 413 : 400;
		log_request(ri->req, status);
		send_status_page(c, status, 0, ri->is_head, NULL);
		linger_close(c);
	}
	return -1;
}

/*
 * Reads and drops the body of a request that is not echoed, so that the
 * next request on the connection can be read. Returns 0, or -1 (after
 * answering 413 for a body too large to drop) when the connection must
 * close.
 */
static int drop_body(struct conn *c, const struct http_request_info *ri)
{
	if (ri->chunked)
		return drop_chunked_body(c, ri);
	if (ri->body_len == 0)
		return 0;
	if (ri->body_len > DISCARD_MAX) {
		log_request(ri->req, 413);
		send_status_page(c, 413, 0, ri->is_head, NULL);
		linger_close(c);
		return -1;
	}
	if (maybe_continue(c, ri) < 0)
		return -1;
	return relay_body(c, ri->body_len, -1);
}

/*
 * The path of the request's target, decoded and normalised, in url_path
 * (size bytes); *raw and *raw_len are the path as the client wrote it.
 * Returns 0, or the status to answer with: 400 for a target that is not
 * a path or does not decode, 403 for a path that climbs above the root.
 */
static int request_path(const struct http_request *req, const char **raw,
			size_t *raw_len, char *url_path, size_t size)
{
	char decoded[REQUEST_LINE_MAX + 1];

	if (http_target_path(req, raw, raw_len) < 0 ||
	    http_percent_decode(*raw, *raw_len, decoded, sizeof(decoded)) < 0)
		return 400;
	if (http_normalize_path(decoded, url_path, size) < 0)
		return errno == EACCES ? 403 : 400;
	return 0;
}

/*
 * Routes a parsed request whose head has been consumed. Returns 0, or -1
 * when the connection must close (sending failed).
 */
static int route(struct conn *c, const struct http_request_info *ri)
{
	const struct http_request *req = ri->req;
	char url_path[REQUEST_LINE_MAX + 1];
	const char *raw;
	size_t raw_len;
	struct extra allow = {"GET, HEAD, OPTIONS", NULL, 0};

	int status =
		request_path(req, &raw, &raw_len, url_path, sizeof(url_path));
	if (status == 0 && strcmp(url_path, ECHO_PATH) == 0 &&
	    http_method_is(req, "POST"))
		return serve_echo(c, ri);
	if (drop_body(c, ri) < 0)
		return -1;
	if (req->target_len == 1 && req->target[0] == '*' &&
	    http_method_is(req, "OPTIONS")) {
		allow.allow = "GET, HEAD, POST, OPTIONS";
		log_request(req, 200);
		return send_status_page(c, 200, ri->keep_alive, 0, &allow);
	}
	if (status != 0) {
		log_request(req, status);
		return send_status_page(c, status, ri->keep_alive, ri->is_head,
					NULL);
	}
	if (strcmp(url_path, ECHO_PATH) == 0) {
		allow.allow = "POST, OPTIONS";
	} else if (http_method_is(req, "GET") || ri->is_head) {
		return serve_file(c, ri, raw, raw_len, url_path);
	}
	status = http_method_is(req, "OPTIONS") ? 200 : 405;
	log_request(req, status);
	return send_status_page(c, status, ri->keep_alive, ri->is_head, &allow);
}

/*
 * Answers one parsed request whose head is head_len bytes at the start
 * of c->buf. Returns 1 to keep the connection open, 0 to close it.
 */
static int handle_request(struct conn *c, const struct http_request *req,
			  size_t head_len)
{
	struct http_request_info ri = {.req = req,
				       .is_head = http_method_is(req, "HEAD")};
	int status = 0;

	if (req->major != 1)
		status = 505;
	else if (req->target_len >= REQUEST_LINE_MAX)
		status = 414; /* a long line that arrived in one piece */
	else if (head_len > HEAD_MAX)
		status = 431;
	else if ((status = http_check_headers(req, &ri)) == 0 &&
		 !http_method_is_known(req))
		status = 501;
	if (status != 0) {
		log_request(req, status);
		send_status_page(c, status, 0, ri.is_head, NULL);
		linger_close(c);
		return 0;
	}
	/* The head stays in the buffer while it is answered: req views it. */
	c->start = head_len;
	int rc = route(c, &ri);
	conn_end_request(c);
	if (rc < 0)
		return 0;
	c->served++;
	return ri.keep_alive;
}

/*
 * When the head is still incomplete: the status to refuse it with if it
 * is already over a limit (414 for the request line, 431 for the whole
 * head), else 0.
 */
static int head_over_limit(const struct conn *c)
{
	const char *eol = memchr(c->buf, '\n', c->have);
	size_t line_len = eol != NULL ? (size_t)(eol - c->buf) : c->have;

	if (line_len > REQUEST_LINE_MAX)
		return 414;
	if (c->have >= HEAD_MAX)
		return 431;
	return 0;
}

/* Answers an unparseable or oversized head, then closes. */
static void refuse(struct conn *c, int status)
{
	fprintf(stderr, "%s: refused a request: %d %s\n", PROG, status,
		http_reason_phrase(status));
	send_status_page(c, status, 0, 0, NULL);
	linger_close(c);
}

/*
 * Receives until c->buf holds a whole request head and parses it into
 * *req. Returns the head's length, or 0 when the connection is to close:
 * the client left, stayed idle too long, yields to another client, or
 * sent a head that was refused here (400, 408, 414, 431).
 */
static size_t read_request_head(struct conn *c, struct http_request *req)
{
	while (!stop_requested) {
		int n = http_parse_request(c->buf, c->have, req);
		if (n > 0)
			return (size_t)n;
		if (n == HTTP_PARSE_ERROR) {
			refuse(c, 400);
			return 0;
		}
		if (n == HTTP_PARSE_TOO_MANY) {
			refuse(c, 431);
			return 0;
		}
		int status = head_over_limit(c);
		if (status != 0) {
			refuse(c, status);
			return 0;
		}
		ssize_t got = conn_fill(c);
		if (got > 0)
			continue;
		if (got == FILL_FAILED && errno == ETIMEDOUT && c->have > 0) {
			refuse(c, 408); /* stalled in the middle of a head */
			return 0;
		}
		if (got == FILL_FAILED && errno != ETIMEDOUT && errno != EINTR)
			fprintf(stderr, "%s: recv: %s\n", PROG,
				strerror(errno));
		return 0; /* closed, idle, or yielding to a new client */
	}
	return 0;
}

/*
 * Serves requests on one connection until the client closes, asks to
 * close, stalls, misbehaves, or another client waits while it is idle.
 */
static void serve_connection(struct conn *c)
{
	struct http_request req;
	size_t head_len;

	while ((head_len = read_request_head(c, &req)) > 0) {
		if (!handle_request(c, &req, head_len))
			return;
	}
}

/*
 * Socket options for a client: a send that blocks longer than the
 * timeout means the client stopped reading; TCP_NODELAY because a
 * response goes out as a head and a body in two sends, and Nagle's
 * algorithm would hold the small body back until the client's delayed
 * ACK of the head (40 ms on Linux) - see docs/05-http.md, "Benchmark".
 */
static int set_client_options(int fd, int timeout_ms)
{
	struct timeval tv = {timeout_ms / NET_MS_PER_S,
			     (timeout_ms % NET_MS_PER_S) * NET_US_PER_MS};
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Serves connections one after another until a stop signal. */
static int serve_forever(struct server *srv, struct conn *c)
{
	struct pollfd pfd = {.fd = srv->listener, .events = POLLIN};

	while (!stop_requested) {
		if (net_wait(&pfd, 1, -1, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			return -1;
		}
		int fd = accept(srv->listener, NULL, NULL);
		if (fd < 0) {
			if (net_accept_error_is_transient(errno))
				continue;
			perror(PROG ": accept");
			return -1;
		}
		if (set_client_options(fd, srv->timeout_ms) < 0)
			perror(PROG ": setsockopt");
		c->fd = fd;
		c->have = 0;
		c->start = 0;
		c->served = 0;
		serve_connection(c);
		if (close(fd) < 0)
			perror(PROG ": close");
	}
	return 0;
}

/* Canonicalises the document root; returns 0, or -1 with errno set. */
static int open_docroot(struct server *srv)
{
	struct stat st;

	if (realpath(srv->docroot_arg, srv->docroot) == NULL)
		return -1;
	if (stat(srv->docroot, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	srv->docroot_len = strlen(srv->docroot);
	/* The root "/" itself: compare paths against "" plus '/'. */
	if (srv->docroot_len == 1)
		srv->docroot_len = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct server srv;
	static struct conn conn;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *failed_call = "";

	if (parse_args(argc, argv, &srv) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (net_make_addr(srv.addr_text, srv.port, &addr, &addr_len) < 0) {
		fprintf(stderr, "%s: -a: '%s' is not an IPv4 or IPv6 address\n",
			PROG, srv.addr_text);
		usage();
		return NET_EXIT_USAGE;
	}
	if (open_docroot(&srv) < 0) {
		fprintf(stderr, "%s: document root '%s': %s\n", PROG,
			srv.docroot_arg, strerror(errno));
		return EXIT_FAILURE;
	}
	/*
	 * SIGINT and SIGTERM set stop_requested; they stay blocked except
	 * while waiting with wait_mask, so a signal can never fall between a
	 * check of the flag and a blocking call. SIGPIPE is ignored (sends
	 * use MSG_NOSIGNAL anyway).
	 */
	if (net_block_stop_signals(&stop_requested, &wait_mask) < 0) {
		perror(PROG ": signal handlers");
		return EXIT_FAILURE;
	}
	srv.listener = net_listen(&addr, addr_len, SOCK_STREAM, LISTEN_BACKLOG,
				  &failed_call);
	if (srv.listener < 0) {
		fprintf(stderr, "%s: %s %s port %u: %s\n", PROG, failed_call,
			srv.addr_text, (unsigned)srv.port, strerror(errno));
		return EXIT_FAILURE;
	}
	conn.srv = &srv;
	int status = EXIT_SUCCESS;
	if (net_announce(srv.listener) < 0) {
		perror(PROG ": announce");
		status = EXIT_FAILURE;
	} else if (serve_forever(&srv, &conn) < 0) {
		status = EXIT_FAILURE;
	}
	close(srv.listener);
	return status;
}
