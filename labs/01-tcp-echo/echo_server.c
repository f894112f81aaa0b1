/*
 * echo_server - a sequential TCP echo server (lab 01).
 *
 * Fill in the functions marked TODO: open_listener and announce (step 1
 * of the handout), serve_client (step 2). Everything else is provided and
 * already works, including serve_forever, the loop that accepts one
 * client after another: read it.
 *
 * usage: echo_server [-a ADDR] -p PORT
 *
 * Serves one client at a time: every byte a client sends is sent back
 * unchanged until the client closes its side, then the next client in the
 * listen queue is accepted. Prints "listening on ADDR:PORT" once ready.
 * Exits 0 on SIGINT or SIGTERM, 1 on a fatal error, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, getopt */
#include "echo_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "echo_server"
#define DEFAULT_ADDR "127.0.0.1"
#define LISTEN_BACKLOG 16
#define ECHO_BUF_SIZE 16384
#define EXIT_USAGE 2

struct server_config {
	const char *addr_text;
	uint16_t port;
};

/* Set by the SIGINT/SIGTERM handler; the accept and recv loops check it. */
static volatile sig_atomic_t stop_requested;

static void usage(void)
{
	fprintf(stderr, "usage: %s [-a ADDR] -p PORT\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct server_config *cfg)
{
	int have_port = 0;
	int opt;

	cfg->addr_text = DEFAULT_ADDR;
	while ((opt = getopt(argc, argv, ":a:p:")) != -1) {
		switch (opt) {
		case 'a':
			cfg->addr_text = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &cfg->port) < 0) {
				fprintf(stderr, "%s: bad port '%s': %s\n", PROG,
					optarg, strerror(errno));
				return -1;
			}
			have_port = 1;
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
	if (!have_port) {
		fprintf(stderr, "%s: -p PORT is required\n", PROG);
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
 * SIGINT and SIGTERM set stop_requested. The handler is installed without
 * SA_RESTART so that a blocked accept() or recv() returns -1 with EINTR and
 * the loop around it gets to look at the flag. SIGPIPE is ignored: a send
 * to a client that has gone away must fail with EPIPE, not kill us.
 */
static int install_signal_handlers(void)
{
	struct sigaction sa;

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
 * Fills *ss with the IPv4 or IPv6 address written in text and the port.
 * Returns 0, or -1 with errno = EINVAL when text is not an address literal.
 */
static int make_bind_addr(const char *text, uint16_t port,
			  struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/*
 * socket, SO_REUSEADDR, bind, listen. Returns the listening socket, or -1
 * with errno set and *failed_call naming the call that failed.
 */
static int open_listener(const struct sockaddr_storage *addr, socklen_t len,
			 const char **failed_call)
{
	/*
	 * TODO (step 1): create the listening socket.
	 * 1. socket(addr->ss_family, SOCK_STREAM, 0)
	 * 2. setsockopt SO_REUSEADDR = 1, so that a restarted server can
	 *    bind again while old connections are in TIME_WAIT
	 * 3. bind(fd, addr, len)
	 * 4. listen(fd, LISTEN_BACKLOG)
	 * If a call fails: set *failed_call to its name (e.g. "bind"), close
	 * the socket (keeping errno: close may change it) and return -1.
	 * See docs/01-tcp.md, "Server flow" and "SO_REUSEADDR and TIME_WAIT".
	 */
	(void)addr;
	(void)len;
	*failed_call = "open_listener (TODO in echo_server.c)";
	errno = ENOSYS;
	return -1;
}

/* Prints "listening on ADDR:PORT" with the port the kernel really gave us. */
static int announce(int listener)
{
	/*
	 * TODO (step 1): ask the kernel which address and port the listener
	 * really has (getsockname: with -p 0 the kernel picks the port), turn
	 * it into text with format_sockaddr, print exactly one line
	 * "listening on ADDR:PORT" and fflush(stdout): under the grader stdout
	 * is a pipe, and a pipe is not flushed at each newline.
	 * Return 0, or -1 with errno set.
	 */
	(void)listener;
	errno = ENOSYS;
	return -1;
}

/*
 * Echoes everything the client sends until it closes its side.
 * Returns 0 at end of stream or when asked to stop, -1 with errno set on
 * a receive or send error (a reset connection, for instance).
 */
static int serve_client(int fd)
{
	/*
	 * TODO (step 2): loop: recv() into a buffer of ECHO_BUF_SIZE bytes,
	 * then send exactly the bytes you got back with send_all().
	 * - recv() returns 0 when the client has closed its side: return 0.
	 * - recv() failing with EINTR means a signal arrived: go round the
	 *   loop again (it stops when stop_requested is set).
	 * - any other recv or send error (a reset client, say): return -1.
	 * See docs/01-tcp.md, "Reading: recv and end of stream".
	 */
	(void)fd;
	fprintf(stderr,
		"%s: serve_client: not written yet "
		"(TODO in echo_server.c)\n",
		PROG);
	errno = ENOSYS;
	return -1;
}

/*
 * accept() also reports errors that belong to the connection being
 * accepted, not to the listener; accept(2) says to treat them as
 * "try again".
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
 * Serves clients one after another until a stop signal. Provided: each
 * accept() returns a new socket for one client; serve_client() talks to
 * it, and whatever goes wrong with that client (a reset, say) is reported
 * and the server moves on to the next one.
 */
static int serve_forever(int listener)
{
	while (!stop_requested) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		char peer_text[SOCKADDR_TEXT_MAX];

		int fd = accept(listener, (struct sockaddr *)&peer, &peer_len);
		if (fd < 0) {
			/* EINTR (a stop signal): the loop looks at the flag. */
			if (accept_error_is_transient(errno))
				continue;
			perror(PROG ": accept");
			return -1;
		}
		if (format_sockaddr((struct sockaddr *)&peer, peer_text,
				    sizeof(peer_text)) < 0)
			snprintf(peer_text, sizeof(peer_text), "(unknown)");
		fprintf(stderr, "%s: client %s connected\n", PROG, peer_text);
		if (serve_client(fd) < 0)
			fprintf(stderr, "%s: client %s: %s\n", PROG, peer_text,
				strerror(errno));
		else
			fprintf(stderr, "%s: client %s done\n", PROG,
				peer_text);
		if (close(fd) < 0)
			perror(PROG ": close");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *failed_call = "";

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return EXIT_USAGE;
	}
	if (make_bind_addr(cfg.addr_text, cfg.port, &addr, &addr_len) < 0) {
		fprintf(stderr, "%s: -a: '%s' is not an IPv4 or IPv6 address\n",
			PROG, cfg.addr_text);
		usage();
		return EXIT_USAGE;
	}
	if (install_signal_handlers() < 0) {
		perror(PROG ": sigaction");
		return EXIT_FAILURE;
	}
	int listener = open_listener(&addr, addr_len, &failed_call);
	if (listener < 0) {
		fprintf(stderr, "%s: %s %s port %u: %s\n", PROG, failed_call,
			cfg.addr_text, (unsigned)cfg.port, strerror(errno));
		return EXIT_FAILURE;
	}
	int status = EXIT_SUCCESS;
	if (announce(listener) < 0) {
		perror(PROG ": announce");
		status = EXIT_FAILURE;
	} else if (serve_forever(listener) < 0) {
		status = EXIT_FAILURE;
	}
	close(listener);
	return status;
}
