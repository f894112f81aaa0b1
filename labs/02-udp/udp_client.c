/*
 * udp_client - send each line of stdin to a UDP echo server as one
 * datagram, print each reply on its own line (lab 02).
 *
 * Steps 3 to 5 of the handout: write the four functions marked TODO.
 * Everything else is provided and already works.
 *
 * usage: udp_client -h HOST -p PORT [-t TIMEOUT_MS] [-r RETRIES]
 *
 * UDP may lose, duplicate, delay and reorder datagrams, so each request
 * carries a sequence number (udp_proto.h) and the client waits for the
 * reply with that number: it resends the request when TIMEOUT_MS (default
 * 500) pass without it, at most RETRIES times (default 5), and ignores any
 * reply with another number (a copy of a reply already printed, or a late
 * answer to an earlier request). Every reply is printed once and in order.
 * Exits 0 after the last line's reply, 1 when a request got no reply (or
 * on another error), 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, getline, getopt */
#include "net.h"
#include "udp_proto.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "udp_client"
#define DEFAULT_TIMEOUT_MS 500
#define MIN_TIMEOUT_MS 1
#define MAX_TIMEOUT_MS 60000
#define DEFAULT_RETRIES 5
#define MAX_RETRIES 100

struct client_config {
	const char *host;
	const char *port_text;
	long timeout_ms;
	long retries;
};

/* The request in flight, and the buffers for it and its reply. */
struct exchange {
	int sock;
	long timeout_ms;
	long retries;
	uint32_t seq;		 /* the number the reply must carry */
	int refused;		 /* an ICMP "port unreachable" came back */
	const char *failed_call; /* what failed, when something did */
	unsigned char request[UDP_MAX_PAYLOAD];
	size_t request_len;
	unsigned char reply[UDP_RECV_BUF_SIZE];
};

static void usage(void)
{
	fprintf(stderr,
		"usage: %s -h HOST -p PORT [-t TIMEOUT_MS] [-r RETRIES]\n",
		PROG);
}

/* Parses the value of -t or -r into *value; prints why it is wrong. */
static int parse_option_count(int opt, const char *text, long min, long max,
			      long *value)
{
	if (udp_parse_count(text, min, max, value) == 0)
		return 0;
	fprintf(stderr,
		"%s: -%c '%s': expected a whole number from %ld to %ld\n", PROG,
		opt, text, min, max);
	return -1;
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct client_config *cfg)
{
	uint16_t port;
	int opt;

	cfg->host = NULL;
	cfg->port_text = NULL;
	cfg->timeout_ms = DEFAULT_TIMEOUT_MS;
	cfg->retries = DEFAULT_RETRIES;
	while ((opt = getopt(argc, argv, ":h:p:t:r:")) != -1) {
		switch (opt) {
		case 'h':
			cfg->host = optarg;
			break;
		case 'p':
			if (net_parse_port(optarg, &port) < 0) {
				fprintf(stderr, "%s: bad port '%s': %s\n", PROG,
					optarg, strerror(errno));
				return -1;
			}
			cfg->port_text = optarg;
			break;
		case 't':
			if (parse_option_count(opt, optarg, MIN_TIMEOUT_MS,
					       MAX_TIMEOUT_MS,
					       &cfg->timeout_ms) < 0)
				return -1;
			break;
		case 'r':
			if (parse_option_count(opt, optarg, 0, MAX_RETRIES,
					       &cfg->retries) < 0)
				return -1;
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

/*
 * A UDP socket connected to the first address getaddrinfo gives for
 * host:port. connect() on a UDP socket sends nothing: it sets the address
 * send() uses, makes the kernel drop datagrams from anyone else, and lets
 * ICMP errors (ECONNREFUSED) reach us. Returns the socket, or -1 after
 * printing why there is none.
 */
static int open_client_socket(const char *host, const char *port)
{
	/*
	 * TODO (step 3): resolve host and port with getaddrinfo (hints:
	 * AF_UNSPEC, SOCK_DGRAM, AI_NUMERICSERV); for the addresses in the
	 * list, socket() + connect() until one works; freeaddrinfo() the
	 * list. getaddrinfo's errors are not errno values: print
	 * gai_strerror(rc). If no address works, print the last error, e.g.
	 *   udp_client: socket or connect 127.0.0.1 port 5000: ...
	 * and return -1. See docs/02-udp.md, "connect on a UDP socket".
	 */
	(void)host;
	(void)port;
	fprintf(stderr,
		"%s: open_client_socket: not written yet "
		"(TODO in udp_client.c)\n",
		PROG);
	return -1;
}

/*
 * Sends the request once. A refusal left by an earlier ICMP message is
 * remembered, not fatal: the server may just not be up yet. Returns 0, or
 * -1 with errno set.
 */
static int send_request(struct exchange *ex)
{
	/*
	 * TODO (step 3): send() the ex->request_len bytes of ex->request as
	 * one datagram on ex->sock. EINTR: send again. ECONNREFUSED (an ICMP
	 * "port unreachable" left by an earlier datagram): set ex->refused
	 * and return 0, since the server may come up later. Any other error:
	 * set ex->failed_call = "send" and return -1.
	 */
	(void)ex;
	errno = ENOSYS;
	return -1;
}

/*
 * Waits until deadline (net_now_ms() time) for the reply that carries ex->seq
 * and drops every other datagram: a copy of a reply already printed, a
 * late reply to an earlier request, or anything too short to have a
 * header. Returns 0 and sets *body and *body_len (inside ex->reply), or -1
 * with errno ETIMEDOUT when the deadline passed, or another errno.
 */
static int wait_for_reply(struct exchange *ex, long long deadline,
			  const void **body, size_t *body_len)
{
	/*
	 * TODO (steps 3 and 5): loop until the deadline:
	 * - left = deadline - net_now_ms(); if left <= 0: errno = ETIMEDOUT,
	 *   return -1;
	 * - poll() ex->sock for POLLIN for at most left ms (EINTR: loop);
	 *   nothing ready means the time is up (loop, and the check above
	 *   returns);
	 * - recv() one datagram into ex->reply (ECONNREFUSED: set
	 *   ex->refused and keep waiting; EINTR: loop; other errors: set
	 *   ex->failed_call = "recv", return -1);
	 * - udp_proto_decode() it; if it decodes and its number is ex->seq,
	 *   return 0 with *body and *body_len set. Anything else is a stale
	 *   or duplicate reply: drop it and keep waiting, without moving
	 *   the deadline.
	 * See docs/02-udp.md, "Timeouts with poll or SO_RCVTIMEO" and "Why
	 * sequence numbers are needed".
	 */
	(void)ex;
	(void)deadline;
	(void)body;
	(void)body_len;
	errno = ENOSYS;
	return -1;
}

/*
 * Sends the request in ex and waits for its reply, resending it after
 * each timeout: 1 + ex->retries sends in all. Returns 0 and sets *body and
 * *body_len, or -1 with errno ETIMEDOUT when no reply came, or another.
 */
static int request_reply(struct exchange *ex, const void **body,
			 size_t *body_len)
{
	/*
	 * TODO (step 4): up to 1 + ex->retries times: send_request(), then
	 * wait_for_reply() with the deadline net_now_ms() + ex->timeout_ms.
	 * Return 0 as soon as a reply comes. If the wait fails with anything
	 * but ETIMEDOUT, return -1 at once. After the last try, set errno to
	 * ETIMEDOUT and return -1. See docs/02-udp.md, "Retransmission".
	 */
	(void)ex;
	(void)body;
	(void)body_len;
	/* Only here to keep the compiler quiet until you call them. */
	(void)send_request;
	(void)wait_for_reply;
	errno = ENOSYS;
	return -1;
}

/* Writes one reply and its newline to stdout. Returns 0, or -1. */
static int print_reply(const void *body, size_t body_len)
{
	if (net_write_all(STDOUT_FILENO, body, body_len) < 0 ||
	    net_write_all(STDOUT_FILENO, "\n", 1) < 0)
		return -1;
	return 0;
}

/* Prints why request number ex->seq failed. */
static void report_failure(const struct exchange *ex,
			   const struct client_config *cfg)
{
	if (errno != ETIMEDOUT) {
		fprintf(stderr, "%s: %s: %s\n", PROG, ex->failed_call,
			strerror(errno));
		return;
	}
	fprintf(stderr,
		"%s: no reply from %s port %s to line %lu after %ld tries, "
		"%ld ms each%s\n",
		PROG, cfg->host, cfg->port_text, (unsigned long)ex->seq,
		ex->retries + 1, ex->timeout_ms,
		ex->refused ? " (ICMP port unreachable came back: is the "
			      "server running?)"
			    : "");
}

/*
 * Sends one line (len bytes, without its newline) as the next request and
 * prints its reply. Returns 0, or -1 after printing what failed.
 */
static int exchange_line(struct exchange *ex, const struct client_config *cfg,
			 const char *line, size_t len)
{
	const void *body;
	size_t body_len;

	ex->seq++;
	ssize_t n = udp_proto_encode(ex->seq, line, len, ex->request,
				     sizeof(ex->request));
	if (n < 0) {
		fprintf(stderr,
			"%s: line %lu has %zu bytes; one datagram carries at "
			"most %d\n",
			PROG, (unsigned long)ex->seq, len, UDP_PROTO_MAX_BODY);
		return -1;
	}
	ex->request_len = (size_t)n;
	if (request_reply(ex, &body, &body_len) < 0) {
		report_failure(ex, cfg);
		return -1;
	}
	if (print_reply(body, body_len) < 0) {
		perror(PROG ": write stdout");
		return -1;
	}
	return 0;
}

/*
 * One request per line of stdin, one reply per line of stdout, in order.
 * Returns 0, or -1 after printing what failed.
 */
static int run_requests(struct exchange *ex, const struct client_config *cfg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int status = 0;

	while (status == 0 && (len = getline(&line, &cap, stdin)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--; /* a last line may have no newline */
		status = exchange_line(ex, cfg, line, (size_t)len);
	}
	if (status == 0 && ferror(stdin)) {
		perror(PROG ": read stdin");
		status = -1;
	}
	free(line);
	return status;
}

int main(int argc, char **argv)
{
	struct client_config cfg;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	struct exchange *ex = calloc(1, sizeof(*ex));
	if (ex == NULL) {
		perror(PROG ": calloc");
		return EXIT_FAILURE;
	}
	ex->timeout_ms = cfg.timeout_ms;
	ex->retries = cfg.retries;
	ex->failed_call = "";
	int status = EXIT_FAILURE;
	ex->sock = open_client_socket(cfg.host, cfg.port_text);
	if (ex->sock >= 0) {
		if (run_requests(ex, &cfg) == 0)
			status = EXIT_SUCCESS;
		close(ex->sock);
	}
	free(ex);
	return status;
}
