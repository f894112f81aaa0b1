/*
 * echo_client - send stdin to an echo server, print what comes back
 * (lab 01).
 *
 * Step 4 of the handout: fill in the functions marked TODO. The rest is
 * provided and already works.
 *
 * usage: echo_client -h HOST -p PORT
 *
 * Copies stdin to the server and the server's replies to stdout, byte for
 * byte. At the end of stdin it half-closes the connection (shutdown
 * SHUT_WR) so the server sees end of stream, then keeps printing until the
 * server closes its side. Reading and writing are interleaved with poll():
 * a client that first sends everything and only then reads deadlocks on
 * large inputs, once both directions' kernel buffers are full.
 * Exits 0 when both directions ended cleanly, 1 on an error, 2 on bad
 * arguments.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, getopt */
#include "echo_util.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "echo_client"
#define COPY_BUF_SIZE 16384
#define EXIT_USAGE 2

struct client_config {
	const char *host;
	const char *port_text;
};

/* State of the two copies: stdin -> socket and socket -> stdout. */
struct relay {
	int sock;
	char out_buf[COPY_BUF_SIZE]; /* read from stdin, not yet sent */
	size_t out_len;
	size_t out_sent;
	bool stdin_open;
	bool sent_eof;	  /* shutdown(SHUT_WR) done */
	bool server_open; /* server has not closed its side yet */
};

static void usage(void)
{
	fprintf(stderr, "usage: %s -h HOST -p PORT\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct client_config *cfg)
{
	uint16_t port;
	int opt;

	cfg->host = NULL;
	cfg->port_text = NULL;
	while ((opt = getopt(argc, argv, ":h:p:")) != -1) {
		switch (opt) {
		case 'h':
			cfg->host = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &port) < 0) {
				fprintf(stderr, "%s: bad port '%s': %s\n", PROG,
					optarg, strerror(errno));
				return -1;
			}
			cfg->port_text = optarg;
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
	if (cfg->host == NULL || cfg->port_text == NULL) {
		fprintf(stderr, "%s: -h HOST and -p PORT are required\n", PROG);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG,
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Writes all of buf to fd (a file or pipe), retrying on short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Tries each address getaddrinfo gives for host:port until one connects.
 * Returns the connected socket, or -1 after printing why none did.
 */
static int connect_to_server(const char *host, const char *port)
{
	/*
	 * TODO (step 4): resolve host and port with getaddrinfo (hints:
	 * AF_UNSPEC, SOCK_STREAM, AI_NUMERICSERV), then try each address in
	 * the list: socket() + connect(); keep the first socket that
	 * connects and close the others. freeaddrinfo() the list.
	 * getaddrinfo's errors are not errno values: print gai_strerror(rc).
	 * If nothing connects, print the last connect error, e.g.
	 *   echo_client: connect 127.0.0.1 port 5000: Connection refused
	 * and return -1. See docs/01-tcp.md, "Client flow".
	 */
	(void)host;
	(void)port;
	fprintf(stderr,
		"%s: connect_to_server: not written yet "
		"(TODO in echo_client.c)\n",
		PROG);
	return -1;
}

/* stdin is readable: fill the (empty) outgoing buffer. */
static int pull_stdin(struct relay *r)
{
	/*
	 * TODO (step 4): read() up to sizeof(r->out_buf) bytes from stdin
	 * into r->out_buf. 0 bytes means end of input: set r->stdin_open to
	 * false. Otherwise record the length in r->out_len and reset
	 * r->out_sent. EINTR is not an error (return 0 and try later).
	 */
	(void)r;
	errno = ENOSYS;
	return -1;
}

/*
 * The socket is writable: send what it takes without blocking. A
 * blocking send of the whole buffer could wait for the server, which may
 * itself be waiting for us to read its replies.
 */
static int push_socket(struct relay *r)
{
	/*
	 * TODO (step 4): send the unsent part of r->out_buf, from
	 * r->out_sent to r->out_len, with flags MSG_DONTWAIT | MSG_NOSIGNAL,
	 * and advance r->out_sent by what send() took. EAGAIN/EWOULDBLOCK
	 * (the socket's buffer is full) and EINTR are not errors. When all
	 * of it is sent, mark the buffer empty (out_len = out_sent = 0).
	 */
	(void)r;
	errno = ENOSYS;
	return -1;
}

/* The socket is readable: copy one chunk to stdout. */
static int pull_socket(struct relay *r)
{
	/*
	 * TODO (step 4): recv() one chunk from r->sock. 0 means the server
	 * closed its side: set r->server_open to false. Otherwise write the
	 * bytes to stdout with write_all(). EINTR is not an error.
	 */
	(void)r;
	errno = ENOSYS;
	return -1;
}

/*
 * Runs both copies until the server closes its side. Returns 0, or -1
 * with errno set and *failed_call naming what failed.
 */
static int relay_until_closed(struct relay *r, const char **failed_call)
{
	/*
	 * TODO (step 4): until r->server_open becomes false, poll() two
	 * descriptors and act on what is ready:
	 * - stdin, for POLLIN, only while r->stdin_open and the outgoing
	 *   buffer is empty (r->out_len == 0) -> pull_stdin();
	 * - the socket, always for POLLIN, and for POLLOUT while the buffer
	 *   holds unsent bytes -> push_socket() / pull_socket();
	 *   (treat POLLHUP and POLLERR like POLLIN: recv then reports it).
	 * A pollfd whose fd is negative is skipped by poll().
	 * Once stdin has ended and the buffer is empty, call
	 * shutdown(r->sock, SHUT_WR) exactly once (r->sent_eof) so the server
	 * sees end of stream, but keep reading its replies.
	 * On an error set *failed_call (e.g. "poll") and return -1.
	 * See docs/01-tcp.md, "Deadlock when both sides only write" and
	 * "Half-close: shutdown versus close".
	 */
	(void)r;
	/* Only here to keep the compiler quiet until you call them. */
	(void)pull_stdin;
	(void)push_socket;
	(void)pull_socket;
	(void)write_all;
	*failed_call = "relay_until_closed (TODO in echo_client.c)";
	errno = ENOSYS;
	return -1;
}

int main(int argc, char **argv)
{
	struct client_config cfg;
	struct relay relay = {
		.sock = -1, .stdin_open = true, .server_open = true};
	const char *failed_call = "";

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return EXIT_USAGE;
	}
	/* Belt and braces: we also pass MSG_NOSIGNAL on every send. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror(PROG ": signal");
		return EXIT_FAILURE;
	}
	relay.sock = connect_to_server(cfg.host, cfg.port_text);
	if (relay.sock < 0)
		return EXIT_FAILURE;

	int status = EXIT_SUCCESS;
	if (relay_until_closed(&relay, &failed_call) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, failed_call,
			strerror(errno));
		status = EXIT_FAILURE;
	} else if (!relay.sent_eof) {
		fprintf(stderr,
			"%s: the server closed the connection before "
			"all of stdin was sent\n",
			PROG);
		status = EXIT_FAILURE;
	}
	close(relay.sock);
	return status;
}
