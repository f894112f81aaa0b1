/*
 * unix_server - a line-protocol server on a Unix-domain socket (lab 03,
 * reference).
 *
 * usage: unix_server -s PATH
 *
 * Binds an AF_UNIX stream socket to the socket file PATH (mode 0600),
 * prints "listening on PATH", and serves one client at a time with the
 * protocol of unix_proto.h: PING, ECHO, WHO (the peer's credentials, from
 * the kernel) and SEND (an open file passed with SCM_RIGHTS).
 * At start, a stale socket file left by a dead server is removed; a file
 * that a live server answers on, or that is not a socket, is left alone
 * and the server exits 1. On SIGINT or SIGTERM it removes its socket file
 * and exits 0; 1 on a fatal error, 2 on bad arguments.
 */
#define _GNU_SOURCE /* accept4, struct ucred */
#include "net.h"
#include "unix_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "unix_server"
#define LISTEN_BACKLOG 16
/* Room for the longest request with its "\r\n". */
#define REQUEST_BUF_SIZE (PROTO_LINE_MAX + 2)
/* The umask that makes bind() create the socket file with mode 0600. */
#define OWNER_ONLY_UMASK 0177
/* Longest "ERR <reason>\n" reply to a failed SEND. */
#define ERR_REPLY_MAX 256

struct server_config {
	const char *path;
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* What is at the socket path before we bind. */
enum path_state {
	PATH_FREE,	 /* nothing: bind can create it */
	PATH_STALE,	 /* a socket file nobody listens on any more */
	PATH_LIVE,	 /* a socket file a server answers on */
	PATH_NOT_SOCKET, /* a regular file, directory, ...: not ours */
};

/* One connected client and the bytes of its unfinished request. */
struct client {
	int fd;
	struct ucred cred; /* the peer's pid, uid, gid (SO_PEERCRED) */
	char buf[REQUEST_BUF_SIZE];
	size_t len;
	bool discarding; /* dropping the rest of a line that was too long */
};

/* Set by the SIGINT/SIGTERM handler; every loop checks it. */
static volatile sig_atomic_t stop_requested;

/*
 * The mask to wait with (net_block_stop_signals): SIGINT and SIGTERM stay
 * blocked while the server runs and are let in only while it waits, so a
 * signal can never land between a check of stop_requested and the wait
 * that follows it.
 */
static sigset_t wait_mask;

static void usage(void)
{
	fprintf(stderr, "usage: %s -s PATH\n", PROG);
}

/* Returns 0, or -1 after printing why the arguments are wrong. */
static int parse_args(int argc, char **argv, struct server_config *cfg)
{
	int opt;

	cfg->path = NULL;
	while ((opt = getopt(argc, argv, ":s:")) != -1) {
		switch (opt) {
		case 's':
			cfg->path = optarg;
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
	if (cfg->path == NULL) {
		fprintf(stderr, "%s: -s PATH is required\n", PROG);
		return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG,
			argv[optind]);
		return -1;
	}
	if (proto_make_unix_addr(cfg->path, &cfg->addr, &cfg->addr_len) < 0) {
		fprintf(stderr,
			"%s: bad socket path '%s': %s (at most %zu "
			"bytes)\n",
			PROG, cfg->path, strerror(errno),
			sizeof(cfg->addr.sun_path) - 1);
		return -1;
	}
	return 0;
}

/*
 * Waits until fd is readable, with the stop signals let in for the wait
 * only. Returns 0, or -1 with errno set (EINTR when a signal arrived).
 */
static int wait_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return net_wait(&pfd, 1, -1, &wait_mask) < 0 ? -1 : 0;
}

/* Like wait_readable(), until fd has room to send. */
static int wait_writable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	return net_wait(&pfd, 1, -1, &wait_mask) < 0 ? -1 : 0;
}

/*
 * Finds out what is at the socket path: nothing, a stale socket file, a
 * socket a live server answers on, or something that is not a socket.
 * Returns an enum path_state, or -1 with errno set.
 */
static int probe_path(const struct server_config *cfg)
{
	struct stat st;

	if (lstat(cfg->path, &st) < 0)
		return errno == ENOENT ? PATH_FREE : -1;
	if (!S_ISSOCK(st.st_mode))
		return PATH_NOT_SOCKET;
	/* Non-blocking: a live server with a full backlog gives EAGAIN. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return -1;
	int rc = connect(probe, (const struct sockaddr *)&cfg->addr,
			 cfg->addr_len);
	int saved_errno = errno;
	close(probe);
	if (rc == 0)
		return PATH_LIVE;
	switch (saved_errno) {
	case ECONNREFUSED: /* the file is there, nobody listens: stale */
		return PATH_STALE;
	case ENOENT: /* removed since the lstat: free */
		return PATH_FREE;
	case EAGAIN:	 /* a live server, busy */
	case EPROTOTYPE: /* a live datagram socket */
		return PATH_LIVE;
	default:
		errno = saved_errno;
		return -1;
	}
}

/*
 * Makes the socket path ready for bind(): removes a stale socket file,
 * refuses a live one or a file that is not a socket. Returns 0, or -1
 * after printing why the server cannot use the path.
 */
static int prepare_path(const struct server_config *cfg)
{
	switch (probe_path(cfg)) {
	case PATH_FREE:
		return 0;
	case PATH_STALE:
		if (unlink(cfg->path) < 0 && errno != ENOENT) {
			fprintf(stderr, "%s: unlink stale socket %s: %s\n",
				PROG, cfg->path, strerror(errno));
			return -1;
		}
		fprintf(stderr, "%s: removed stale socket file %s\n", PROG,
			cfg->path);
		return 0;
	case PATH_LIVE:
		fprintf(stderr,
			"%s: %s is already in use: a server answers on it\n",
			PROG, cfg->path);
		return -1;
	case PATH_NOT_SOCKET:
		fprintf(stderr,
			"%s: %s exists and is not a socket; not touching it\n",
			PROG, cfg->path);
		return -1;
	default:
		fprintf(stderr, "%s: checking %s: %s\n", PROG, cfg->path,
			strerror(errno));
		return -1;
	}
}

/*
 * Creates the listening socket and its socket file, readable and
 * writable by the owner only. Returns the socket, or -1 after printing
 * the error.
 */
static int open_listener(const struct server_config *cfg)
{
	struct sockaddr_storage ss;
	const char *failed_call = "";

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &cfg->addr, cfg->addr_len);
	/*
	 * bind() creates the file with mode 0777 minus the umask: setting
	 * the umask first leaves no moment when others could connect.
	 */
	mode_t old_umask = umask(OWNER_ONLY_UMASK);
	int fd = net_listen(&ss, cfg->addr_len, SOCK_STREAM, LISTEN_BACKLOG,
			    &failed_call);
	int saved_errno = errno;
	umask(old_umask);
	if (fd < 0) {
		fprintf(stderr, "%s: %s %s: %s%s\n", PROG, failed_call,
			cfg->path, strerror(saved_errno),
			saved_errno == EADDRINUSE ? " (already in use)" : "");
		return -1;
	}
	return fd;
}

/*
 * Removes the socket file if it is still the one we bound (same device
 * and inode): another server may have taken the path over since.
 */
static void remove_socket_file(const char *path, const struct stat *ours)
{
	struct stat now;

	if (lstat(path, &now) < 0) {
		if (errno != ENOENT)
			fprintf(stderr, "%s: lstat %s: %s\n", PROG, path,
				strerror(errno));
		return;
	}
	if (now.st_dev != ours->st_dev || now.st_ino != ours->st_ino)
		return;
	if (unlink(path) < 0)
		fprintf(stderr, "%s: unlink %s: %s\n", PROG, path,
			strerror(errno));
}

/*
 * Called after a non-blocking send on fd failed (errno says why): waits
 * for room when the socket buffer is full. Returns 0 to try again, or -1
 * to give up (errno EINTR when a stop signal came). The wait goes through
 * ppoll(), so a client that never reads its replies cannot keep a stop
 * signal out the way a blocking send would.
 */
static int retry_send(int fd)
{
	if (errno == EINTR)
		return stop_requested ? -1 : 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (wait_writable(fd) < 0 && errno != EINTR)
		return -1;
	if (stop_requested) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

/*
 * Sends a whole reply, looping over short sends. Returns 0, or -1 with
 * errno set (EPIPE: the client has gone; EINTR: asked to stop).
 */
static int send_reply(int fd, const char *reply, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (retry_send(fd) < 0)
				return -1;
			continue;
		}
		reply += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends text followed by '\n'. Returns 0, or -1 with errno set. */
static int send_line(int fd, const char *text, size_t len)
{
	char reply[PROTO_REPLY_MAX];

	if (len >= sizeof(reply)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(reply, text, len);
	reply[len] = '\n';
	return send_reply(fd, reply, len + 1);
}

/*
 * Sends "OK\n" with fd attached as SCM_RIGHTS ancillary data: the kernel
 * installs a duplicate of the descriptor in the receiving process.
 * Returns 0, or -1 with errno set.
 */
static int send_ok_with_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align; /* CMSG_* need an aligned buffer */
	} control;
	static const char ok[] = PROTO_OK;
	struct iovec iov = {.iov_base = (void *)ok, .iov_len = strlen(ok)};
	struct msghdr msg = {0};

	memset(&control, 0, sizeof(control));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

	ssize_t n;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
		if (retry_send(sock) < 0)
			return -1;
	}
	/* The descriptor went with the first byte; send what is left. */
	return send_reply(sock, ok + n, strlen(ok) - (size_t)n);
}

/*
 * Opens the regular file named by path[0..len) for reading. Returns the
 * descriptor, or -1 with errno set: EINVAL for a path with a NUL byte or
 * a file that is not a regular file (EISDIR for a directory).
 */
static int open_regular_file(const char *path, size_t len)
{
	char name[PATH_MAX];
	struct stat st;
	int saved_errno;

	if (len >= sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (memchr(path, '\0', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	memcpy(name, path, len);
	name[len] = '\0';
	/* O_NONBLOCK: opening a FIFO must not block the whole server. */
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	/* Back to blocking reads for the client that receives it. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		goto fail;
	return fd;

fail:
	saved_errno = errno; /* close() may change errno */
	close(fd);
	errno = saved_errno;
	return -1;
}

/*
 * SEND <path>: opens the file and passes the open descriptor to the
 * client, or replies "ERR <reason>". Returns 0, or -1 with errno set
 * when the reply could not be sent.
 */
static int handle_send(int sock, const char *path, size_t len)
{
	char reply[ERR_REPLY_MAX];

	int fd = open_regular_file(path, len);
	if (fd < 0) {
		int n = snprintf(reply, sizeof(reply), "ERR %s\n",
				 strerror(errno));
		if (n < 0 || (size_t)n >= sizeof(reply))
			return send_reply(sock, PROTO_ERR_UNKNOWN,
					  strlen(PROTO_ERR_UNKNOWN));
		return send_reply(sock, reply, (size_t)n);
	}
	int rc = send_ok_with_fd(sock, fd);
	int saved_errno = errno;
	close(fd); /* the client holds its own copy now */
	errno = saved_errno;
	return rc;
}

/* Answers one request line. Returns 0, or -1 with errno set. */
static int handle_request(struct client *c, const char *line, size_t len)
{
	struct proto_request req;
	char who[PROTO_REPLY_MAX];

	if (len > PROTO_LINE_MAX)
		return send_reply(c->fd, PROTO_ERR_TOO_LONG,
				  strlen(PROTO_ERR_TOO_LONG));
	proto_parse(line, len, &req);
	switch (req.command) {
	case PROTO_PING:
		return send_reply(c->fd, PROTO_PONG, strlen(PROTO_PONG));
	case PROTO_ECHO:
		return send_line(c->fd, req.arg, req.arg_len);
	case PROTO_WHO: {
		int n = proto_format_who(c->cred.pid, c->cred.uid, c->cred.gid,
					 who, sizeof(who));
		return n < 0 ? -1 : send_reply(c->fd, who, (size_t)n);
	}
	case PROTO_SEND:
		return handle_send(c->fd, req.arg, req.arg_len);
	default:
		return send_reply(c->fd, PROTO_ERR_UNKNOWN,
				  strlen(PROTO_ERR_UNKNOWN));
	}
}

/*
 * Answers every complete request in the client's buffer, in order, and
 * keeps the unfinished one. A line that fills the whole buffer gets one
 * "ERR line too long" and the rest of it, up to its '\n', is dropped.
 * Returns 0, or -1 with errno set when a reply could not be sent.
 */
static int handle_buffered(struct client *c)
{
	size_t start = 0;
	size_t used;
	size_t line_len;

	if (c->discarding) {
		const char *nl = memchr(c->buf, '\n', c->len);
		if (nl == NULL) {
			c->len = 0;
			return 0;
		}
		start = (size_t)(nl - c->buf) + 1;
		c->discarding = false;
	}
	while ((used = proto_next_line(c->buf + start, c->len - start,
				       &line_len)) > 0) {
		if (handle_request(c, c->buf + start, line_len) < 0)
			return -1;
		start += used;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len == sizeof(c->buf)) {
		c->len = 0;
		c->discarding = true;
		return send_reply(c->fd, PROTO_ERR_TOO_LONG,
				  strlen(PROTO_ERR_TOO_LONG));
	}
	return 0;
}

/*
 * Serves one client until it closes its side (an unfinished last line is
 * dropped) or a stop signal. Returns 0, or -1 with errno set on a
 * receive or send error.
 */
static int serve_client(struct client *c)
{
	while (!stop_requested) {
		if (wait_readable(c->fd) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		ssize_t n = recv(c->fd, c->buf + c->len,
				 sizeof(c->buf) - c->len, 0);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->len += (size_t)n;
		if (handle_buffered(c) < 0)
			return -1;
	}
	return 0;
}

/* Accepts one client, serves it and closes it. Returns 0, -1 if fatal. */
static int serve_next_client(int listener)
{
	struct client c = {.fd = -1};
	socklen_t cred_len = sizeof(c.cred);

	c.fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (c.fd < 0) {
		if (net_accept_error_is_transient(errno))
			return 0;
		perror(PROG ": accept");
		return -1;
	}
	/* The kernel recorded the peer's credentials when it connected. */
	if (getsockopt(c.fd, SOL_SOCKET, SO_PEERCRED, &c.cred, &cred_len) < 0) {
		perror(PROG ": getsockopt SO_PEERCRED");
	} else {
		fprintf(stderr, "%s: client pid %ld connected\n", PROG,
			(long)c.cred.pid);
		if (serve_client(&c) < 0)
			fprintf(stderr, "%s: client pid %ld: %s\n", PROG,
				(long)c.cred.pid, strerror(errno));
	}
	if (close(c.fd) < 0)
		perror(PROG ": close");
	return 0;
}

/* Serves clients one after another until a stop signal. */
static int serve_forever(int listener)
{
	while (!stop_requested) {
		if (wait_readable(listener) < 0) {
			if (errno == EINTR)
				continue;
			perror(PROG ": ppoll");
			return -1;
		}
		if (serve_next_client(listener) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	struct stat bound;
	int status = EXIT_FAILURE;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	/*
	 * SIGINT and SIGTERM set stop_requested, and are blocked except while
	 * waiting with wait_mask; SIGPIPE is ignored: a reply to a client
	 * that has gone away must fail with EPIPE, not kill the server.
	 */
	if (net_block_stop_signals(&stop_requested, &wait_mask) < 0) {
		perror(PROG ": signal handlers");
		return EXIT_FAILURE;
	}
	if (prepare_path(&cfg) < 0)
		return EXIT_FAILURE;
	int listener = open_listener(&cfg);
	if (listener < 0)
		return EXIT_FAILURE;
	if (lstat(cfg.path, &bound) < 0) {
		fprintf(stderr, "%s: lstat %s: %s\n", PROG, cfg.path,
			strerror(errno));
		close(listener);
		return EXIT_FAILURE;
	}
	/* Flush: under the grader stdout is a pipe, so fully buffered. */
	if (printf("listening on %s\n", cfg.path) < 0 || fflush(stdout) == EOF)
		perror(PROG ": announce");
	else if (serve_forever(listener) == 0)
		status = EXIT_SUCCESS;
	close(listener);
	remove_socket_file(cfg.path, &bound);
	return status;
}
