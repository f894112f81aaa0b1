/*
 * test_http_session.c - unit tests for http_session.c (lab 06, provided).
 *
 * Run all groups:   build/lab06/tests/test_http_session
 * Run one group:    build/lab06/tests/test_http_session get
 *                   (groups: get, errors, connection, pipelining,
 *                    large, idle, serve)
 *
 * Each test drives a session over a non-blocking socketpair: the test
 * plays the client on one end and calls the session's handlers as an
 * event loop would, so every step is deterministic. The "serve" group
 * runs http_session_serve() in a child process instead, as the fork model
 * does. Every wait is bounded.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, kill, mkdtemp, symlink */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h> /* before cmocka.h, which redefines malloc */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http_parse.h"
#include "http_session.h"

#define INDEX_BODY "hello, lab 06\n"
#define SUB_BODY "sub index\n"
#define BIG_SIZE (1 << 20)   /* the large file: 1 MiB */
#define SMALL_SNDBUF 16384   /* so that the large file meets EAGAIN */
#define SLOW_READ 8192	     /* what the slow client reads at a time */
#define PUMP_MAX 100000	     /* handler calls before a test gives up */
#define WAIT_MS 3000	     /* longest wait for the client side */
#define CHILD_WAIT_MS 5000   /* longest wait for a serve() child */
#define SERVE_IDLE_MS 200    /* idle timeout in the serve tests */
#define SERVE_LONG_MS 10000  /* an idle timeout the tests never reach */
#define DATE_LEN 29	     /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define DROPPED_BODY 100000  /* a GET body under the discard limit */
#define TOO_BIG_BODY 2000000 /* a GET body over it */

/* ---- the document root ----------------------------------------------- */

static char docroot[PATH_MAX];
static struct http_site site;

/* The path of rel under the document root, in path (PATH_MAX bytes). */
static int docroot_path(const char *rel, char *path)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", docroot, rel);

	return n > 0 && n < PATH_MAX ? 0 : -1;
}

static void write_file(const char *rel, const char *data, size_t len)
{
	char path[PATH_MAX];

	assert_int_equal(docroot_path(rel, path), 0);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX];

	assert_int_equal(docroot_path(rel, path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* The byte at offset i of the large file: not periodic in 256. */
static char big_byte(size_t i)
{
	return (char)((i * 7 + i / 251) & 0xff);
}

static int setup_docroot(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *big = malloc(BIG_SIZE);
	char path[PATH_MAX];

	(void)state;
	if (big == NULL)
		return -1;
	snprintf(docroot, sizeof(docroot), "%s/lab06-session-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(docroot) == NULL) {
		free(big);
		return -1;
	}
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = big_byte(i);
	write_file("index.html", INDEX_BODY, strlen(INDEX_BODY));
	write_file("a b.txt", "space\n", 6);
	write_file("big.bin", big, BIG_SIZE);
	make_dir("dir");
	write_file("dir/index.html", SUB_BODY, strlen(SUB_BODY));
	make_dir("empty");
	free(big);
	if (docroot_path("inside.html", path) < 0 ||
	    symlink("index.html", path) < 0 ||
	    docroot_path("outside", path) < 0 || symlink("..", path) < 0 ||
	    docroot_path("slash", path) < 0 || symlink("/", path) < 0 ||
	    docroot_path("fifo", path) < 0 || mkfifo(path, 0644) < 0)
		return -1;
	return http_site_open(&site, docroot);
}

static int teardown_docroot(void **state)
{
	static const char *const files[] = {
		"index.html", "a b.txt", "big.bin",	"dir/index.html",
		"dir",	      "empty",	 "inside.html", "outside",
		"slash",      "fifo"};
	char path[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (docroot_path(files[i], path) == 0)
			remove(path);
	}
	http_site_close(&site);
	return rmdir(docroot);
}

/* ---- a client and a session on a socketpair -------------------------- */

struct bytes {
	char *data;
	size_t len, cap;
};

struct conn {
	struct http_session s;
	int fd;	  /* the session's end */
	int peer; /* the client's end */
	enum http_want want;
	struct bytes got; /* what the client received */
	int peer_eof;
};

static void conn_open(struct conn *c, int sndbuf)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
	c->fd = sv[0];
	c->peer = sv[1];
	if (sndbuf > 0)
		assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF,
					    &sndbuf, sizeof(sndbuf)),
				 0);
	http_session_init(&c->s, &site, c->fd);
	c->want = HTTP_WANT_READ;
}

static void conn_close(struct conn *c)
{
	http_session_end(&c->s);
	if (c->fd >= 0)
		close(c->fd);
	if (c->peer >= 0)
		close(c->peer);
	free(c->got.data);
}

static void bytes_add(struct bytes *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		assert_non_null(grown);
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* The client sends len bytes (the socketpair's buffer takes them all). */
static void client_send_n(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->peer, data, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

static void client_send(struct conn *c, const char *text)
{
	client_send_n(c, text, strlen(text));
}

/* The client reads up to limit bytes of what has arrived (0: all). */
static void client_read(struct conn *c, size_t limit)
{
	char buf[SLOW_READ];
	size_t total = 0;

	while (limit == 0 || total < limit) {
		size_t want = sizeof(buf);
		if (limit != 0 && limit - total < want)
			want = limit - total;
		ssize_t n = recv(c->peer, buf, want, 0);
		if (n < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
		if (n == 0) {
			c->peer_eof = 1;
			return;
		}
		bytes_add(&c->got, buf, (size_t)n);
		total += (size_t)n;
	}
}

static int session_has_input(const struct conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

/* One call of the handler the session asked for. */
static void step(struct conn *c)
{
	c->want = c->want == HTTP_WANT_READ ? http_session_on_readable(&c->s)
					    : http_session_on_writable(&c->s);
}

/*
 * Runs the session like an event loop until it waits for the client
 * (wants to read with nothing there) or is finished, the client reading
 * everything. Returns the number of WANT_WRITE answers seen.
 */
static int pump(struct conn *c)
{
	int write_waits = 0;

	for (int i = 0; i < PUMP_MAX; i++) {
		if (c->want == HTTP_WANT_CLOSE)
			return write_waits;
		if (c->want == HTTP_WANT_READ && !session_has_input(c)) {
			client_read(c, 0);
			return write_waits;
		}
		step(c);
		if (c->want == HTTP_WANT_WRITE)
			write_waits++;
		client_read(c, 0);
	}
	fail_msg("the session made no end after %d calls", PUMP_MAX);
	return write_waits;
}

/* ---- reading responses ----------------------------------------------- */

struct parsed {
	struct http_response res;
	const char *body;
	size_t body_len;
};

/* The value of header name in r, as a C string in buf, or NULL. */
static const char *header(const struct parsed *r, const char *name, char *buf,
			  size_t buflen)
{
	const struct http_header *h =
		http_find_header(r->res.headers, r->res.num_headers, name);

	if (h == NULL)
		return NULL;
	snprintf(buf, buflen, "%.*s", (int)h->value_len, h->value);
	return buf;
}

static void assert_header(const struct parsed *r, const char *name,
			  const char *expected)
{
	char buf[PATH_MAX];
	const char *value = header(r, name, buf, sizeof(buf));

	if (value == NULL)
		fail_msg("the response has no %s header", name);
	assert_string_equal(value, expected);
}

/*
 * Parses the response at c->got[*off]: its head and, unless head_only,
 * a body of Content-Length bytes. Advances *off past it.
 */
static struct parsed next_response(const struct conn *c, size_t *off,
				   int head_only)
{
	struct parsed r;
	char buf[64];
	uint64_t length = 0;

	memset(&r, 0, sizeof(r));
	int n = http_parse_response(c->got.data + *off, c->got.len - *off,
				    &r.res);
	if (n <= 0)
		fail_msg("no complete response at byte %zu of %zu received",
			 *off, c->got.len);
	const char *cl = header(&r, "Content-Length", buf, sizeof(buf));
	assert_non_null(cl);
	assert_int_equal(http_parse_content_length(cl, strlen(cl), &length), 0);
	*off += (size_t)n;
	r.body = c->got.data + *off;
	if (!head_only) {
		if (c->got.len - *off < length)
			fail_msg("the body has %zu of %llu bytes",
				 c->got.len - *off, (unsigned long long)length);
		r.body_len = (size_t)length;
		*off += (size_t)length;
	}
	return r;
}

/* The only response received, which must be complete. */
static struct parsed only_response(const struct conn *c, int head_only)
{
	size_t off = 0;
	struct parsed r = next_response(c, &off, head_only);

	assert_int_equal(off, c->got.len);
	return r;
}

/* Sends one request, runs the session, and returns its response. */
static struct parsed exchange(struct conn *c, const char *request,
			      int head_only)
{
	c->got.len = 0;
	client_send(c, request);
	pump(c);
	return only_response(c, head_only);
}

static void assert_body(const struct parsed *r, const char *expected)
{
	assert_int_equal(r->body_len, strlen(expected));
	assert_memory_equal(r->body, expected, r->body_len);
}

/* A refused request: the status, Connection: close, then EOF. */
static void assert_refused(const char *request, int status)
{
	struct conn c;

	conn_open(&c, 0);
	struct parsed r = exchange(&c, request, 0);
	assert_int_equal(r.res.status, status);
	assert_header(&r, "Connection", "close");
	assert_true(c.peer_eof);
	assert_int_equal(c.want, HTTP_WANT_READ); /* lingering */
	conn_close(&c);
}

/* ---- get --------------------------------------------------------------- */

static void test_get_exact(void **state)
{
	struct conn c;
	char date[64];

	(void)state;
	conn_open(&c, 0);
	struct parsed r =
		exchange(&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.major, 1);
	assert_int_equal(r.res.minor, 1);
	assert_int_equal(r.res.status, 200);
	assert_true(r.res.reason_len == 2 &&
		    memcmp(r.res.reason, "OK", 2) == 0);
	assert_body(&r, INDEX_BODY);
	assert_header(&r, "Content-Type", "text/html; charset=utf-8");
	assert_header(&r, "Server", HTTP_SERVER_NAME);
	assert_header(&r, "Connection", "keep-alive");
	assert_non_null(header(&r, "Date", date, sizeof(date)));
	assert_int_equal(strlen(date), DATE_LEN);
	assert_non_null(strstr(date, " GMT"));
	assert_int_equal(c.want, HTTP_WANT_READ);
	assert_false(c.peer_eof);
	conn_close(&c);
}

static void test_get_directory_index(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_body(&r, INDEX_BODY);
	r = exchange(&c, "GET /dir/?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_body(&r, SUB_BODY);
	r = exchange(&c, "GET /a%20b.txt HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_body(&r, "space\n");
	assert_header(&r, "Content-Type", "text/plain; charset=utf-8");
	conn_close(&c);
}

static void test_head_has_no_body(void **state)
{
	struct conn c;
	char length[32];

	(void)state;
	conn_open(&c, 0);
	struct parsed r =
		exchange(&c, "HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 1);
	assert_int_equal(r.res.status, 200);
	snprintf(length, sizeof(length), "%zu", strlen(INDEX_BODY));
	assert_header(&r, "Content-Length", length);
	r = exchange(&c, "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n", 1);
	assert_int_equal(r.res.status, 200);
	snprintf(length, sizeof(length), "%d", BIG_SIZE);
	assert_header(&r, "Content-Length", length);
	assert_header(&r, "Content-Type", "application/octet-stream");
	r = exchange(&c, "HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n", 1);
	assert_int_equal(r.res.status, 404);
	conn_close(&c);
}

static void test_not_found(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(
		&c, "GET /missing.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 404);
	assert_non_null(strstr(r.body, "404")); /* the body ends the data */
	assert_header(&r, "Connection", "keep-alive");
	r = exchange(&c, "GET /empty/ HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 404);
	r = exchange(&c, "GET /index.html/x HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 404);
	assert_int_equal(c.want, HTTP_WANT_READ);
	conn_close(&c);
}

static void test_redirect_adds_slash(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r =
		exchange(&c, "GET /dir HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 301);
	assert_header(&r, "Location", "/dir/");
	r = exchange(&c, "GET /d%69r?q=1 HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 301);
	assert_header(&r, "Location", "/d%69r/");
	conn_close(&c);
}

/* ---- errors ------------------------------------------------------------ */

static void test_bad_request(void **state)
{
	(void)state;
	assert_refused("garbage\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\n\r\n", 400); /* no Host */
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
		       400);
}

static void test_bad_target(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(&c, "GET x HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 400);
	r = exchange(&c, "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 400);
	r = exchange(&c, "GET /../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 403);
	conn_close(&c);
}

static void test_symlinks_and_special_files(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r =
		exchange(&c, "GET /inside.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_body(&r, INDEX_BODY);
	/* "outside" links to the root's parent folder. */
	r = exchange(&c, "GET /outside HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 403);
	r = exchange(&c, "GET /outside/ HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 403);
	/* "slash" links to "/": an absolute path, and outside. */
	r = exchange(&c, "GET /slash/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
		     0);
	assert_int_equal(r.res.status, 403);
	/* A FIFO must not block the session waiting for a writer. */
	r = exchange(&c, "GET /fifo HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 403);
	conn_close(&c);
}

/*
 * The same checks through the fallback that serves where openat2() is
 * missing (open, then readlink of /proc/self/fd/N), whatever this
 * kernel has.
 */
static int saved_beneath;

static int use_fallback(void **state)
{
	(void)state;
	saved_beneath = site.beneath;
	site.beneath = 0;
	return 0;
}

static int end_fallback(void **state)
{
	(void)state;
	site.beneath = saved_beneath;
	return 0;
}

static void test_symlinks_in_fallback(void **state)
{
	test_symlinks_and_special_files(state);
}

static void test_directory_index_in_fallback(void **state)
{
	test_get_directory_index(state);
}

static void test_method_not_allowed(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(&c,
				   "POST /index.html HTTP/1.1\r\nHost: t\r\n"
				   "Content-Length: 3\r\n\r\nabc",
				   0);
	assert_int_equal(r.res.status, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	assert_header(&r, "Connection", "keep-alive");
	r = exchange(&c, "DELETE / HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_int_equal(r.res.status, 405);
	conn_close(&c);
}

static void test_not_implemented(void **state)
{
	(void)state;
	assert_refused("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501);
	/* The body's end is known, but not what gzip did to it. */
	assert_refused("POST / HTTP/1.1\r\nHost: t\r\n"
		       "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		       501);
}

/* RFC 9112 section 6: framings that leave the body's end in doubt. */
static void test_ambiguous_framing(void **state)
{
	(void)state;
	assert_refused("POST / HTTP/1.1\r\nHost: t\r\n"
		       "Transfer-Encoding: gzip\r\n\r\nabc",
		       400);
	assert_refused("POST / HTTP/1.1\r\nHost: t\r\n"
		       "Transfer-Encoding: chunked\r\n"
		       "Transfer-Encoding: gzip\r\n\r\n",
		       400);
	assert_refused("POST / HTTP/1.1\r\nHost: t\r\n"
		       "Transfer-Encoding: chunked, chunked\r\n\r\n",
		       400);
	assert_refused("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		       400);
	assert_refused("POST / HTTP/1.0\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		       400);
}

static void test_version_not_supported(void **state)
{
	(void)state;
	assert_refused("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
	assert_refused("GET / HTTP/0.9\r\n\r\n", 505);
}

static void test_uri_too_long(void **state)
{
	char request[6000];

	(void)state;
	/* Complete, and still incomplete with a line already too long. */
	int n = snprintf(request, sizeof(request), "GET /%05000d HTTP/1.1\r\n",
			 0);
	assert_true(n > 0 && (size_t)n < sizeof(request));
	assert_refused(request, 414);
	n += snprintf(request + n, sizeof(request) - (size_t)n,
		      "Host: t\r\n\r\n");
	assert_true((size_t)n < sizeof(request));
	assert_refused(request, 414);
}

static void test_header_fields_too_large(void **state)
{
	char request[HTTP_SESSION_HEAD_MAX + 200];
	size_t len = 0;

	(void)state;
	len += (size_t)snprintf(request, sizeof(request),
				"GET / HTTP/1.1\r\nHost: t\r\n");
	while (len < HTTP_SESSION_HEAD_MAX + 20)
		len += (size_t)snprintf(request + len, sizeof(request) - len,
					"X-Pad: %040d\r\n", 0);
	assert_refused(request, 431); /* incomplete, already too long */
	assert_true(len + 2 < sizeof(request));
	/* Complete: the blank line (and a NUL). */
	memcpy(request + len, "\r\n", sizeof("\r\n"));
	assert_refused(request, 431);
}

static void test_body_too_large(void **state)
{
	char request[200];

	(void)state;
	snprintf(request, sizeof(request),
		 "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
		 TOO_BIG_BODY);
	assert_refused(request, 413);
}

/* ---- connection -------------------------------------------------------- */

static void test_keep_alive_http11(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	for (int i = 0; i < 3; i++) {
		struct parsed r = exchange(
			&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
		assert_int_equal(r.res.status, 200);
		assert_header(&r, "Connection", "keep-alive");
		assert_false(c.peer_eof);
	}
	assert_int_equal(c.s.served, 3);
	/* The client closes: the session is done. */
	close(c.peer);
	c.peer = -1;
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_CLOSE);
	conn_close(&c);
}

static void test_http10_closes(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(&c, "GET /index.html HTTP/1.0\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_body(&r, INDEX_BODY);
	assert_header(&r, "Connection", "close");
	assert_true(c.peer_eof); /* the session shut its sending side */
	/* What the client still sends is read and dropped, not refused. */
	assert_int_equal(c.want, HTTP_WANT_READ);
	client_send(&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_READ);
	assert_true(http_session_is_idle(&c.s)); /* may be cut short */
	shutdown(c.peer, SHUT_WR);
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_CLOSE);
	assert_int_equal(c.s.served, 1);
	conn_close(&c);
}

/*
 * A server stopping (or timing out) ends a lingering session early: the
 * bytes the client sent meanwhile must not turn the close into a reset,
 * which would destroy the response the client has not read yet.
 */
static void test_linger_cut_short(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	client_send(&c, "GET /index.html HTTP/1.0\r\n\r\n");
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_READ); /* lingering */
	client_send(&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(http_session_is_idle(&c.s));
	http_session_end(&c.s);
	close(c.fd);
	c.fd = -1;
	client_read(&c, 0); /* fails on ECONNRESET */
	assert_true(c.peer_eof);
	size_t off = 0;
	struct parsed r = next_response(&c, &off, 0);
	assert_body(&r, INDEX_BODY);
	conn_close(&c);
}

static void test_http10_keep_alive(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	struct parsed r = exchange(
		&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
	assert_int_equal(r.res.status, 200);
	assert_header(&r, "Connection", "keep-alive");
	assert_false(c.peer_eof);
	r = exchange(&c,
		     "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
		     0);
	assert_header(&r, "Connection", "close");
	assert_true(c.peer_eof);
	conn_close(&c);
}

static void test_client_vanishes(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, SMALL_SNDBUF);
	client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_WRITE);
	close(c.peer); /* mid-response: EPIPE, quietly */
	c.peer = -1;
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_CLOSE);
	conn_close(&c);
}

/* ---- pipelining -------------------------------------------------------- */

static void test_two_in_one_write(void **state)
{
	struct conn c;
	size_t off = 0;

	(void)state;
	conn_open(&c, 0);
	client_send(&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
			"GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&c);
	struct parsed r = next_response(&c, &off, 0);
	assert_body(&r, INDEX_BODY);
	r = next_response(&c, &off, 0);
	assert_body(&r, SUB_BODY);
	assert_int_equal(off, c.got.len);
	assert_int_equal(c.s.served, 2);
	assert_true(http_session_is_idle(&c.s));
	conn_close(&c);
}

static void test_split_byte_by_byte(void **state)
{
	static const char request[] =
		"GET /dir/index.html HTTP/1.1\r\nHost: t\r\n\r\n"
		"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n";
	const size_t first_len =
		strlen(request) - strlen(strstr(request, "HEAD"));
	struct conn c;
	size_t off = 0;

	(void)state;
	conn_open(&c, 0);
	for (size_t i = 0; i < sizeof(request) - 1; i++) {
		client_send_n(&c, request + i, 1);
		step(&c);
		client_read(&c, 0);
		assert_int_equal(c.want, HTTP_WANT_READ);
		if (i + 1 < first_len)
			assert_int_equal(c.got.len, 0);
		else if (i + 1 == first_len)
			assert_int_equal(c.s.served, 1);
	}
	struct parsed r = next_response(&c, &off, 0);
	assert_body(&r, SUB_BODY);
	r = next_response(&c, &off, 1);
	assert_int_equal(r.res.status, 200);
	assert_int_equal(off, c.got.len);
	conn_close(&c);
}

static void test_body_dropped_then_next(void **state)
{
	char *request = malloc(DROPPED_BODY + 200);
	struct conn c;
	size_t off = 0;

	(void)state;
	assert_non_null(request);
	int n = snprintf(request, 200,
			 "GET /dir/ HTTP/1.1\r\nHost: t\r\n"
			 "Content-Length: %d\r\n\r\n",
			 DROPPED_BODY);
	memset(request + n, 'G', DROPPED_BODY); /* looks like a request */
	conn_open(&c, 0);
	client_send_n(&c, request, (size_t)n + DROPPED_BODY / 2);
	pump(&c);
	client_send_n(&c, request + n + DROPPED_BODY / 2, DROPPED_BODY / 2);
	client_send(&c, "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&c);
	struct parsed r = next_response(&c, &off, 0);
	assert_body(&r, SUB_BODY);
	r = next_response(&c, &off, 0);
	assert_body(&r, INDEX_BODY);
	assert_int_equal(off, c.got.len);
	assert_true(http_session_is_idle(&c.s));
	free(request);
	conn_close(&c);
}

/*
 * A chunked body, cut anywhere, with an extension and a trailer, is read
 * to its end: the request glued after it is answered.
 */
static void test_chunked_body_dropped_then_next(void **state)
{
	static const char request[] =
		"POST /dir/ HTTP/1.1\r\nHost: t\r\n"
		"Transfer-Encoding: Chunked\r\n\r\n"
		"5;x=y\r\nGET /\r\n10\r\nGET / HTTP/1.1\r\n\r\n"
		"0\r\nX-Trailer: 1\r\n\r\n"
		"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
	const size_t len = sizeof(request) - 1;

	(void)state;
	for (size_t cut = 1; cut < len; cut += 7) {
		struct conn c;
		size_t off = 0;

		conn_open(&c, 0);
		client_send_n(&c, request, cut);
		pump(&c);
		if (c.want == HTTP_WANT_READ)
			step(&c); /* a wake-up with nothing to read */
		client_send_n(&c, request + cut, len - cut);
		pump(&c);
		struct parsed r = next_response(&c, &off, 0);
		assert_int_equal(r.res.status, 405);
		assert_header(&r, "Connection", "keep-alive");
		r = next_response(&c, &off, 0);
		assert_body(&r, INDEX_BODY);
		assert_int_equal(off, c.got.len);
		assert_true(http_session_is_idle(&c.s));
		conn_close(&c);
	}
}

/* A chunked body that breaks its coding ends the connection. */
static void test_chunked_body_malformed(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	client_send(&c, "POST / HTTP/1.1\r\nHost: t\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"
			"zz\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&c);
	struct parsed r = only_response(&c, 0);
	assert_int_equal(r.res.status, 405);
	assert_int_equal(c.want, HTTP_WANT_CLOSE);
	conn_close(&c);
}

static void test_expect_continue_without_body(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	/* The body may never come: answer and close rather than wait. */
	struct parsed r = exchange(&c,
				   "GET / HTTP/1.1\r\nHost: t\r\n"
				   "Expect: 100-continue\r\n"
				   "Content-Length: 10\r\n\r\n",
				   0);
	assert_int_equal(r.res.status, 200);
	assert_header(&r, "Connection", "close");
	assert_true(c.peer_eof);
	conn_close(&c);
}

/* ---- large ------------------------------------------------------------- */

static void assert_big_body(const struct parsed *r)
{
	assert_int_equal(r->body_len, BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++) {
		if (r->body[i] != big_byte(i))
			fail_msg("byte %zu of the large file differs", i);
	}
}

static void test_large_file_slow_reader(void **state)
{
	struct conn c;
	size_t off = 0;
	int write_waits = 0;

	(void)state;
	conn_open(&c, SMALL_SNDBUF);
	/* A second request waits behind the large response. */
	client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
			"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_WRITE);
	assert_false(http_session_is_idle(&c.s));
	for (int i = 0; i < PUMP_MAX && c.want == HTTP_WANT_WRITE; i++) {
		client_read(&c, SLOW_READ);
		step(&c);
		write_waits += c.want == HTTP_WANT_WRITE;
	}
	assert_true(write_waits > 1);
	pump(&c);
	struct parsed r = next_response(&c, &off, 0);
	assert_int_equal(r.res.status, 200);
	assert_big_body(&r);
	r = next_response(&c, &off, 0);
	assert_body(&r, INDEX_BODY);
	assert_int_equal(off, c.got.len);
	assert_int_equal(c.s.served, 2);
	conn_close(&c);
}

static void test_large_file_then_close(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, SMALL_SNDBUF);
	client_send(&c, "GET /big.bin HTTP/1.0\r\n\r\n");
	pump(&c);
	struct parsed r = only_response(&c, 0);
	assert_big_body(&r);
	assert_true(c.peer_eof); /* the end came after all the bytes */
	conn_close(&c);
}

/* ---- idle -------------------------------------------------------------- */

static void assert_idle_and_empty(const struct conn *c)
{
	assert_true(http_session_is_idle(&c->s));
	assert_null(c->s.in);
	assert_null(c->s.out);
}

static void test_idle_transitions(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, SMALL_SNDBUF);
	assert_idle_and_empty(&c);
	step(&c); /* nothing there yet */
	assert_int_equal(c.want, HTTP_WANT_READ);
	assert_idle_and_empty(&c);
	client_send(&c, "GET /index.html HT");
	step(&c);
	assert_false(http_session_is_idle(&c.s));
	assert_non_null(c.s.in);
	client_send(&c, "TP/1.1\r\nHost: t\r\n\r\n");
	pump(&c);
	assert_int_equal(c.s.served, 1);
	assert_idle_and_empty(&c);
	client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
	step(&c);
	assert_int_equal(c.want, HTTP_WANT_WRITE);
	assert_false(http_session_is_idle(&c.s));
	pump(&c);
	assert_int_equal(c.s.served, 2);
	assert_idle_and_empty(&c);
	conn_close(&c);
}

static void test_idle_after_errors_and_pipelines(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, 0);
	exchange(&c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	assert_idle_and_empty(&c);
	client_send(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
			"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
			"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&c);
	assert_int_equal(c.s.served, 4);
	assert_idle_and_empty(&c);
	conn_close(&c);
}

/* ---- serve ------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Starts http_session_serve() on the session end of a blocking
 * socketpair in a child process, whose exit status is the number of
 * responses it sent (255: -1). Returns the child; *peer is the client.
 */
static pid_t start_serve(int idle_ms, int stop_fd, int *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[1]);
		long served =
			http_session_serve(sv[0], &site, idle_ms, stop_fd);
		_exit(served < 0 ? 255 : (int)served);
	}
	close(sv[0]);
	*peer = sv[1];
	return pid;
}

/* The child's exit status, or -1 (after killing it) if it hangs. */
static int wait_serve(pid_t pid)
{
	long long deadline = now_ms() + CHILD_WAIT_MS;
	int status;

	while (now_ms() < deadline) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		assert_int_equal(done, 0);
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * Reads from fd until want bytes have come or the stream ends or
 * WAIT_MS pass. Returns the bytes read.
 */
static size_t read_for(int fd, struct bytes *b, size_t want)
{
	long long deadline = now_ms() + WAIT_MS;
	char buf[SLOW_READ];

	while (b->len < want) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		bytes_add(b, buf, (size_t)n);
	}
	return b->len;
}

static void send_text(int fd, const char *text)
{
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL),
			 (ssize_t)strlen(text));
}

static const char index_request[] =
	"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";

/* The length of a 200 response to index_request, read from the wire. */
static size_t index_response_len(const struct bytes *b)
{
	struct http_response res;
	int n = http_parse_response(b->data, b->len, &res);

	assert_true(n > 0);
	return (size_t)n + strlen(INDEX_BODY);
}

static void test_serve_until_client_closes(void **state)
{
	struct bytes got = {0};
	int peer;

	(void)state;
	pid_t pid = start_serve(SERVE_LONG_MS, -1, &peer);
	send_text(peer, index_request);
	read_for(peer, &got, 1);
	read_for(peer, &got, index_response_len(&got));
	send_text(peer, index_request);
	read_for(peer, &got, 2 * index_response_len(&got));
	close(peer);
	assert_int_equal(wait_serve(pid), 2);
	free(got.data);
}

static void test_serve_idle_timeout(void **state)
{
	struct bytes got = {0};
	int peer;

	(void)state;
	long long start = now_ms();
	pid_t pid = start_serve(SERVE_IDLE_MS, -1, &peer);
	assert_int_equal(wait_serve(pid), 0);
	long long elapsed = now_ms() - start;
	assert_true(elapsed >= SERVE_IDLE_MS - 20);
	/* The child returned without closing; its exit closed the socket. */
	assert_int_equal(read_for(peer, &got, 1), 0);
	close(peer);
	free(got.data);
}

static void test_serve_stop_when_idle(void **state)
{
	struct bytes got = {0};
	int stop[2], peer;

	(void)state;
	assert_int_equal(pipe(stop), 0);
	pid_t pid = start_serve(SERVE_LONG_MS, stop[0], &peer);
	send_text(peer, index_request);
	read_for(peer, &got, 1);
	read_for(peer, &got, index_response_len(&got));
	long long start = now_ms();
	assert_int_equal(write(stop[1], "x", 1), 1);
	assert_int_equal(wait_serve(pid), 1);
	assert_true(now_ms() - start < SERVE_LONG_MS / 2);
	close(stop[0]);
	close(stop[1]);
	close(peer);
	free(got.data);
}

static void test_serve_stop_finishes_response(void **state)
{
	struct bytes got = {0};
	struct http_response res;
	int stop[2], peer;
	int small = SMALL_SNDBUF;

	(void)state;
	assert_int_equal(pipe(stop), 0);
	pid_t pid = start_serve(SERVE_LONG_MS, stop[0], &peer);
	assert_int_equal(
		setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
		0);
	send_text(peer, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
	read_for(peer, &got, 1);
	assert_int_equal(write(stop[1], "x", 1), 1);
	poll(NULL, 0, 50); /* the child sees the stop mid-response */
	int n = http_parse_response(got.data, got.len, &res);
	assert_true(n > 0);
	assert_int_equal(read_for(peer, &got, (size_t)n + BIG_SIZE),
			 (size_t)n + BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++) {
		if (got.data[(size_t)n + i] != big_byte(i))
			fail_msg("byte %zu of the large file differs", i);
	}
	assert_int_equal(wait_serve(pid), 1);
	close(stop[0]);
	close(stop[1]);
	close(peer);
	free(got.data);
}

/* ---- groups ------------------------------------------------------------ */

struct group {
	const char *name;
	const struct CMUnitTest *tests;
	size_t count;
};

#define GROUP(name, tests)                                                     \
	{                                                                      \
		(name), (tests), sizeof(tests) / sizeof((tests)[0])            \
	}

int main(int argc, char **argv)
{
	const struct CMUnitTest get_tests[] = {
		cmocka_unit_test(test_get_exact),
		cmocka_unit_test(test_get_directory_index),
		cmocka_unit_test(test_head_has_no_body),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_redirect_adds_slash),
	};
	const struct CMUnitTest error_tests[] = {
		cmocka_unit_test(test_bad_request),
		cmocka_unit_test(test_bad_target),
		cmocka_unit_test(test_symlinks_and_special_files),
		cmocka_unit_test_setup_teardown(test_symlinks_in_fallback,
						use_fallback, end_fallback),
		cmocka_unit_test_setup_teardown(
			test_directory_index_in_fallback, use_fallback,
			end_fallback),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_not_implemented),
		cmocka_unit_test(test_ambiguous_framing),
		cmocka_unit_test(test_version_not_supported),
		cmocka_unit_test(test_uri_too_long),
		cmocka_unit_test(test_header_fields_too_large),
		cmocka_unit_test(test_body_too_large),
	};
	const struct CMUnitTest connection_tests[] = {
		cmocka_unit_test(test_keep_alive_http11),
		cmocka_unit_test(test_http10_closes),
		cmocka_unit_test(test_linger_cut_short),
		cmocka_unit_test(test_http10_keep_alive),
		cmocka_unit_test(test_client_vanishes),
		cmocka_unit_test(test_expect_continue_without_body),
	};
	const struct CMUnitTest pipelining_tests[] = {
		cmocka_unit_test(test_two_in_one_write),
		cmocka_unit_test(test_split_byte_by_byte),
		cmocka_unit_test(test_body_dropped_then_next),
		cmocka_unit_test(test_chunked_body_dropped_then_next),
		cmocka_unit_test(test_chunked_body_malformed),
	};
	const struct CMUnitTest large_tests[] = {
		cmocka_unit_test(test_large_file_slow_reader),
		cmocka_unit_test(test_large_file_then_close),
	};
	const struct CMUnitTest idle_tests[] = {
		cmocka_unit_test(test_idle_transitions),
		cmocka_unit_test(test_idle_after_errors_and_pipelines),
	};
	const struct CMUnitTest serve_tests[] = {
		cmocka_unit_test(test_serve_until_client_closes),
		cmocka_unit_test(test_serve_idle_timeout),
		cmocka_unit_test(test_serve_stop_when_idle),
		cmocka_unit_test(test_serve_stop_finishes_response),
	};
	const struct group groups[] = {
		GROUP("get", get_tests),
		GROUP("errors", error_tests),
		GROUP("connection", connection_tests),
		GROUP("pipelining", pipelining_tests),
		GROUP("large", large_tests),
		GROUP("idle", idle_tests),
		GROUP("serve", serve_tests),
	};
	const size_t ngroups = sizeof(groups) / sizeof(groups[0]);
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, matched = 0;

	/* A test whose client vanished must not be killed by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ngroups; i++) {
		if (only != NULL && strcmp(only, groups[i].name) != 0)
			continue;
		matched = 1;
		failed += _cmocka_run_group_tests(
			groups[i].name, groups[i].tests, groups[i].count,
			setup_docroot, teardown_docroot);
	}
	if (!matched) {
		fprintf(stderr,
			"usage: %s [get|errors|connection|pipelining|large|"
			"idle|serve]\n",
			argv[0]);
		return 2;
	}
	return failed == 0 ? 0 : 1;
}
