/*
 * udp_server - a UDP echo server (lab 02).
 *
 * Step 1 of the handout: write echo_one() and serve_forever(), marked
 * TODO. Everything else is provided and already works.
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
	/*
	 * TODO (step 1): one datagram in, the same bytes out.
	 * - recvfrom() into buf, with a struct sockaddr_storage for the
	 *   sender's address; set its length variable to sizeof(peer) before
	 *   every call (recvfrom overwrites it). Pass MSG_TRUNC in flags: the
	 *   return value is then the datagram's real length even when it was
	 *   longer than buf_size; drop such a datagram (say so on stderr).
	 * - On an error, return -1 only if recv_error_is_fatal(errno); else
	 *   return 0 (EINTR, or an error that belongs to one datagram).
	 * - sendto() exactly the n bytes back to the address they came from.
	 *   n may be 0: an empty datagram is a message and gets an empty
	 *   reply. If sendto fails with EINTR (a signal came before anything
	 *   was sent), send again; on any other error print it and return 0:
	 *   the server goes on.
	 * net_format_sockaddr() turns the sender's address into text for
	 * messages. See docs/02-udp.md, "sendto and recvfrom".
	 */
	(void)fd;
	(void)buf;
	(void)buf_size;
	(void)recv_error_is_fatal;
	errno = ENOSYS;
	return -1;
}

/* Echoes datagrams until a stop signal. Returns 0, or -1 after printing. */
static int serve_forever(int fd, const sigset_t *wait_mask)
{
	/*
	 * TODO (step 1): while stop_requested is not set, wait until fd is
	 * readable and call echo_one() with a buffer of UDP_RECV_BUF_SIZE
	 * bytes (it can hold any datagram). Wait with
	 *     ppoll(&pfd, 1, NULL, wait_mask)
	 * (pfd: fd with events POLLIN): the stop signals are blocked except
	 * inside that wait, so a signal can never slip in between your look
	 * at stop_requested and the wait. ppoll fails with EINTR when a stop
	 * signal came: loop again (the flag is set now). On any other ppoll
	 * error, or when echo_one returns -1, print the error and return -1.
	 * See docs/02-udp.md, "Exiting on a signal without a race".
	 */
	(void)fd;
	(void)wait_mask;
	(void)echo_one;
	errno = ENOSYS;
	perror(PROG ": serve_forever (TODO in udp_server.c)");
	return -1;
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
