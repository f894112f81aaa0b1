/*
 * http_server - a sequential HTTP/1.1 static-file server (lab 05).
 *
 * The functions marked TODO are yours, one step of the handout at a time:
 *   step 2  read_request_head, format_date, head_start, head_send,
 *           send_status_page, handle_request (a first version)
 *   step 4  status_for_errno, resolve_file, open_resource,
 *           send_file_body, serve_file, route (and http_target_path in
 *           http_parse.c)
 *   step 5  conn_end_request, and handle_request grows (and
 *           http_check_headers in http_parse.c)
 *   step 6  refuse (and the error statuses in the functions above)
 *   step 8  maybe_continue, relay_body, send_chunk, relay_chunked,
 *           serve_echo, drop_chunked_body, drop_body
 *   step 9  head_over_limit
 * The command line, the signals, the listener, the accept loop, receiving
 * (conn_fill) and the small helpers are provided and already work.
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

/*
 * What a function that is not written yet does: says so on stderr and
 * fails with ENOSYS, so that the grader's report shows which one.
 */
static int todo(const char *function)
{
	fprintf(stderr, "%s: %s: not written yet (TODO in http_server.c)\n",
		PROG, function);
	errno = ENOSYS;
	return -1;
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
	/*
	 * TODO (step 5): the request whose head is c->buf[0..c->start) has
	 * been answered (and its body consumed): move the bytes after it,
	 * the start of the next pipelined request, to the front of c->buf.
	 * The views in the old struct http_request point into this buffer,
	 * which is why this happens only once the answer is sent.
	 * conn_consume() does the moving.
	 */
	todo("conn_end_request");
	c->start = 0;
	c->have = 0;
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
	/*
	 * TODO (step 2): the current time in GMT as an IMF-fixdate, the one
	 * date format HTTP senders use: "Sun, 06 Nov 1994 08:49:37 GMT"
	 * (RFC 9110 section 5.6.7). gmtime_r() and strftime() do it; local
	 * time or another layout makes clients misread caching dates.
	 */
	todo("format_date");
	snprintf(out, outlen, "not written yet");
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
	/*
	 * TODO (step 2): start h with the status line and the headers every
	 * response carries: Date (format_date), Server (SERVER_NAME), the
	 * body's framing (Content-Length, or "Transfer-Encoding: chunked"
	 * for BODY_CHUNKED: step 8) and Connection (keep-alive or close).
	 * Build it with head_add(), which keeps track of the room left.
	 * See docs/05-http.md, "The response, byte by byte".
	 */
	(void)status;
	(void)content_length;
	(void)keep_alive;
	todo("head_start");
	h->len = 0;
	h->overflow = 1;
}

/* Ends the head with the blank line and sends it. Returns 0 or -1. */
static int head_send(struct head *h, int fd)
{
	/*
	 * TODO (step 2): end the head with its blank line and send it all
	 * (net_send_all: a send may take only part). A head that did not
	 * fit (h->overflow) must not go out cut short: fail with EMSGSIZE.
	 */
	(void)fd;
	h->overflow = 1;
	return todo("head_send");
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
	/*
	 * TODO (step 2): a whole response whose body is a small HTML page
	 * naming the status ("404 Not Found"): head_start with the page's
	 * exact length, a Content-Type: text/html header, the Allow and
	 * Location headers when extra asks for them (steps 4 and 6), then
	 * the body unless the request was HEAD (step 7). Step 2 uses it
	 * with 200 for every request; later steps for every error.
	 */
	(void)c;
	(void)status;
	(void)keep_alive;
	(void)is_head;
	(void)extra;
	return todo("send_status_page");
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
	/*
	 * TODO (step 8): a client that sent "Expect: 100-continue" waits for
	 * an interim "HTTP/1.1 100 Continue" before it sends its body. Send
	 * it only when the body has not started to arrive already, and only
	 * when the body is about to be read. See docs/05-http.md, "POST and
	 * request bodies".
	 */
	(void)c;
	(void)ri;
	return todo("maybe_continue");
}

/*
 * Hands the request body, body_len bytes, to fd (or drops it when fd <
 * 0), taking first what is buffered, then receiving the rest.
 * Returns 0, or -1 with errno set (ETIMEDOUT, ECONNRESET...).
 */
static int relay_body(struct conn *c, uint64_t body_len, int fd)
{
	/*
	 * TODO (step 8): a Content-Length body is body_len bytes, some of
	 * them maybe in c->buf already (they came with the head), the rest
	 * still to receive with conn_fill(). Pass each piece on as it comes
	 * (to the client for /echo, nowhere to drop it) instead of holding
	 * the whole body: it may be larger than any buffer. Leave what
	 * follows the body in c->buf: it is the next request.
	 */
	(void)c;
	(void)body_len;
	(void)fd;
	return todo("relay_body");
}

/*
 * Sends len bytes as one chunk of a chunked body (RFC 9112 section 7.1).
 * Returns 0 or -1.
 */
static int send_chunk(int fd, const char *data, size_t len)
{
	/*
	 * TODO (step 8): one chunk of a chunked body: its size in hex, CRLF,
	 * the bytes, CRLF (RFC 9112 section 7.1).
	 */
	(void)fd;
	(void)data;
	(void)len;
	return todo("send_chunk");
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
	/*
	 * TODO (step 8): the same as relay_body() for a chunked body, whose
	 * end is known only when its last chunk arrives: decode what is in
	 * c->buf with http_decode_chunked() (it keeps its state between
	 * calls), pass the data on in chunks, receive more until the last
	 * chunk. Count the bytes read and give up past limit (EFBIG); a
	 * broken coding is EPROTO. The bytes after the body are the next
	 * request. See docs/05-http.md, "Chunked request bodies".
	 */
	(void)c;
	(void)fd;
	(void)limit;
	return todo("relay_chunked");
}

/* POST /echo: the body back, with the request's Content-Type. */
static int serve_echo(struct conn *c, const struct http_request_info *ri)
{
	/*
	 * TODO (step 8): POST /echo answers 200 with the request's body and
	 * the request's Content-Type (or HTTP_DEFAULT_MIME). A body of known
	 * length goes back with that Content-Length; a chunked one goes back
	 * chunked, as it arrives, since its length is known only at its end.
	 */
	(void)c;
	(void)ri;
	return todo("serve_echo");
}

/* Streams len bytes of an open file to the client. Returns 0 or -1. */
static int send_file_body(int sock, int file, uint64_t len)
{
	/*
	 * TODO (step 4): send len bytes of the open file, FILE_CHUNK bytes at
	 * a time: a file may be far larger than the memory the server may
	 * use (the grader limits it). A file that ends before len bytes
	 * cannot keep the promise of Content-Length: fail (EIO).
	 */
	(void)sock;
	(void)file;
	(void)len;
	return todo("send_file_body");
}

/* The status for an open()/stat() failure on a path under the root. */
static int status_for_errno(int err)
{
	/*
	 * TODO (step 4): the status for a failed realpath(), stat() or
	 * open(): no permission or a symlink loop is 403, anything else (no
	 * such file, a file used as a folder) 404.
	 */
	(void)err;
	todo("status_for_errno");
	return 500;
}

/*
 * Maps a normalised URL path to a file under the document root, following
 * symlinks, and refuses any result outside the root. Returns 0 with the
 * canonical path in out, or an HTTP status (403, 404) to send instead.
 */
static int resolve_file(const struct server *srv, const char *url_path,
			char *out)
{
	/*
	 * TODO (step 4): join the document root and url_path, resolve the
	 * result with realpath() (it follows symlinks and removes "..") and
	 * refuse with 403 anything that does not lie under srv->docroot: a
	 * symlink inside the root may point anywhere. See docs/05-http.md,
	 * "Path traversal".
	 */
	(void)srv;
	(void)url_path;
	(void)out;
	todo("resolve_file");
	return 500;
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
	/*
	 * TODO (step 4): resolve_file(), then look at what is there. A
	 * folder is served through its index.html when the path ends in
	 * '/', and redirected (301) to the path with its '/' when it does
	 * not, so that the page's relative links work. Open what is left;
	 * anything but a regular file is 403. See docs/05-http.md,
	 * "Directories and redirects".
	 */
	(void)srv;
	(void)url_path;
	(void)fd;
	(void)st;
	(void)real;
	todo("open_resource");
	return 500;
}

/*
 * GET and HEAD of a file. raw_path is the path as the client wrote it
 * (for the Location of a redirect); url_path is decoded and normalised.
 */
static int serve_file(struct conn *c, const struct http_request_info *ri,
		      const char *raw_path, size_t raw_len,
		      const char *url_path)
{
	/*
	 * TODO (step 4): open_resource(); for a 301, a status page with a
	 * Location (the client's own spelling of the path plus '/'); for
	 * another error, its status page; else a 200 head with the file's
	 * size and Content-Type (http_mime_type), then the file
	 * (send_file_body). log_request() each answer: your stderr is what
	 * the grader shows when a test fails. HEAD sends the head only
	 * (step 7).
	 */
	(void)c;
	(void)ri;
	(void)raw_path;
	(void)raw_len;
	(void)url_path;
	return todo("serve_file");
}

/*
 * Reads and drops a chunked body that is not echoed. Returns 0, or -1
 * (after answering 413 or 400 when the body is too large to drop or
 * malformed) when the connection must close.
 */
static int drop_chunked_body(struct conn *c, const struct http_request_info *ri)
{
	/*
	 * TODO (step 8): read a chunked body to its end without keeping it
	 * (relay_chunked to nowhere), so that the next request can be read;
	 * a body too large to drop is answered with 413, a broken coding
	 * with 400, and either way the connection closes.
	 */
	(void)c;
	(void)ri;
	return todo("drop_chunked_body");
}

/*
 * Reads and drops the body of a request that is not echoed, so that the
 * next request on the connection can be read. Returns 0, or -1 (after
 * answering 413 for a body too large to drop) when the connection must
 * close.
 */
static int drop_body(struct conn *c, const struct http_request_info *ri)
{
	/*
	 * TODO (step 8): a request that is not POST /echo may still carry a
	 * body: read and drop it (up to DISCARD_MAX, else 413 and close) so
	 * that its bytes are not taken for the next request.
	 */
	(void)c;
	(void)ri;
	return todo("drop_body");
}

/*
 * Routes a parsed request whose head has been consumed. Returns 0, or -1
 * when the connection must close (sending failed).
 */
static int route(struct conn *c, const struct http_request_info *ri)
{
	/*
	 * TODO (step 4): decide what answers the request. Take the
	 * target's path (http_target_path), decode it (http_percent_decode)
	 * and normalise it (http_normalize_path): a target that cannot be
	 * decoded is 400, one that climbs above the root 403. GET of a path
	 * goes to serve_file(). Later steps add HEAD (step 7), POST /echo
	 * and the dropping of unwanted bodies (step 8), and 405 with an
	 * Allow header for methods a resource refuses (step 6).
	 * Decode and normalise the path once, before anything else: every
	 * branch below needs it.
	 */
	(void)c;
	(void)ri;
	return todo("route");
}

/*
 * Answers one parsed request whose head is head_len bytes at the start
 * of c->buf. Returns 1 to keep the connection open, 0 to close it.
 */
static int handle_request(struct conn *c, const struct http_request *req,
			  size_t head_len)
{
	/*
	 * TODO (step 2): answer one request whose head is the first head_len
	 * bytes of c->buf; return 1 to read the next request on this
	 * connection, 0 to close it. Step 2: answer every request with a
	 * 200 status page and close. It grows with the steps:
	 *   step 4  route() the request instead;
	 *   step 5  http_check_headers() first; keep the head in the buffer
	 *           while it is answered (c->start = head_len), then
	 *           conn_end_request(); count c->served; keep the
	 *           connection open when the request allows it;
	 *   step 6  505 for versions other than 1.x, the status
	 *           http_check_headers() returns, 501 for methods that do
	 *           not exist (http_method_is_known): answered, then close;
	 *   step 9  414 and 431 for a head that arrived whole but is over
	 *           the limits.
	 * An error answered here closes the connection with linger_close(),
	 * so that the answer is not lost to a reset.
	 */
	(void)req;
	(void)head_len;
	todo("handle_request");
	c->have = 0;
	return 0;
}

/*
 * When the head is still incomplete: the status to refuse it with if it
 * is already over a limit (414 for the request line, 431 for the whole
 * head), else 0.
 */
static int head_over_limit(const struct conn *c)
{
	/*
	 * TODO (step 9): a head still incomplete may already be too long: a
	 * request line past REQUEST_LINE_MAX is 414, a head that filled
	 * HEAD_MAX bytes 431 (docs/05-http.md, "Limits"). Without this check
	 * a client can fill the buffer and leave the server waiting. Until
	 * then, no limit is checked.
	 */
	(void)c;
	return 0;
}

/* Answers an unparseable or oversized head, then closes. */
static void refuse(struct conn *c, int status)
{
	/*
	 * TODO (step 6): a head that cannot be answered normally (malformed:
	 * 400, too large: 414 or 431, stalled: 408) gets its status page,
	 * then the connection closes: after a head it cannot parse, the
	 * server cannot tell where the next request would start. Log it on
	 * stderr, and close with linger_close() so that the client reads the
	 * page before the connection goes.
	 */
	(void)c;
	(void)status;
	todo("refuse");
}

/*
 * Receives until c->buf holds a whole request head and parses it into
 * *req. Returns the head's length, or 0 when the connection is to close:
 * the client left, stayed idle too long, yields to another client, or
 * sent a head that was refused here (400, 408, 414, 431).
 */
static size_t read_request_head(struct conn *c, struct http_request *req)
{
	/*
	 * TODO (step 2): receive until c->buf holds a whole request head:
	 * parse what is there (http_parse_request); while the head is
	 * incomplete, conn_fill() more bytes (it waits with the idle
	 * timeout, and gives up when the client leaves or another client
	 * waits). Return the head's length, or 0 to close the connection.
	 * A head may arrive in any number of pieces, one byte at a time
	 * even. Step 6: a malformed head is refused with 400, too many
	 * header lines with 431. Step 9: a head over the limits is refused
	 * with 414 or 431 (head_over_limit), and a client that stalls in
	 * the middle of a head with 408. See docs/05-http.md, "Reading a
	 * request from a stream".
	 */
	(void)req;
	todo("read_request_head");
	c->have = 0;
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
 * Names the functions that nothing calls until you have written the steps
 * that call them, so that the compiler does not warn about them meanwhile.
 * Delete it once every step is done.
 */
__attribute__((unused)) static void called_by_later_steps(void)
{
	(void)conn_fill;
	(void)conn_pending;
	(void)conn_consume;
	(void)conn_end_request;
	(void)linger_close;
	(void)format_date;
	(void)head_add;
	(void)head_start;
	(void)head_send;
	(void)send_status_page;
	(void)log_request;
	(void)maybe_continue;
	(void)relay_body;
	(void)send_chunk;
	(void)relay_chunked;
	(void)serve_echo;
	(void)send_file_body;
	(void)status_for_errno;
	(void)resolve_file;
	(void)open_resource;
	(void)serve_file;
	(void)drop_chunked_body;
	(void)drop_body;
	(void)route;
	(void)head_over_limit;
	(void)refuse;
	(void)todo;
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
