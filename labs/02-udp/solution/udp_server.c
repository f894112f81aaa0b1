/*
 * udp_server - a UDP echo server (lab 02, reference).
 *
 * usage: udp_server [-a ADDR] -p PORT
 *
 * Sends every datagram back to the address it came from, with exactly the
 * same bytes: an empty datagram gets an empty reply, a 65507-byte one a
 * 65507-byte reply. There are no connections: datagrams from any number
 * of clients arrive on the one socket, in any order, and each is answered
 * on its own. Prints "listening on ADDR:PORT" once ready.
 * Exits 0 on SIGINT or SIGTERM, 1 on a fatal error, 2 on bad arguments.
 */
#define _GNU_SOURCE /* ppoll */
#include "net.h"
#include "udp_proto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "udp_server"
#define DEFAULT_ADDR "127.0.0.1"
#define NO_BACKLOG 0 /* net_listen ignores the backlog for SOCK_DGRAM */

struct server_config {
	const char *addr_text;
	uint16_t port;
};

/* Set by the SIGINT/SIGTERM handler; the receive loop checks it. */
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
			if (net_parse_port(optarg, &cfg->port) < 0) {
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

/*
 * Only an error in how the socket is used ends the server. Anything else
 * (EINTR, or an error left by one sender's ICMP message) belongs to one
 * datagram, and the next one may be fine.
 */
static int recv_error_is_fatal(int err)
{
	return err == EBADF || err == ENOTSOCK || err == EFAULT ||
	       err == EINVAL || err == ENOMEM;
}

/*
 * Receives one datagram and sends the same bytes back to its sender.
 * Returns 0 (also when the reply could not be sent: that is the sender's
 * problem, and it is reported on stderr), or -1 with errno set when the
 * socket itself failed.
 */
static int echo_one(int fd, char *buf, size_t buf_size)
{
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer); /* reset before every recvfrom */
	char peer_text[NET_SOCKADDR_TEXT_MAX];

	/* MSG_TRUNC: the real length, even if it did not fit in buf. */
	ssize_t n = recvfrom(fd, buf, buf_size, MSG_TRUNC,
			     (struct sockaddr *)&peer, &peer_len);
	if (n < 0) {
		if (recv_error_is_fatal(errno))
			return -1;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			perror(PROG ": recvfrom");
		return 0;
	}
	if (net_format_sockaddr((struct sockaddr *)&peer, peer_text,
				sizeof(peer_text)) < 0)
		snprintf(peer_text, sizeof(peer_text), "(unknown)");
	if ((size_t)n > buf_size) {
		fprintf(stderr,
			"%s: %s: dropped a %zd-byte datagram (too big)\n", PROG,
			peer_text, n);
		return 0;
	}
	/*
	 * n may be 0: an empty datagram is a message too, and gets one.
	 * EINTR means a signal came before anything was sent: send again.
	 */
	ssize_t sent;
	do {
		sent = sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer,
			      peer_len);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		fprintf(stderr, "%s: sendto %s: %s\n", PROG, peer_text,
			strerror(errno));
	return 0;
}

/* Echoes datagrams until a stop signal. Returns 0, or -1 after printing. */
static int serve_forever(int fd, const sigset_t *wait_mask)
{
	char buf[UDP_RECV_BUF_SIZE];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (!stop_requested) {
		if (ppoll(&pfd, 1, NULL, wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			return -1;
		}
		if (echo_one(fd, buf, sizeof(buf)) < 0) {
			perror(PROG ": recvfrom");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	sigset_t wait_mask;
	const char *failed_call = "";

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (net_make_addr(cfg.addr_text, cfg.port, &addr, &addr_len) < 0) {
		fprintf(stderr, "%s: -a: '%s' is not an IPv4 or IPv6 address\n",
			PROG, cfg.addr_text);
		usage();
		return NET_EXIT_USAGE;
	}
	/*
	 * Stop handlers, and SIGINT and SIGTERM blocked except while waiting
	 * with wait_mask: a stop signal can then only arrive while the server
	 * waits in ppoll(), never between its look at stop_requested and the
	 * wait (net.h).
	 */
	if (net_block_stop_signals(&stop_requested, &wait_mask) < 0) {
		perror(PROG ": signal handlers");
		return EXIT_FAILURE;
	}
	int fd = net_listen(&addr, addr_len, SOCK_DGRAM, NO_BACKLOG,
			    &failed_call);
	if (fd < 0) {
		fprintf(stderr, "%s: %s %s port %u: %s\n", PROG, failed_call,
			cfg.addr_text, (unsigned)cfg.port, strerror(errno));
		return EXIT_FAILURE;
	}
	int status = EXIT_SUCCESS;
	if (net_announce(fd) < 0) {
		perror(PROG ": announce");
		status = EXIT_FAILURE;
	} else if (serve_forever(fd, &wait_mask) < 0) {
		status = EXIT_FAILURE;
	}
	close(fd);
	return status;
}
