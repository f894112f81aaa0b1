/*
 * echo_client - send stdin to an echo server, print what comes back
 * (lab 01, reference).
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
	struct addrinfo hints, *list;
	int fd = -1;
	int saved_errno = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0) {
		/* getaddrinfo's errors are not errno values. */
		fprintf(stderr, "%s: %s: %s\n", PROG, host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		fprintf(stderr, "%s: connect %s port %s: %s\n", PROG, host,
			port, strerror(saved_errno));
	return fd;
}

/* stdin is readable: fill the (empty) outgoing buffer. */
static int pull_stdin(struct relay *r)
{
	ssize_t n = read(STDIN_FILENO, r->out_buf, sizeof(r->out_buf));
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		r->stdin_open = false;
	r->out_len = (size_t)n;
	r->out_sent = 0;
	return 0;
}

/*
 * The socket is writable: send what it takes without blocking. A
 * blocking send of the whole buffer could wait for the server, which may
 * itself be waiting for us to read its replies.
 */
static int push_socket(struct relay *r)
{
	ssize_t n = send(r->sock, r->out_buf + r->out_sent,
			 r->out_len - r->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0; /* nothing sent this time; poll again */
		return -1;
	}
	r->out_sent += (size_t)n;
	if (r->out_sent == r->out_len)
		r->out_len = r->out_sent = 0;
	return 0;
}

/* The socket is readable: copy one chunk to stdout. */
static int pull_socket(struct relay *r)
{
	char buf[COPY_BUF_SIZE];
	ssize_t n = recv(r->sock, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0) {
		r->server_open = false;
		return 0;
	}
	return write_all(STDOUT_FILENO, buf, (size_t)n);
}

/*
 * Runs both copies until the server closes its side. Returns 0, or -1
 * with errno set and *failed_call naming what failed.
 */
static int relay_until_closed(struct relay *r, const char **failed_call)
{
	enum { STDIN_SLOT, SOCK_SLOT, SLOTS };
	struct pollfd fds[SLOTS];

	while (r->server_open) {
		bool want_stdin = r->stdin_open && r->out_len == 0;
		/* A negative fd makes poll() skip the slot. */
		fds[STDIN_SLOT].fd = want_stdin ? STDIN_FILENO : -1;
		fds[STDIN_SLOT].events = POLLIN;
		fds[SOCK_SLOT].fd = r->sock;
		fds[SOCK_SLOT].events = POLLIN | (r->out_len > 0 ? POLLOUT : 0);
		if (poll(fds, SLOTS, -1) < 0) {
			if (errno == EINTR)
				continue;
			*failed_call = "poll";
			return -1;
		}
		if (fds[STDIN_SLOT].revents != 0 && pull_stdin(r) < 0) {
			*failed_call = "read stdin";
			return -1;
		}
		if ((fds[SOCK_SLOT].revents & POLLOUT) && push_socket(r) < 0) {
			*failed_call = "send";
			return -1;
		}
		if (!r->stdin_open && r->out_len == 0 && !r->sent_eof) {
			if (shutdown(r->sock, SHUT_WR) < 0) {
				*failed_call = "shutdown";
				return -1;
			}
			r->sent_eof = true;
		}
		if ((fds[SOCK_SLOT].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    pull_socket(r) < 0) {
			*failed_call = "recv or write stdout";
			return -1;
		}
	}
	return 0;
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
