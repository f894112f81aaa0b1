/*
 * unix_proto.c - the line protocol of lab 03 (reference).
 */
#include "unix_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

size_t proto_next_line(const char *buf, size_t len, size_t *line_len)
{
	const char *nl = memchr(buf, '\n', len);
	if (nl == NULL)
		return 0;
	size_t n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*line_len = n;
	return (size_t)(nl - buf) + 1;
}

/*
 * Matches "WORD" alone or "WORD <arg>". Returns 1 and sets the argument
 * (empty when WORD is alone), or 0 when the line is something else.
 */
static int match_with_arg(const char *line, size_t len, const char *word,
			  struct proto_request *req)
{
	size_t wlen = strlen(word);

	if (len < wlen || memcmp(line, word, wlen) != 0)
		return 0;
	if (len == wlen) {
		req->arg = line + len;
		req->arg_len = 0;
		return 1;
	}
	if (line[wlen] != ' ')
		return 0;
	req->arg = line + wlen + 1;
	req->arg_len = len - wlen - 1;
	return 1;
}

/* Returns 1 when line[0..len) is exactly word. */
static int match_alone(const char *line, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(line, word, len) == 0;
}

void proto_parse(const char *line, size_t len, struct proto_request *req)
{
	req->arg = line;
	req->arg_len = 0;
	if (match_alone(line, len, "PING"))
		req->command = PROTO_PING;
	else if (match_alone(line, len, "WHO"))
		req->command = PROTO_WHO;
	else if (match_with_arg(line, len, "ECHO", req))
		req->command = PROTO_ECHO;
	else if (match_with_arg(line, len, "SEND", req))
		req->command = PROTO_SEND;
	else
		req->command = PROTO_UNKNOWN;
}

int proto_format_who(pid_t pid, uid_t uid, gid_t gid, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "pid=%ld uid=%lu gid=%lu\n", (long)pid,
			 (unsigned long)uid, (unsigned long)gid);
	if (n < 0)
		return -1;
	if ((size_t)n >= outlen) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

int proto_make_unix_addr(const char *path, struct sockaddr_un *addr,
			 socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if (n >= sizeof(addr->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}
