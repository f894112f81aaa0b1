/*
 * naive_server - the sticky-packet bug on purpose (lab 04, provided).
 *
 * usage: naive_server [-a ADDR] -p PORT [-m len|line]
 *
 * Speaks the same protocol as frame_server, but believes that each recv()
 * returns exactly one message: it takes the first 4 bytes of whatever
 * arrived as the length header (len) or drops one final '\n' (line), and
 * answers "<n>:<rest of the chunk>". That works while messages are sent
 * slowly and one at a time, and breaks as soon as TCP merges two sends
 * into one recv (sticky packets) or splits one send over two (half
 * packets). The handout's warm-up runs the grader's sticky tests against
 * it. Do not copy it. It needs nothing from frame.c (only constants
 * from frame.h), so it works before you have written anything.
 */
#define _POSIX_C_SOURCE 200809L /* getopt, sigset_t */
#include "frame.h"
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PROG "naive_server"
#define DEFAULT_ADDR "127.0.0.1"
#define LISTEN_BACKLOG 16
#define RECV_BUF_SIZE 65536
#define REPLY_PREFIX_MAX 24

static volatile sig_atomic_t stop_requested;

static void usage(void)
{
	fprintf(stderr, "usage: %s [-a ADDR] -p PORT [-m len|line]\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, const char **addr, uint16_t *port,
		      enum frame_mode *mode)
{
	int have_port = 0;
	int opt;

	*addr = DEFAULT_ADDR;
	*mode = FRAME_MODE_LEN;
	while ((opt = getopt(argc, argv, ":a:p:m:")) != -1) {
		if (opt == 'a') {
			*addr = optarg;
		} else if (opt == 'p' && net_parse_port(optarg, port) == 0) {
			have_port = 1;
		} else if (opt == 'm' && strcmp(optarg, "len") == 0) {
			*mode = FRAME_MODE_LEN;
		} else if (opt == 'm' && strcmp(optarg, "line") == 0) {
			*mode = FRAME_MODE_LINE;
		} else {
			fprintf(stderr, "%s: bad option or value\n", PROG);
			return -1;
		}
	}
	if (!have_port || optind != argc) {
		fprintf(stderr, "%s: -p PORT is required, and nothing else\n",
			PROG);
		return -1;
	}
	return 0;
}

/*
 * THE BUG: one recv() is taken to be one whole message. Returns the
 * payload inside chunk, as this server wrongly sees it.
 */
static struct frame_msg chunk_as_message(enum frame_mode mode,
					 const unsigned char *chunk, size_t n)
{
	struct frame_msg msg = {.data = chunk, .len = n};

	if (mode == FRAME_MODE_LEN) {
		size_t skip =
			n < FRAME_LEN_HEADER_SIZE ? n : FRAME_LEN_HEADER_SIZE;
		msg.data += skip;
		msg.len -= skip;
	} else if (n > 0 && chunk[n - 1] == FRAME_DELIMITER) {
		msg.len--;
	}
	return msg;
}

/* Sends "<count>:<payload>" in the mode's framing. Returns 0 or -1. */
static int reply(int fd, enum frame_mode mode, unsigned long count,
		 const struct frame_msg *msg)
{
	char prefix[REPLY_PREFIX_MAX];
	int prefix_len = snprintf(prefix, sizeof(prefix), "%lu:", count);
	unsigned char head[FRAME_LEN_HEADER_SIZE];
	const char newline = FRAME_DELIMITER;

	if (prefix_len < 0 || (size_t)prefix_len >= sizeof(prefix)) {
		errno = EOVERFLOW;
		return -1;
	}
	uint32_t len = (uint32_t)((size_t)prefix_len + msg->len);
	for (int i = 0; i < FRAME_LEN_HEADER_SIZE; i++)
		head[i] =
			(unsigned char)(len >>
					(8 * (FRAME_LEN_HEADER_SIZE - 1 - i)));
	if (mode == FRAME_MODE_LEN && net_send_all(fd, head, sizeof(head)) < 0)
		return -1;
	if (net_send_all(fd, prefix, (size_t)prefix_len) < 0 ||
	    net_send_all(fd, msg->data, msg->len) < 0)
		return -1;
	if (mode == FRAME_MODE_LINE && net_send_all(fd, &newline, 1) < 0)
		return -1;
	return 0;
}

/* Serves one connection. Returns 0 at its end, -1 with errno set. */
static int serve_connection(int fd, enum frame_mode mode)
{
	unsigned char buf[RECV_BUF_SIZE];
	unsigned long count = 0;

	while (!stop_requested) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		struct frame_msg msg = chunk_as_message(mode, buf, (size_t)n);
		if (reply(fd, mode, ++count, &msg) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr_text;
	uint16_t port = 0;
	enum frame_mode mode;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *failed_call = "";

	if (parse_args(argc, argv, &addr_text, &port, &mode) < 0 ||
	    net_make_addr(addr_text, port, &addr, &addr_len) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (net_install_stop_handlers(&stop_requested) < 0) {
		perror(PROG ": sigaction");
		return EXIT_FAILURE;
	}
	int listener = net_listen(&addr, addr_len, SOCK_STREAM, LISTEN_BACKLOG,
				  &failed_call);
	if (listener < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, failed_call,
			strerror(errno));
		return EXIT_FAILURE;
	}
	if (net_announce(listener) < 0) {
		perror(PROG ": announce");
		close(listener);
		return EXIT_FAILURE;
	}
	int status = EXIT_SUCCESS;
	while (!stop_requested) {
		int fd = accept(listener, NULL, NULL);
		/* EINTR on a stop signal, or a client that failed: go on. */
		if (fd < 0 && net_accept_error_is_transient(errno))
			continue;
		if (fd < 0) {
			perror(PROG ": accept");
			status = EXIT_FAILURE;
			break;
		}
		if (serve_connection(fd, mode) < 0)
			perror(PROG ": client");
		close(fd);
	}
	close(listener);
	return status;
}
