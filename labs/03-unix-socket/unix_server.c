/*
 * unix_server - a line-protocol server on a Unix-domain socket (lab 03).
 *
 * Steps 2, 3 and 5 of the handout: fill in the functions marked TODO.
 * Everything else is provided and already works.
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
	/*
	 * TODO (step 2): find out what is at cfg->path.
	 * 1. lstat(): ENOENT means nothing is there: PATH_FREE (any other
	 *    error: return -1).
	 * 2. Not S_ISSOCK(st.st_mode): PATH_NOT_SOCKET. Never remove it.
	 * 3. A socket file: try to connect() to it with a new AF_UNIX
	 *    SOCK_STREAM socket made with SOCK_NONBLOCK (so a busy server
	 *    cannot block us), then close that socket (keep errno).
	 *    Connected: PATH_LIVE. ECONNREFUSED: nobody listens, PATH_STALE.
	 *    ENOENT: removed meanwhile, PATH_FREE. EAGAIN (a busy server)
	 *    and EPROTOTYPE (a datagram socket): PATH_LIVE. Else -1.
	 * See docs/03-unix-sockets.md, "Stale socket files".
	 */
	(void)cfg;
	errno = ENOSYS;
	return -1;
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
	/*
	 * TODO (step 2): create the listening socket with net_listen()
	 * (net.h): copy cfg->addr into a struct sockaddr_storage (memset it
	 * first, then memcpy cfg->addr_len bytes) and pass SOCK_STREAM and
	 * LISTEN_BACKLOG.
	 * bind() creates the socket file with mode 0777 minus the umask:
	 * set the umask to OWNER_ONLY_UMASK just before, and put the old
	 * one back just after (keep errno: umask() does not change it, but
	 * fprintf may). On failure print
	 * "unix_server: bind PATH: <strerror>" and return -1.
	 * See docs/03-unix-sockets.md, "Permissions".
	 */
	(void)cfg;
	fprintf(stderr, "%s: open_listener: %s (TODO in unix_server.c)\n", PROG,
		strerror(ENOSYS));
	return -1;
}

/*
 * Removes the socket file if it is still the one we bound (same device
 * and inode): another server may have taken the path over since.
 */
static void remove_socket_file(const char *path, const struct stat *ours)
{
	/*
	 * TODO (step 2): unlink(path), but only if the file there is still
	 * the one we bound: lstat() it and compare st_dev and st_ino with
	 * *ours. ENOENT is fine (someone removed it already); print any
	 * other error. See docs/03-unix-sockets.md, "Removing the socket
	 * file".
	 */
	(void)path;
	(void)ours;
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
	/*
	 * TODO (step 5, stretch): sendmsg() the bytes of PROTO_OK with one
	 * SCM_RIGHTS control message holding fd (see cmsg(3) and
	 * docs/03-unix-sockets.md, "Passing descriptors: SCM_RIGHTS").
	 * Flags MSG_NOSIGNAL | MSG_DONTWAIT; when it fails, ask
	 * retry_send() whether to try again, as send_reply() does. If
	 * sendmsg sends only part of "OK\n", send the rest with
	 * send_reply(): the descriptor went with the first byte.
	 * Return 0, or -1 with errno set.
	 */
	(void)sock;
	(void)fd;
	return send_reply(sock, PROTO_ERR_UNKNOWN, strlen(PROTO_ERR_UNKNOWN));
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
	/*
	 * TODO (step 3): answer one request line (line[0..len), no '\n').
	 * - len > PROTO_LINE_MAX: reply PROTO_ERR_TOO_LONG.
	 * - proto_parse() it, then by command: PING -> PROTO_PONG;
	 *   ECHO -> the argument and a '\n' (send_line); WHO ->
	 *   proto_format_who() with c->cred (pid, uid, gid); SEND ->
	 *   handle_send() (step 5; until then, PROTO_ERR_UNKNOWN is fine);
	 *   anything else -> PROTO_ERR_UNKNOWN.
	 * Return what the send returned.
	 */
	(void)c;
	(void)line;
	(void)len;
	/* Only here to keep the compiler quiet until you call them. */
	(void)send_line;
	(void)handle_send;
	errno = ENOSYS;
	return -1;
}

/*
 * Answers every complete request in the client's buffer, in order, and
 * keeps the unfinished one. A line that fills the whole buffer gets one
 * "ERR line too long" and the rest of it, up to its '\n', is dropped.
 * Returns 0, or -1 with errno set when a reply could not be sent.
 */
static int handle_buffered(struct client *c)
{
	/*
	 * TODO (step 3): c->buf[0..c->len) holds the bytes received so far.
	 * Answer every complete request in it, in order (proto_next_line
	 * and handle_request), then move what is left (an unfinished
	 * request) to the front of the buffer with memmove.
	 * - A buffer that is full without a '\n' holds a line that is too
	 *   long: reply PROTO_ERR_TOO_LONG once, empty the buffer and set
	 *   c->discarding; while discarding, drop bytes up to and including
	 *   the next '\n', then go on as usual.
	 * Several requests may have come in one recv(), and one request in
	 * several: see docs/03-unix-sockets.md, "A stream has no message
	 * boundaries". Return 0, or -1 when a reply could not be sent.
	 */
	(void)c;
	(void)handle_request;
	errno = ENOSYS;
	return -1;
}

/*
 * Serves one client until it closes its side (an unfinished last line is
 * dropped) or a stop signal. Returns 0, or -1 with errno set on a
 * receive or send error.
 */
static int serve_client(struct client *c)
{
	/*
	 * TODO (step 3): while !stop_requested: wait_readable(c->fd) (on
	 * EINTR go round again: the loop looks at the flag), then recv()
	 * into c->buf + c->len, at most sizeof(c->buf) - c->len bytes.
	 * 0 means the client closed its side: return 0 (an unfinished
	 * request is dropped). EINTR: go round again. Any other error:
	 * return -1. Otherwise add the bytes to c->len and call
	 * handle_buffered(c).
	 */
	(void)c;
	(void)handle_buffered;
	fprintf(stderr,
		"%s: serve_client: not written yet (TODO in unix_server.c)\n",
		PROG);
	errno = ENOSYS;
	return -1;
}

/* Accepts one client, serves it and closes it. Returns 0, -1 if fatal. */
static int serve_next_client(int listener)
{
	/*
	 * TODO (step 2): accept() one client into a struct client (start it
	 * zeroed, with .fd the accepted socket); an error of the connection
	 * being accepted, not of the listener (EINTR, ECONNABORTED:
	 * net_accept_error_is_transient), is not fatal: return 0. Ask the
	 * kernel who the peer is:
	 * getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c.cred, &len); if that
	 * fails, print it and skip the client. Then serve_client(&c), print
	 * its error if it fails (one bad client must not stop the server),
	 * and close the socket. Return -1 only when accept() fails for
	 * good. See docs/03-unix-sockets.md, "Peer credentials".
	 */
	(void)listener;
	(void)serve_client;
	errno = ENOSYS;
	perror(PROG ": serve_next_client (TODO in unix_server.c)");
	return -1;
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
