/*
 * unix_proto.c - the line protocol of lab 03, as pure functions.
 *
 * Step 1 of the handout: fill in the four functions marked TODO. Their
 * contracts are in unix_proto.h; tests/test_unix_proto.c checks them
 * ("make grade T=unit" runs only those tests).
 */
#include "unix_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

size_t proto_next_line(const char *buf, size_t len, size_t *line_len)
{
	/*
	 * TODO (step 1): find the first '\n' in buf[0..len) with memchr (not
	 * strchr: the bytes are not a C string and may hold NULs).
	 * - No '\n': return 0 and leave *line_len alone.
	 * - Otherwise the request is everything before the '\n', minus one
	 *   '\r' right before it if there is one: store its length in
	 *   *line_len and return the bytes taken up, '\n' included.
	 */
	(void)buf;
	(void)len;
	(void)line_len;
	return 0;
}

void proto_parse(const char *line, size_t len, struct proto_request *req)
{
	/*
	 * TODO (step 1): set req->command (and req->arg, req->arg_len for
	 * ECHO and SEND). The line is line[0..len): it has no NUL at the
	 * end, so compare with memcmp and lengths, never strcmp.
	 * - "PING" and "WHO" must be the whole line.
	 * - "ECHO" and "SEND" are either the whole line (empty argument) or
	 *   followed by ONE space; the argument is the rest of the line.
	 *   "ECHOES" is not ECHO.
	 * - Anything else is PROTO_UNKNOWN.
	 */
	(void)line;
	(void)len;
	req->command = PROTO_UNKNOWN;
	req->arg = NULL;
	req->arg_len = 0;
}

int proto_format_who(pid_t pid, uid_t uid, gid_t gid, char *out, size_t outlen)
{
	/*
	 * TODO (step 1): snprintf "pid=%ld uid=%lu gid=%lu\n" into out
	 * (cast: pid_t, uid_t and gid_t have no printf conversion of their
	 * own). snprintf returns the length the text would have had: if it
	 * is outlen or more, the text did not fit: return -1 with errno
	 * ENOSPC. Otherwise return that length.
	 */
	(void)pid;
	(void)uid;
	(void)gid;
	(void)out;
	(void)outlen;
	errno = ENOSYS;
	return -1;
}

int proto_make_unix_addr(const char *path, struct sockaddr_un *addr,
			 socklen_t *len)
{
	/*
	 * TODO (step 1): an empty path is EINVAL; a path of
	 * sizeof(addr->sun_path) bytes or more does not fit with its NUL:
	 * ENAMETOOLONG. Otherwise zero *addr, set sun_family to AF_UNIX,
	 * copy the path and its NUL into sun_path, and set *len to
	 * offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1.
	 * See docs/03-unix-sockets.md, "struct sockaddr_un and the path
	 * length limit".
	 */
	(void)path;
	(void)addr;
	(void)len;
	errno = ENOSYS;
	return -1;
}
