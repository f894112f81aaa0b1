/*
 * unix_client - send requests to unix_server, print its replies (lab 03).
 *
 * Steps 4 and 5 of the handout: fill in the functions marked TODO. The
 * rest is provided and already works.
 *
 * usage: unix_client -s PATH
 *
 * Sends each line of stdin as one request and prints each reply on
 * stdout, one request at a time. For a "SEND <path>" request answered by
 * "OK", the reply carries an open file descriptor (SCM_RIGHTS): the
 * client prints the file's contents, read through that descriptor, in
 * place of the "OK". Exits 0 at the end of stdin, 1 on an error (nothing
 * listening at PATH, the server gone before replying), 2 on bad
 * arguments.
 */
#define _POSIX_C_SOURCE 200809L /* getline, getopt */
#include "net.h"
#include "unix_proto.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PROG "unix_client"
/* Room for the longest reply and the start of the next one. */
#define REPLY_BUF_SIZE (2 * PROTO_REPLY_MAX)
/* Descriptors one reply may carry; extra ones are closed at once. */
#define MAX_PASSED_FDS 4
#define COPY_BUF_SIZE 16384

/* Replies received from the server, and descriptors not yet used. */
struct reply_reader {
	int sock;
	char buf[REPLY_BUF_SIZE];
	size_t len;
	int fds[MAX_PASSED_FDS];
	size_t nfds;
};

static void usage(void)
{
	fprintf(stderr, "usage: %s -s PATH\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, const char **path)
{
	int opt;

	*path = NULL;
	while ((opt = getopt(argc, argv, ":s:")) != -1) {
		switch (opt) {
		case 's':
			*path = optarg;
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
	if (*path == NULL) {
		fprintf(stderr, "%s: -s PATH is required\n", PROG);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG,
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Connects to the server at addr. Returns the socket, or -1 with errno. */
static int connect_to_server(const struct sockaddr_un *addr, socklen_t len)
{
	/*
	 * TODO (step 4): socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	 * then connect() it to addr. If connect fails, close the socket
	 * (keep errno: close may change it) and return -1.
	 */
	(void)addr;
	(void)len;
	errno = ENOSYS;
	return -1;
}

/* Closes the descriptors a reader still holds. */
static void close_passed_fds(struct reply_reader *r)
{
	for (size_t i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
}

/* Keeps the descriptors of one SCM_RIGHTS message; closes extra ones. */
static void keep_passed_fds(struct reply_reader *r, struct cmsghdr *cmsg)
{
	size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	unsigned char *data = CMSG_DATA(cmsg);

	for (size_t i = 0; i < count; i++) {
		int fd;
		memcpy(&fd, data + i * sizeof(int), sizeof(int));
		if (r->nfds < MAX_PASSED_FDS)
			r->fds[r->nfds++] = fd;
		else
			close(fd);
	}
}

/*
 * Receives more reply bytes with recvmsg(), keeping any descriptors that
 * come with them: a plain recv() would make the kernel close them.
 * Returns the number of bytes received (0 at end of stream), or -1 with
 * errno set.
 */
static ssize_t receive_more(struct reply_reader *r)
{
	/*
	 * TODO (step 4): receive more bytes into r->buf + r->len (at most
	 * sizeof(r->buf) - r->len), retrying on EINTR; add them to r->len
	 * and return how many came (0 at end of stream), or -1.
	 * recv() is enough for step 4. Step 5 (stretch): use recvmsg() with
	 * a control buffer of CMSG_SPACE(MAX_PASSED_FDS * sizeof(int)) bytes
	 * (MSG_CMSG_CLOEXEC), and hand every SOL_SOCKET/SCM_RIGHTS control
	 * message to keep_passed_fds(): a plain recv() of the bytes that
	 * carry a descriptor makes the kernel close it.
	 */
	(void)r;
	(void)keep_passed_fds;
	errno = ENOSYS;
	return -1;
}

/*
 * Waits for the next complete reply line. Returns the bytes it takes up
 * ('\n' included) and sets *line_len, or returns 0 when the server closed
 * the connection first, or -1 with errno set (EMSGSIZE: reply too long).
 */
static ssize_t next_reply(struct reply_reader *r, size_t *line_len)
{
	/*
	 * TODO (step 4): until proto_next_line() finds a complete line in
	 * r->buf[0..r->len), call receive_more(). Return what
	 * proto_next_line returned (it sets *line_len); 0 if the server
	 * closed the connection first; -1 with errno EMSGSIZE if the buffer
	 * fills up without a '\n', or -1 when receive_more fails.
	 */
	(void)r;
	(void)line_len;
	(void)receive_more;
	errno = ENOSYS;
	return -1;
}

/* Copies everything readable from fd to stdout. Returns 0 or -1. */
static int copy_fd_to_stdout(int fd)
{
	char buf[COPY_BUF_SIZE];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (net_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return -1;
	}
}

/*
 * Prints one reply: for a SEND answered "OK", the contents of the file
 * whose descriptor came with it; otherwise the reply line itself.
 * Returns 0, or -1 after printing the error.
 */
static int print_reply(struct reply_reader *r, bool was_send, size_t len)
{
	/*
	 * TODO (step 4): write the reply line r->buf[0..len) and a '\n' to
	 * stdout with net_write_all(); close_passed_fds(r), in case the
	 * server passed a descriptor nobody asked for.
	 * Step 5 (stretch): if was_send and the line is "OK", the reply
	 * carried a descriptor (r->fds[0]): print the file's contents with
	 * copy_fd_to_stdout() instead of the line, then close_passed_fds().
	 * No descriptor with that OK is an error. Return 0, or -1 after
	 * printing the error.
	 */
	(void)r;
	(void)was_send;
	(void)len;
	(void)copy_fd_to_stdout;
	errno = ENOSYS;
	return -1;
}

/*
 * Sends one request and prints its reply. Returns 0, or -1 after
 * printing the error.
 */
static int do_request(struct reply_reader *r, const char *line, size_t len)
{
	/*
	 * TODO (step 4): send the request line and a '\n' (net_send_all),
	 * then next_reply(). On an error, or when the server closed the
	 * connection before replying, print why and return -1. Otherwise
	 * print_reply() (was_send: proto_parse() the request and look for
	 * PROTO_SEND), then remove the reply's bytes from the front of
	 * r->buf (memmove) and return what print_reply returned.
	 */
	(void)r;
	(void)line;
	(void)len;
	(void)next_reply;
	(void)print_reply;
	fprintf(stderr, "%s: do_request: %s (TODO in unix_client.c)\n", PROG,
		strerror(ENOSYS));
	return -1;
}

/* Sends each stdin line as a request. Returns 0 at end of input, or -1. */
static int run_session(struct reply_reader *r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		rc = do_request(r, line, len);
	}
	if (rc == 0 && ferror(stdin)) {
		perror(PROG ": read stdin");
		rc = -1;
	}
	free(line);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path;
	struct sockaddr_un addr;
	socklen_t addr_len;
	struct reply_reader reader = {.sock = -1};

	if (parse_args(argc, argv, &path) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (proto_make_unix_addr(path, &addr, &addr_len) < 0) {
		fprintf(stderr, "%s: bad socket path '%s': %s\n", PROG, path,
			strerror(errno));
		usage();
		return NET_EXIT_USAGE;
	}
	/* A server gone away must give EPIPE, not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror(PROG ": signal");
		return EXIT_FAILURE;
	}
	reader.sock = connect_to_server(&addr, addr_len);
	if (reader.sock < 0) {
		fprintf(stderr,
			"%s: connect %s: %s (is unix_server running?)\n", PROG,
			path, strerror(errno));
		return EXIT_FAILURE;
	}
	int rc = run_session(&reader);
	close_passed_fds(&reader);
	close(reader.sock);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
