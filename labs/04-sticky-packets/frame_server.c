/*
 * frame_server - numbers the messages of each connection (lab 04).
 *
 * Step 3 of the handout: fill in the two functions marked TODO,
 * send_message() and serve_connection(). Everything else is provided and
 * already works.
 *
 * usage: frame_server [-a ADDR] -p PORT [-m len|line]
 *
 * Reads messages in the chosen framing (default len: a 4-byte big-endian
 * length, then the payload; line: the payload, then '\n') and answers
 * each one with one message in the same framing whose payload is
 * "<n>:<payload>", n counting the connection's messages from 1. A stream
 * that breaks the framing gets one "ERR <reason>" message and is closed.
 * Serves one connection at a time. Prints "listening on ADDR:PORT" once
 * ready; exits 0 on SIGINT or SIGTERM, 1 on a fatal error, 2 on bad
 * arguments.
 */
#define _POSIX_C_SOURCE 200809L /* getopt, sigset_t */
#include "frame.h"
#include "net.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PROG "frame_server"
#define DEFAULT_ADDR "127.0.0.1"
#define LISTEN_BACKLOG 16
/* "<n>:" with n up to 20 digits, and its NUL. */
#define REPLY_PREFIX_MAX 24
#define ERR_PREFIX "ERR "
#define TRUNCATED_REASON "end of stream inside a message"
/* After an ERR, how long and how much we read before closing (below). */
#define LINGER_MS 500
#define LINGER_BYTES ((size_t)1 << 20)
#define LINGER_CHUNK 4096

struct server_config {
	const char *addr_text;
	uint16_t port;
	enum frame_mode mode;
};

/* Set by the SIGINT/SIGTERM handler (net_install_stop_handlers). */
static volatile sig_atomic_t stop_requested;

/*
 * The signal mask to wait with: SIGINT and SIGTERM stay blocked except
 * inside ppoll() (net_wait), so a stop signal cannot slip in between a
 * look at stop_requested and a blocking call.
 */
static sigset_t wait_mask;

static void usage(void)
{
	fprintf(stderr, "usage: %s [-a ADDR] -p PORT [-m len|line]\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct server_config *cfg)
{
	int have_port = 0;
	int opt;

	cfg->addr_text = DEFAULT_ADDR;
	cfg->mode = FRAME_MODE_LEN;
	while ((opt = getopt(argc, argv, ":a:p:m:")) != -1) {
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
		case 'm':
			if (frame_parse_mode(optarg, &cfg->mode) < 0) {
				fprintf(stderr, "%s: -m must be len or line\n",
					PROG);
				return -1;
			}
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
 * Waits up to timeout_ms (-1: no limit) for events on fd, with the stop
 * signals unblocked during the wait only. Returns the events that
 * happened (0 on timeout), or -1 with errno set (EINTR: a stop signal).
 */
static int wait_for(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	int n = net_wait(&pfd, 1, timeout_ms, &wait_mask);
	if (n < 0)
		return -1;
	return n == 0 ? 0 : pfd.revents;
}

/*
 * Sends all the bytes of iov[0..count) with as few system calls as it
 * can (one sendmsg, unless the socket buffer is full). While the client
 * does not read, it waits (and reads nothing more from it: that is what
 * keeps our memory bounded). Returns 0, or -1 with errno set; EINTR
 * means a stop signal came while waiting.
 */
static int send_all_iov(int fd, struct iovec *iov, size_t count)
{
	while (count > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = count};
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_for(fd, POLLOUT, -1) < 0)
				return -1;
			continue;
		}
		/* Skip what went out: whole parts, then part of one. */
		size_t sent = (size_t)n;
		while (count > 0 && sent >= iov->iov_len) {
			sent -= iov->iov_len;
			iov++;
			count--;
		}
		if (count > 0) {
			iov->iov_base = (char *)iov->iov_base + sent;
			iov->iov_len -= sent;
		}
	}
	return 0;
}

/*
 * Sends one message whose payload is prefix followed by payload, in
 * the given framing, without copying the payload. Returns 0 or -1.
 */
static int send_message(int fd, enum frame_mode mode, const char *prefix,
			const unsigned char *payload, size_t len)
{
	/*
	 * TODO (step 3): frame_wrap() the payload length (strlen(prefix) +
	 * len), then hand send_all_iov() four parts: the wrap's head, the
	 * prefix, the payload and the wrap's tail (empty parts are fine).
	 * One sendmsg() for the whole message: separate small sends would
	 * meet Nagle's algorithm (docs/04-sticky-packets.md, "Sending a
	 * message in one call").
	 */
	(void)fd;
	(void)mode;
	(void)prefix;
	(void)payload;
	(void)len;
	/* Only here to keep the compiler quiet until you call it. */
	(void)send_all_iov;
	errno = ENOSYS;
	return -1;
}

/*
 * Sends "ERR <reason>", then closes our sending side and reads for a
 * moment before the caller closes: closing a socket with unread bytes
 * makes the kernel send a reset, which can destroy the ERR before the
 * client has read it. Returns 0 or -1.
 */
static int send_error_and_linger(int fd, enum frame_mode mode,
				 const char *reason)
{
	unsigned char sink[LINGER_CHUNK];
	size_t drained = 0;

	if (send_message(fd, mode, ERR_PREFIX, (const unsigned char *)reason,
			 strlen(reason)) < 0)
		return -1;
	if (shutdown(fd, SHUT_WR) < 0)
		return -1;
	while (drained < LINGER_BYTES && !stop_requested) {
		int ready = wait_for(fd, POLLIN, LINGER_MS);
		if (ready <= 0)
			break;
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
	return 0;
}

/* Answers message number count: "<count>:<payload>". Returns 0 or -1. */
static int reply(int fd, enum frame_mode mode, uint64_t count,
		 const struct frame_msg *msg)
{
	char prefix[REPLY_PREFIX_MAX];

	snprintf(prefix, sizeof(prefix), "%" PRIu64 ":", count);
	return send_message(fd, mode, prefix, msg->data, msg->len);
}

/*
 * Serves one connection until it ends, breaks the framing, or a stop
 * signal comes, using buf (cap bytes) for the decoder. Returns 0, or -1
 * with errno set on a receive or send error.
 */
static int serve_connection(int fd, enum frame_mode mode, unsigned char *buf,
			    size_t cap)
{
	/*
	 * TODO (step 3): frame_decoder_init(&dec, mode,
	 * frame_default_max(mode), buf, cap), count = 0, then loop while
	 * !stop_requested:
	 * 1. take out every whole message (frame_decoder_next() == 1) and
	 *    reply(fd, mode, ++count, &msg) to each; a reply failing with
	 *    EINTR means a stop signal: return 0; other failures: -1.
	 * 2. next() == -1: a protocol error: print it to stderr and return
	 *    send_error_and_linger(fd, mode, frame_decoder_error(&dec)).
	 * 3. frame_decoder_space(), wait_for(fd, POLLIN, -1) (EINTR: loop
	 *    again, the while looks at stop_requested), then recv() into
	 *    the space with MSG_DONTWAIT and frame_decoder_commit() what
	 *    came. recv() == 0 is the end of the stream: return 0, unless
	 *    frame_decoder_pending() says a message was cut short: then
	 *    send_error_and_linger(fd, mode, TRUNCATED_REASON).
	 * Never reply before a message is whole, and never assume one
	 * recv() is one message: that is the bug of naive_server.c.
	 */
	(void)fd;
	(void)mode;
	(void)buf;
	(void)cap;
	/* Only here to keep the compiler quiet until you call them. */
	(void)reply;
	(void)send_error_and_linger;
	errno = ENOSYS;
	fprintf(stderr, "%s: serve_connection (TODO in frame_server.c)\n",
		PROG);
	return -1;
}

/* Serves connections one after another until a stop signal. */
static int serve_forever(int listener, enum frame_mode mode, unsigned char *buf,
			 size_t cap)
{
	while (!stop_requested) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		char peer_text[NET_SOCKADDR_TEXT_MAX];

		if (wait_for(listener, POLLIN, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			return -1;
		}
		int fd = accept(listener, (struct sockaddr *)&peer, &peer_len);
		if (fd < 0) {
			if (net_accept_error_is_transient(errno))
				continue;
			perror(PROG ": accept");
			return -1;
		}
		if (net_format_sockaddr((struct sockaddr *)&peer, peer_text,
					sizeof(peer_text)) < 0)
			snprintf(peer_text, sizeof(peer_text), "(unknown)");
		fprintf(stderr, "%s: client %s connected\n", PROG, peer_text);
		if (serve_connection(fd, mode, buf, cap) < 0)
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
	int status = EXIT_FAILURE;
	int listener = -1;

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
	/* One decoder buffer, reused by every connection. */
	size_t cap = FRAME_BUFFER_SIZE(frame_default_max(cfg.mode));
	unsigned char *buf = malloc(cap);
	if (buf == NULL) {
		perror(PROG ": malloc");
		return EXIT_FAILURE;
	}
	/* Stop handlers, SIGPIPE ignored, stop signals blocked but in waits. */
	if (net_block_stop_signals(&stop_requested, &wait_mask) < 0) {
		perror(PROG ": signal handlers");
		goto out;
	}
	listener = net_listen(&addr, addr_len, SOCK_STREAM, LISTEN_BACKLOG,
			      &failed_call);
	if (listener < 0) {
		fprintf(stderr, "%s: %s %s port %u: %s\n", PROG, failed_call,
			cfg.addr_text, (unsigned)cfg.port, strerror(errno));
		goto out;
	}
	if (net_announce(listener) < 0) {
		perror(PROG ": announce");
		goto out;
	}
	if (serve_forever(listener, cfg.mode, buf, cap) == 0)
		status = EXIT_SUCCESS;
out:
	if (listener >= 0)
		close(listener);
	free(buf);
	return status;
}
