/*
 * frame_client - send stdin lines as framed messages, print the replies
 * (lab 04).
 *
 * Step 4 of the handout: fill in the two functions marked TODO,
 * queue_next_line() and print_replies(). Everything else is provided.
 *
 * usage: frame_client -h HOST -p PORT [-m len|line]
 *
 * Each line of stdin (without its '\n'; a last line without one counts
 * too) goes to the server as one message in the chosen framing (default
 * len). Each reply message is printed as its payload and a '\n'. At the
 * end of stdin the client half-closes the connection and keeps printing
 * replies until the server closes its side. Sending and receiving are
 * interleaved with poll(), so a long input cannot deadlock.
 * Exits 0 when all was sent and the server closed cleanly, 1 on an error
 * (including a reply that breaks the framing), 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* gai_strerror, getopt */
#include "frame.h"
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "frame_client"
/* A reply is "<n>:" (n up to 20 digits) or "ERR " before the payload. */
#define REPLY_EXTRA 24

struct client_config {
	const char *host;
	const char *port_text;
	enum frame_mode mode;
};

/* The client's state: two decoders and one outgoing message. */
struct client {
	int sock;
	enum frame_mode mode;
	struct frame_decoder lines;   /* stdin, always in line mode */
	struct frame_decoder replies; /* the server's messages */
	unsigned char *out;	      /* one encoded message being sent */
	size_t out_len;
	size_t out_sent;
	bool stdin_open;
	bool sent_eof;
	bool server_open;
};

static void usage(void)
{
	fprintf(stderr, "usage: %s -h HOST -p PORT [-m len|line]\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct client_config *cfg)
{
	uint16_t port;
	int opt;

	cfg->host = NULL;
	cfg->port_text = NULL;
	cfg->mode = FRAME_MODE_LEN;
	while ((opt = getopt(argc, argv, ":h:p:m:")) != -1) {
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
 * Connects to host:port (net_connect tries each address of the name).
 * Returns the connected socket, or -1 after printing why none did.
 */
static int connect_to_server(const char *host, const char *port)
{
	int gai_error;
	int fd = net_connect(host, port, SOCK_STREAM, &gai_error);

	if (fd < 0 && gai_error != 0)
		fprintf(stderr, "%s: %s: %s\n", PROG, host,
			gai_strerror(gai_error));
	else if (fd < 0)
		fprintf(stderr, "%s: connect %s port %s: %s\n", PROG, host,
			port, strerror(errno));
	return fd;
}

/*
 * Reads a chunk of stdin into the line decoder. At the end of stdin, a
 * last line without '\n' is completed with one. Returns 0 or -1.
 */
static int pull_stdin(struct client *c)
{
	size_t room;
	unsigned char *space = frame_decoder_space(&c->lines, &room);
	ssize_t n = read(STDIN_FILENO, space, room);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0) {
		c->stdin_open = false;
		if (frame_decoder_pending(&c->lines) > 0) {
			const unsigned char nl = FRAME_DELIMITER;
			frame_decoder_feed(&c->lines, &nl, 1);
		}
		return 0;
	}
	frame_decoder_commit(&c->lines, (size_t)n);
	return 0;
}

/*
 * When nothing is being sent, encodes the next stdin line as a message.
 * Returns 0, or -1 with errno EPROTO when a line is over the limit.
 */
static int queue_next_line(struct client *c)
{
	/*
	 * TODO (step 4): if c->out_len > 0, a message is still being sent:
	 * return 0. Otherwise take the next line out of c->lines with
	 * frame_decoder_next() (0 or -1: return that), frame_wrap() its
	 * length in c->mode, and copy head, line and tail into c->out;
	 * set c->out_len to the total and c->out_sent to 0.
	 */
	(void)c;
	errno = ENOSYS;
	fprintf(stderr, "%s: queue_next_line (TODO in frame_client.c)\n", PROG);
	return -1;
}

/* The socket is writable: send what it takes without blocking. */
static int push_socket(struct client *c)
{
	ssize_t n = send(c->sock, c->out + c->out_sent,
			 c->out_len - c->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	c->out_sent += (size_t)n;
	if (c->out_sent == c->out_len)
		c->out_len = c->out_sent = 0;
	return 0;
}

/*
 * Prints every whole reply held by c->replies: its payload, then '\n'.
 * Returns 0, or -1 with errno set (EPROTO: the replies break the framing).
 */
static int print_replies(struct client *c)
{
	/*
	 * TODO (step 4): while frame_decoder_next(&c->replies, &reply)
	 * gives a message, fwrite its payload to stdout and putchar('\n')
	 * (check both). Then fflush(stdout), so replies show up at once
	 * when you type, and return what next() last returned (0 or -1).
	 */
	(void)c;
	errno = ENOSYS;
	return -1;
}

/* The socket is readable: receives a chunk and prints every whole reply. */
static int pull_socket(struct client *c)
{
	size_t room;
	unsigned char *space = frame_decoder_space(&c->replies, &room);
	ssize_t n = recv(c->sock, space, room, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0) {
		c->server_open = false;
		return 0;
	}
	frame_decoder_commit(&c->replies, (size_t)n);
	return print_replies(c);
}

/* Half-closes once stdin has ended and every line has been sent. */
static int maybe_half_close(struct client *c)
{
	if (c->stdin_open || c->out_len > 0 || c->sent_eof ||
	    frame_decoder_pending(&c->lines) > 0)
		return 0;
	if (shutdown(c->sock, SHUT_WR) < 0)
		return -1;
	c->sent_eof = true;
	return 0;
}

/*
 * Runs until the server closes its side. Returns 0, or -1 with errno
 * set and *failed_call naming what failed.
 */
static int run(struct client *c, const char **failed_call)
{
	enum { STDIN_SLOT, SOCK_SLOT, SLOTS };
	struct pollfd fds[SLOTS];

	while (c->server_open) {
		if (queue_next_line(c) < 0) {
			*failed_call = "stdin";
			return -1;
		}
		if (maybe_half_close(c) < 0) {
			*failed_call = "shutdown";
			return -1;
		}
		bool want_stdin = c->stdin_open && c->out_len == 0;
		fds[STDIN_SLOT].fd = want_stdin ? STDIN_FILENO : -1;
		fds[STDIN_SLOT].events = POLLIN;
		fds[SOCK_SLOT].fd = c->sock;
		fds[SOCK_SLOT].events = POLLIN | (c->out_len > 0 ? POLLOUT : 0);
		if (poll(fds, SLOTS, -1) < 0) {
			if (errno == EINTR)
				continue;
			*failed_call = "poll";
			return -1;
		}
		if (fds[STDIN_SLOT].revents != 0 && pull_stdin(c) < 0) {
			*failed_call = "read stdin";
			return -1;
		}
		if ((fds[SOCK_SLOT].revents & POLLOUT) && push_socket(c) < 0) {
			*failed_call = "send";
			return -1;
		}
		if ((fds[SOCK_SLOT].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    pull_socket(c) < 0) {
			*failed_call = "reply";
			return -1;
		}
	}
	return 0;
}

/* Allocates the three buffers. Returns 0, or -1 with errno set. */
static int client_init(struct client *c, enum frame_mode mode)
{
	size_t max = frame_default_max(mode);
	size_t line_cap = FRAME_BUFFER_SIZE(max);
	size_t reply_cap = FRAME_BUFFER_SIZE(max + REPLY_EXTRA);
	unsigned char *line_buf = malloc(line_cap);
	unsigned char *reply_buf = malloc(reply_cap);

	c->mode = mode;
	c->out = malloc(line_cap);
	if (line_buf == NULL || reply_buf == NULL || c->out == NULL ||
	    frame_decoder_init(&c->lines, FRAME_MODE_LINE, max, line_buf,
			       line_cap) < 0 ||
	    frame_decoder_init(&c->replies, mode, max + REPLY_EXTRA, reply_buf,
			       reply_cap) < 0) {
		free(line_buf);
		free(reply_buf);
		free(c->out);
		c->out = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void client_free(struct client *c)
{
	free(c->lines.buf);
	free(c->replies.buf);
	free(c->out);
}

/* Why the exchange failed, in one line on stderr. */
static void report_failure(const struct client *c, const char *failed_call)
{
	if (errno == EPROTO && strcmp(failed_call, "reply") == 0)
		fprintf(stderr, "%s: bad reply from the server: %s\n", PROG,
			frame_decoder_error(&c->replies));
	else if (errno == EPROTO)
		fprintf(stderr, "%s: stdin: %s\n", PROG,
			frame_decoder_error(&c->lines));
	else
		fprintf(stderr, "%s: %s: %s\n", PROG, failed_call,
			strerror(errno));
}

int main(int argc, char **argv)
{
	struct client_config cfg;
	struct client c = {.sock = -1, .stdin_open = true, .server_open = true};
	const char *failed_call = "";
	int status = EXIT_FAILURE;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (client_init(&c, cfg.mode) < 0) {
		perror(PROG ": malloc");
		return EXIT_FAILURE;
	}
	c.sock = connect_to_server(cfg.host, cfg.port_text);
	if (c.sock < 0)
		goto out;
	if (run(&c, &failed_call) < 0) {
		report_failure(&c, failed_call);
	} else if (frame_decoder_pending(&c.replies) > 0) {
		fprintf(stderr,
			"%s: the server closed in the middle of a reply\n",
			PROG);
	} else if (!c.sent_eof) {
		fprintf(stderr,
			"%s: the server closed the connection before all of "
			"stdin was sent\n",
			PROG);
	} else {
		status = EXIT_SUCCESS;
	}
out:
	if (c.sock >= 0)
		close(c.sock);
	client_free(&c);
	return status;
}
