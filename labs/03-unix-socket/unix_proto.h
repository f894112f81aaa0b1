/*
 * unix_proto.h - the line protocol of lab 03, as pure functions.
 *
 * You implement these in unix_proto.c (step 1 of the handout). They touch
 * no socket and keep no state: they work on a caller's buffer and return
 * views into it, so tests/test_unix_proto.c can try every split point.
 *
 * The protocol: every request and every reply is one line ending in '\n'
 * (a '\r' just before the '\n' is dropped, so "nc -C" works too).
 *
 *   PING          ->  PONG
 *   ECHO <text>   ->  <text>
 *   WHO           ->  pid=<pid> uid=<uid> gid=<gid>   (the peer, from the
 *                     kernel: SO_PEERCRED)
 *   SEND <path>   ->  OK, with the open file attached (SCM_RIGHTS), or
 *                     ERR <reason>                        (stretch part)
 *   anything else ->  ERR unknown command
 *
 * Course convention: a helper returns a value >= 0 on success, or -1 with
 * errno set. Helpers never print and never exit.
 */
#ifndef UNIX_PROTO_H
#define UNIX_PROTO_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* Longest request, without its end of line; longer lines get an error. */
#define PROTO_LINE_MAX 4096

/* Longest reply, with its '\n': an ECHO of the longest request. */
#define PROTO_REPLY_MAX (PROTO_LINE_MAX + 1)

/* Replies that are always the same text. */
#define PROTO_PONG "PONG\n"
#define PROTO_OK "OK\n"
#define PROTO_ERR_UNKNOWN "ERR unknown command\n"
#define PROTO_ERR_TOO_LONG "ERR line too long\n"

enum proto_command {
	PROTO_PING,
	PROTO_ECHO,
	PROTO_WHO,
	PROTO_SEND,
	PROTO_UNKNOWN,
};

/* One parsed request: the command and its argument, a view into the line. */
struct proto_request {
	enum proto_command command;
	const char *arg; /* ECHO's text or SEND's path (not NUL-terminated) */
	size_t arg_len;	 /* 0 for commands without an argument */
};

/*
 * Looks for the first complete line in buf[0..len). Returns the number of
 * bytes it takes up, '\n' included (what to remove from the buffer once it
 * is handled), and stores in *line_len the length of the request itself,
 * without the '\n' and without a '\r' just before it. Returns 0 when buf
 * holds no '\n' yet (more bytes are needed); *line_len is then untouched.
 */
size_t proto_next_line(const char *buf, size_t len, size_t *line_len);

/*
 * Parses one request line (without its end of line) into *req. Commands
 * are upper case and exact: "PING" and "WHO" alone on the line; "ECHO" and
 * "SEND" either alone or followed by one space and an argument (the rest
 * of the line, spaces included, possibly empty). Anything else is
 * PROTO_UNKNOWN. Never fails.
 */
void proto_parse(const char *line, size_t len, struct proto_request *req);

/*
 * Writes the WHO reply "pid=<pid> uid=<uid> gid=<gid>\n" into out (NUL-
 * terminated). Returns its length without the NUL, or -1 with errno ENOSPC
 * when it does not fit in outlen bytes.
 */
int proto_format_who(pid_t pid, uid_t uid, gid_t gid, char *out, size_t outlen);

/*
 * Fills *addr with an AF_UNIX address for the socket file at path, and
 * *len with the size to give bind() or connect(). Returns 0, or -1 with
 * errno EINVAL (empty path) or ENAMETOOLONG (path does not fit in
 * sun_path with its NUL: 107 bytes at most on Linux).
 */
int proto_make_unix_addr(const char *path, struct sockaddr_un *addr,
			 socklen_t *len);

#endif /* UNIX_PROTO_H */
