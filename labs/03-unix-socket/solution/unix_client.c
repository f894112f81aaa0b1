/*
 * unix_client - send requests to unix_server, print its replies (lab 03,
 * reference).
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
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)addr, len) < 0) {
		int saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return -1;
	}
	return fd;
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
	union {
		char buf[CMSG_SPACE(MAX_PASSED_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = r->buf + r->len,
			    .iov_len = sizeof(r->buf) - r->len};
	struct msghdr msg = {0};
	ssize_t n;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do {
		n = recvmsg(r->sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	     cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			keep_passed_fds(r, cmsg);
	}
	r->len += (size_t)n;
	return n;
}

/*
 * Waits for the next complete reply line. Returns the bytes it takes up
 * ('\n' included) and sets *line_len, or returns 0 when the server closed
 * the connection first, or -1 with errno set (EMSGSIZE: reply too long).
 */
static ssize_t next_reply(struct reply_reader *r, size_t *line_len)
{
	size_t used;

	while ((used = proto_next_line(r->buf, r->len, line_len)) == 0) {
		if (r->len == sizeof(r->buf)) {
			errno = EMSGSIZE;
			return -1;
		}
		ssize_t n = receive_more(r);
		if (n <= 0)
			return n;
	}
	return (ssize_t)used;
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
	bool ok = len == strlen(PROTO_OK) - 1 &&
		  memcmp(r->buf, PROTO_OK, len) == 0;

	if (!(was_send && ok)) {
		close_passed_fds(r); /* none expected: do not leak them */
		if (net_write_all(STDOUT_FILENO, r->buf, len) < 0 ||
		    net_write_all(STDOUT_FILENO, "\n", 1) < 0) {
			perror(PROG ": write stdout");
			return -1;
		}
		return 0;
	}
	if (r->nfds == 0) {
		fprintf(stderr,
			"%s: the server said OK to SEND but passed "
			"no file descriptor\n",
			PROG);
		return -1;
	}
	int rc = copy_fd_to_stdout(r->fds[0]);
	if (rc < 0)
		perror(PROG ": copying the received file to stdout");
	close_passed_fds(r);
	return rc;
}

/*
 * Sends one request and prints its reply. Returns 0, or -1 after
 * printing the error.
 */
static int do_request(struct reply_reader *r, const char *line, size_t len)
{
	struct proto_request req;
	size_t reply_len;

	if (net_send_all(r->sock, line, len) < 0 ||
	    net_send_all(r->sock, "\n", 1) < 0) {
		perror(PROG ": send");
		return -1;
	}
	ssize_t used = next_reply(r, &reply_len);
	if (used < 0) {
		perror(PROG ": receiving the reply");
		return -1;
	}
	if (used == 0) {
		fprintf(stderr,
			"%s: the server closed the connection "
			"before replying\n",
			PROG);
		return -1;
	}
	proto_parse(line, len, &req);
	int rc = print_reply(r, req.command == PROTO_SEND, reply_len);
	memmove(r->buf, r->buf + used, r->len - (size_t)used);
	r->len -= (size_t)used;
	return rc;
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
