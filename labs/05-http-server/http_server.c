/*
 * http_server - a sequential HTTP/1.1 static-file server (lab 05).
 *
 * Steps 3 to 4 of the handout: write serve_connection() and the
 * functions it needs. The command line, the signals, the listener and
 * the accept loop are provided and already work.
 *
 * usage: http_server [-a ADDR] -p PORT -d DOCROOT [-t SECONDS]
 *
 * Serves GET and HEAD of the files under DOCROOT (a directory serves its
 * index.html) and POST /echo, one connection at a time, with keep-alive
 * and pipelining. -t sets the idle and stall timeout (default 5 s).
 * Prints "listening on ADDR:PORT" once ready. Exits 0 on SIGINT or
 * SIGTERM, 1 on a fatal error, 2 on bad arguments.
 */
#define _GNU_SOURCE /* ppoll */
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
#include <time.h>
#include <unistd.h>

#define PROG "http_server"
#define SERVER_NAME "lab05-http_server"
#define DEFAULT_ADDR "127.0.0.1"
#define LISTEN_BACKLOG 64
#define DEFAULT_TIMEOUT_S 5
#define MAX_TIMEOUT_S 3600
#define MS_PER_S 1000

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
	size_t have; /* bytes in buf */
};

/* Set by the SIGINT/SIGTERM handler. */
static volatile sig_atomic_t stop_requested;

/* Signals are blocked except while waiting in ppoll() with this mask. */
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
	srv->timeout_ms = DEFAULT_TIMEOUT_S * MS_PER_S;
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
			srv->timeout_ms = (int)seconds * MS_PER_S;
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

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/*
 * SIGINT and SIGTERM set stop_requested; they stay blocked except inside
 * ppoll(), so a signal can never fall between a check of the flag and a
 * blocking call. SIGPIPE is ignored (sends use MSG_NOSIGNAL anyway).
 */
static int install_signal_handlers(void)
{
	struct sigaction sa;
	sigset_t stop_signals;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask) < 0)
		return -1;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

/*
 * Waits up to timeout_ms (-1: forever) for fds to be ready, with the stop
 * signals unblocked during the wait only. Returns ppoll's result: > 0
 * ready, 0 timed out, -1 with errno (EINTR when a signal arrived).
 */
static int wait_ready(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts = {timeout_ms / MS_PER_S,
			      (long)(timeout_ms % MS_PER_S) * 1000000L};
	return ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, &wait_mask);
}

/*
 * Serves requests on one connection until the client closes, asks to
 * close, stalls or misbehaves. The caller closes c->fd afterwards.
 */
static void serve_connection(struct conn *c)
{
	/*
	 * TODO (steps 3 and 4). A loop, one request per turn:
	 * 1. http_parse_request(c->buf, c->have, &req).
	 *    - HTTP_PARSE_PARTIAL: if the bytes so far are over a limit,
	 *      answer 414 (request line) or 431 (head) and stop; else
	 *      recv() more into c->buf + c->have, waiting at most
	 *      c->srv->timeout_ms with wait_ready() (ppoll: the stop signals
	 *      only get through there). Timed out with part of a request:
	 *      408. recv() returning 0: the client left, stop.
	 *    - HTTP_PARSE_ERROR: 400; HTTP_PARSE_TOO_MANY: 431; then stop.
	 * 2. A complete head of n bytes: check the version (505), Host
	 *    (400), the body's framing (http_request_framing: 400, 501),
	 *    the method (501), then route: GET/HEAD of a file, POST /echo,
	 *    405 with Allow for the rest.
	 * 3. Remove the head and the body from c->buf (memmove), keep the
	 *    bytes after them: they are the next, pipelined request. The
	 *    body is Content-Length bytes, or chunked: decode it with
	 *    http_decode_chunked() (docs/05-http.md, "Chunked request
	 *    bodies").
	 * 4. Keep going unless the request asked to close (Connection:
	 *    close, or HTTP/1.0 without keep-alive).
	 * Every response: status line, Date, Server, Content-Length,
	 * Content-Type, Connection, blank line, body (none for HEAD). Send
	 * with net_send_all(). See the handout, steps 3 and 4, and
	 * docs/05-http.md.
	 */
	fprintf(stderr, "%s: serve_connection (TODO in http_server.c)\n", PROG);
	(void)c;
}

/*
 * accept() also reports errors of the connection being accepted, not of
 * the listener; accept(2) says to treat them as "try again".
 */
static int accept_error_is_transient(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
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
	struct timeval tv = {timeout_ms / MS_PER_S,
			     (timeout_ms % MS_PER_S) * 1000};
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
		if (wait_ready(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			return -1;
		}
		int fd = accept(srv->listener, NULL, NULL);
		if (fd < 0) {
			if (accept_error_is_transient(errno))
				continue;
			perror(PROG ": accept");
			return -1;
		}
		if (set_client_options(fd, srv->timeout_ms) < 0)
			perror(PROG ": setsockopt");
		c->fd = fd;
		c->have = 0;
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
	if (install_signal_handlers() < 0) {
		perror(PROG ": sigaction");
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
