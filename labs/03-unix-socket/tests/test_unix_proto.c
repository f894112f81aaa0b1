/*
 * test_unix_proto.c - unit tests for unix_proto.c (lab 03).
 *
 * Run all groups:   build/lab03/tests/test_unix_proto
 * Run one group:    build/lab03/tests/test_unix_proto next_line
 *
 * Groups: next_line, parse, format_who, make_addr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_cases.h" /* cmocka, and groups of table-driven cases */

#include "unix_proto.h"

/* Bytes in a string literal, without its NUL (the literal may hold NULs). */
#define LIT_LEN(s) (sizeof(s) - 1)

#define SHOWN_MAX 160 /* room for a shown() text in a message */

/*
 * Writes len bytes of data into out as C-literal text ("a\x00b\n"), cut
 * with "..." when long: a message must show bytes that are not text
 * without printing them raw (a NUL would end it, a '\n' split it).
 * Returns out.
 */
static const char *shown(const void *data, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = data;
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		char piece[8];
		if (p[i] == '\n')
			snprintf(piece, sizeof(piece), "\\n");
		else if (p[i] == '\r')
			snprintf(piece, sizeof(piece), "\\r");
		else if (p[i] == '\\' || p[i] == '"')
			snprintf(piece, sizeof(piece), "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			snprintf(piece, sizeof(piece), "%c", p[i]);
		else
			snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
		/* Room for the piece, "..." and the NUL. */
		if (used + strlen(piece) + 4 > outlen) {
			snprintf(out + used, outlen - used, "...");
			return out;
		}
		memcpy(out + used, piece, strlen(piece) + 1);
		used += strlen(piece);
	}
	return out;
}

/*
 * Calls proto_next_line on an exact-size heap copy of buf, so that a
 * read past the end is a real out-of-bounds read (ASan, valgrind).
 */
static size_t next_line_exact(const char *buf, size_t len, size_t *line_len)
{
	char *copy = malloc(len > 0 ? len : 1);

	assert_non_null(copy);
	memcpy(copy, buf, len);
	size_t used = proto_next_line(copy, len, line_len);
	free(copy);
	return used;
}

/* ---- next_line ------------------------------------------------------- */

struct line_case {
	const char *name;
	const char *buf;
	size_t len;
	size_t used;	 /* expected return value */
	size_t line_len; /* expected *line_len when used > 0 */
};

#define LINE_CASE(name, lit, used, line_len)                                   \
	{                                                                      \
		name, lit, LIT_LEN(lit), used, line_len                        \
	}

static const struct line_case line_cases[] = {
	LINE_CASE("empty buffer", "", 0, 0),
	LINE_CASE("no newline yet", "PING", 0, 0),
	LINE_CASE("a '\\r' is not an end of line", "PING\r", 0, 0),
	LINE_CASE("one line", "PING\n", 5, 4),
	LINE_CASE("an empty line", "\n", 1, 0),
	LINE_CASE("CRLF end of line", "PING\r\n", 6, 4),
	LINE_CASE("a lone CRLF", "\r\n", 2, 0),
	LINE_CASE("only the first of two lines", "PING\nWHO\n", 5, 4),
	LINE_CASE("first line, then a partial one", "ECHO a\nEC", 7, 6),
	LINE_CASE("a '\\r' inside the line stays", "A\rB\n", 4, 3),
	LINE_CASE("only one '\\r' is dropped", "A\r\r\n", 4, 2),
	LINE_CASE("NUL bytes are data", "E\0CHO\n", 6, 5),
};

/*
 * When a buffer holds no line yet, the same bytes with a '\n' after them
 * must make one: a function that never finds a line earns nothing.
 */
static void expect_line_once_ended(const struct line_case *c)
{
	char buf[64];
	size_t line_len = 12345;
	size_t want =
		c->len > 0 && c->buf[c->len - 1] == '\r' ? c->len - 1 : c->len;

	assert_true(c->len < sizeof(buf));
	memcpy(buf, c->buf, c->len);
	buf[c->len] = '\n';
	size_t used = next_line_exact(buf, c->len + 1, &line_len);
	if (used != c->len + 1 || line_len != want)
		fail_msg("proto_next_line (%s, then a '\\n'): should return "
			 "%zu with *line_len %zu, but it returned %zu with "
			 "*line_len %zu",
			 c->name, c->len + 1, want, used, line_len);
}

static void test_next_line_row(void **state)
{
	const struct line_case *c = *state;
	size_t line_len = 12345;
	size_t used = next_line_exact(c->buf, c->len, &line_len);

	if (used != c->used)
		fail_msg("proto_next_line (%s): should return %zu, but it "
			 "returned %zu",
			 c->name, c->used, used);
	if (used == 0 && line_len != 12345)
		fail_msg("proto_next_line (%s): without a complete line it "
			 "must leave *line_len alone",
			 c->name);
	if (used > 0 && line_len != c->line_len)
		fail_msg("proto_next_line (%s): *line_len should be %zu, but "
			 "it was %zu",
			 c->name, c->line_len, line_len);
	if (c->used == 0)
		expect_line_once_ended(c);
}

/*
 * Every prefix of a buffer holding several requests: no line until the
 * first '\n' has arrived, then always the same first line.
 */
static void test_next_line_every_split(void **state)
{
	static const char data[] = "ECHO one two\r\nPING\n\nWHO\n";
	const size_t first_end = LIT_LEN("ECHO one two\r\n");
	(void)state;

	for (size_t k = 0; k <= LIT_LEN(data); k++) {
		size_t line_len = 0;
		size_t used = next_line_exact(data, k, &line_len);
		size_t want = k < first_end ? 0 : first_end;

		if (used != want)
			fail_msg("proto_next_line on the first %zu bytes of "
				 "\"ECHO one two\\r\\nPING\\n\\nWHO\\n\" "
				 "should return %zu, but it returned %zu",
				 k, want, used);
		if (used > 0 && line_len != LIT_LEN("ECHO one two"))
			fail_msg("proto_next_line: *line_len should be 12 "
				 "(\"ECHO one two\"), but it was %zu",
				 line_len);
	}
}

/* Walks a buffer of requests line by line, as a server does. */
static void test_next_line_walk(void **state)
{
	static const char data[] = "PING\nECHO a b\r\n\nWHO\nPART";
	static const size_t lens[] = {4, 8, 0, 3};
	size_t start = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t line_len = 0;
		size_t used = next_line_exact(data + start,
					      LIT_LEN(data) - start, &line_len);
		if (used == 0 || line_len != lens[i])
			fail_msg("walking \"PING\\nECHO a b\\r\\n\\nWHO\\nPART"
				 "\": line %zu should be %zu bytes long, but "
				 "proto_next_line returned %zu with "
				 "*line_len %zu",
				 i + 1, lens[i], used, line_len);
		start += used;
	}
	size_t line_len = 0;
	if (next_line_exact(data + start, LIT_LEN(data) - start, &line_len) !=
	    0)
		fail_msg("the unfinished \"PART\" at the end is not a line "
			 "yet: proto_next_line should return 0");
}

/* ---- parse ----------------------------------------------------------- */

struct parse_case {
	const char *line;
	size_t len;
	enum proto_command command;
	const char *arg; /* expected argument text (NULL: none) */
};

#define PARSE_CASE(lit, cmd, arg)                                              \
	{                                                                      \
		lit, LIT_LEN(lit), cmd, arg                                    \
	}

static const char *const command_names[] = {
	"PROTO_PING", "PROTO_ECHO", "PROTO_WHO", "PROTO_SEND", "PROTO_UNKNOWN"};

static const char *command_name(enum proto_command c)
{
	return (unsigned)c <= PROTO_UNKNOWN ? command_names[c] : "(not valid)";
}

static void check_parse(const struct parse_case *c)
{
	struct proto_request req;
	char line[SHOWN_MAX];
	char *copy = malloc(c->len > 0 ? c->len : 1);

	assert_non_null(copy);
	memcpy(copy, c->line, c->len);
	memset(&req, 0xA5, sizeof(req));
	proto_parse(copy, c->len, &req);
	shown(c->line, c->len, line, sizeof(line));
	if (req.command != c->command)
		fail_msg("proto_parse(\"%s\"): command should be %s, but it "
			 "was %s",
			 line, command_name(c->command),
			 command_name(req.command));
	if (c->arg != NULL) {
		size_t arg_len = strlen(c->arg);
		if (req.arg_len != arg_len ||
		    req.arg != copy + (c->len - arg_len))
			fail_msg("proto_parse(\"%s\"): the argument should be "
				 "\"%s\" (%zu bytes, the end of the line), "
				 "but arg_len was %zu",
				 line, c->arg, arg_len, req.arg_len);
		if (memcmp(req.arg, c->arg, arg_len) != 0)
			fail_msg("proto_parse(\"%s\"): wrong argument text",
				 line);
	}
	free(copy);
}

static const struct parse_case parse_cases[] = {
	PARSE_CASE("PING", PROTO_PING, NULL),
	PARSE_CASE("WHO", PROTO_WHO, NULL),
	PARSE_CASE("ECHO hello", PROTO_ECHO, "hello"),
	PARSE_CASE("ECHO hello world", PROTO_ECHO, "hello world"),
	PARSE_CASE("ECHO  two spaces", PROTO_ECHO, " two spaces"),
	PARSE_CASE("ECHO trailing ", PROTO_ECHO, "trailing "),
	PARSE_CASE("ECHO ", PROTO_ECHO, ""),
	PARSE_CASE("ECHO", PROTO_ECHO, ""),
	PARSE_CASE("ECHO PING", PROTO_ECHO, "PING"),
	PARSE_CASE("SEND /etc/hostname", PROTO_SEND, "/etc/hostname"),
	PARSE_CASE("SEND a file", PROTO_SEND, "a file"),
	PARSE_CASE("SEND", PROTO_SEND, ""),
	PARSE_CASE("", PROTO_UNKNOWN, NULL),
	PARSE_CASE("ping", PROTO_UNKNOWN, NULL),
	PARSE_CASE("Ping", PROTO_UNKNOWN, NULL),
	PARSE_CASE("PIN", PROTO_UNKNOWN, NULL),
	PARSE_CASE("PINGPONG", PROTO_UNKNOWN, NULL),
	PARSE_CASE("PING ", PROTO_UNKNOWN, NULL),
	PARSE_CASE(" PING", PROTO_UNKNOWN, NULL),
	PARSE_CASE("WHO am i", PROTO_UNKNOWN, NULL),
	PARSE_CASE("WHOAMI", PROTO_UNKNOWN, NULL),
	PARSE_CASE("ECHOES", PROTO_UNKNOWN, NULL),
	PARSE_CASE("echo hi", PROTO_UNKNOWN, NULL),
	PARSE_CASE("ECH", PROTO_UNKNOWN, NULL),
	PARSE_CASE("SENDS x", PROTO_UNKNOWN, NULL),
	PARSE_CASE("HELLO world", PROTO_UNKNOWN, NULL),
};

static void test_parse_row(void **state)
{
	static const struct parse_case ping =
		PARSE_CASE("PING", PROTO_PING, NULL);
	const struct parse_case *c = *state;

	check_parse(c);
	/* A parser that knows no command earns nothing for the rows it
	 * rejects. */
	if (c->command == PROTO_UNKNOWN)
		check_parse(&ping);
}

/* A line that is not NUL-terminated: the parser must use len, not strlen. */
static void test_parse_uses_length(void **state)
{
	static const char buf[] = "PINGXX";
	struct proto_request req;
	(void)state;

	proto_parse(buf, LIT_LEN("PING"), &req);
	if (req.command != PROTO_PING)
		fail_msg("proto_parse(\"PINGXX\", 4) should see \"PING\": "
			 "only the first len bytes are the line");
	proto_parse(buf, LIT_LEN("PIN"), &req);
	if (req.command != PROTO_UNKNOWN)
		fail_msg("proto_parse(\"PINGXX\", 3) should see \"PIN\", an "
			 "unknown command");
}

/* ---- format_who ------------------------------------------------------ */

struct who_case {
	long pid;
	unsigned long uid, gid;
	const char *want;
};

static const struct who_case who_cases[] = {
	{4242, 1000, 100, "pid=4242 uid=1000 gid=100\n"},
	{1, 0, 0, "pid=1 uid=0 gid=0\n"},
	/* The largest ids, in decimal and unsigned. */
	{2147483647, 4294967294ul, 4294967294ul,
	 "pid=2147483647 uid=4294967294 gid=4294967294\n"},
};

/*
 * Fails unless proto_format_who wrote want (and its NUL) and returned its
 * length; the message shows what was written as well as the return value.
 */
static void expect_who(const struct who_case *c, size_t outlen)
{
	char out[PROTO_REPLY_MAX];
	char want[SHOWN_MAX], got[SHOWN_MAX];

	assert_true(outlen <= sizeof(out));
	memset(out, 'X', sizeof(out));
	int n = proto_format_who((pid_t)c->pid, (uid_t)c->uid, (gid_t)c->gid,
				 out, outlen);
	const char *nul = memchr(out, '\0', outlen);
	size_t written = nul != NULL ? (size_t)(nul - out) : outlen;

	shown(c->want, strlen(c->want), want, sizeof(want));
	if (n < 0)
		fail_msg("proto_format_who(%ld, %lu, %lu) should write \"%s\" "
			 "and return %zu, but it returned %d (errno %s)",
			 c->pid, c->uid, c->gid, want, strlen(c->want), n,
			 strerror(errno));
	shown(out, written, got, sizeof(got));
	if (nul == NULL)
		fail_msg("proto_format_who(%ld, %lu, %lu) should write \"%s\" "
			 "and its NUL, but it wrote \"%s\" with no NUL in the "
			 "%zu bytes it was given",
			 c->pid, c->uid, c->gid, want, got, outlen);
	if ((size_t)n != strlen(c->want) || strcmp(out, c->want) != 0)
		fail_msg("proto_format_who(%ld, %lu, %lu) should write \"%s\" "
			 "and return %zu, but it wrote \"%s\" and returned %d",
			 c->pid, c->uid, c->gid, want, strlen(c->want), got, n);
}

static void test_format_who_row(void **state)
{
	expect_who(*state, PROTO_REPLY_MAX);
}

/* "pid=1 uid=0 gid=0\n" is 18 bytes; with its NUL it needs 19. */
static void test_format_who_exact_fit(void **state)
{
	(void)state;
	expect_who(&who_cases[1], 19);
}

static void test_format_who_one_short(void **state)
{
	char out[32];
	(void)state;

	errno = 0;
	int n = proto_format_who(1, 0, 0, out, 18);
	if (n != -1 || errno != ENOSPC)
		fail_msg("proto_format_who into 18 bytes (no room for the "
			 "NUL) should return -1 with errno ENOSPC, but it "
			 "returned %d with errno %s",
			 n, strerror(errno));
	/* A function that always fails earns nothing here. */
	expect_who(&who_cases[1], 19);
}

/* ---- make_addr ------------------------------------------------------- */

static void test_make_addr(void **state)
{
	struct sockaddr_un addr;
	socklen_t len = 0;
	(void)state;

	memset(&addr, 'X', sizeof(addr));
	if (proto_make_unix_addr("/tmp/lab03.sock", &addr, &len) != 0)
		fail_msg("proto_make_unix_addr(\"/tmp/lab03.sock\") should "
			 "return 0 (errno %s)",
			 strerror(errno));
	if (addr.sun_family != AF_UNIX)
		fail_msg("sun_family should be AF_UNIX (%d), but it was %d",
			 AF_UNIX, addr.sun_family);
	if (strcmp(addr.sun_path, "/tmp/lab03.sock") != 0)
		fail_msg("sun_path should hold \"/tmp/lab03.sock\" and its "
			 "NUL");
	size_t want = offsetof(struct sockaddr_un, sun_path) +
		      strlen("/tmp/lab03.sock") + 1;
	if (len != want)
		fail_msg("*len should be offsetof(struct sockaddr_un, "
			 "sun_path) + strlen(path) + 1 = %zu, but it was %u",
			 want, (unsigned)len);
}

static void test_make_addr_limits(void **state)
{
	struct sockaddr_un addr;
	socklen_t len = 0;
	char path[sizeof(addr.sun_path) + 1];
	(void)state;

	/* The longest path that fits: sun_path minus one byte for the NUL. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(addr.sun_path) - 1] = '\0';
	if (proto_make_unix_addr(path, &addr, &len) != 0)
		fail_msg("a path of %zu bytes fits in sun_path (%zu bytes "
			 "with the NUL): proto_make_unix_addr should return "
			 "0, but it failed with %s",
			 sizeof(addr.sun_path) - 1, sizeof(addr.sun_path),
			 strerror(errno));
	if (addr.sun_path[sizeof(addr.sun_path) - 1] != '\0')
		fail_msg("the longest path must still end with its NUL");

	path[sizeof(addr.sun_path) - 1] = 'a';
	path[sizeof(addr.sun_path)] = '\0';
	errno = 0;
	if (proto_make_unix_addr(path, &addr, &len) != -1 ||
	    errno != ENAMETOOLONG)
		fail_msg("a path of %zu bytes does not fit in sun_path with "
			 "its NUL: proto_make_unix_addr should return -1 with "
			 "errno ENAMETOOLONG (got errno %s)",
			 sizeof(addr.sun_path), strerror(errno));

	errno = 0;
	if (proto_make_unix_addr("", &addr, &len) != -1 || errno != EINVAL)
		fail_msg("an empty path should give -1 with errno EINVAL (got "
			 "errno %s)",
			 strerror(errno));
}

/* ---- groups ---------------------------------------------------------- */

static void add_next_line_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++)
		snprintf(add_case(list, test_next_line_row, &line_cases[i]),
			 CASE_NAME_MAX, "proto_next_line: %s",
			 line_cases[i].name);
	add_plain_case(list, "proto_next_line: every split point",
		       test_next_line_every_split);
	add_plain_case(list, "proto_next_line: walking a buffer",
		       test_next_line_walk);
}

static void add_parse_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		char line[CASE_NAME_MAX / 2];
		snprintf(add_case(list, test_parse_row, &parse_cases[i]),
			 CASE_NAME_MAX, "proto_parse(\"%s\")",
			 shown(parse_cases[i].line, parse_cases[i].len, line,
			       sizeof(line)));
	}
	add_plain_case(list, "proto_parse uses len, not strlen",
		       test_parse_uses_length);
}

static void add_format_who_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(who_cases) / sizeof(who_cases[0]); i++) {
		const struct who_case *c = &who_cases[i];
		snprintf(add_case(list, test_format_who_row, c), CASE_NAME_MAX,
			 "proto_format_who(%ld, %lu, %lu)", c->pid, c->uid,
			 c->gid);
	}
	add_plain_case(list, "proto_format_who into exactly 19 bytes",
		       test_format_who_exact_fit);
	add_plain_case(list, "proto_format_who into 18 bytes, one short",
		       test_format_who_one_short);
}

static void add_make_addr_cases(struct case_list *list)
{
	add_plain_case(list, "proto_make_unix_addr(\"/tmp/lab03.sock\")",
		       test_make_addr);
	add_plain_case(list,
		       "proto_make_unix_addr: the longest path, "
		       "one too long, empty",
		       test_make_addr_limits);
}

int main(int argc, char **argv)
{
	static const struct case_group groups[] = {
		{"next_line", add_next_line_cases},
		{"parse", add_parse_cases},
		{"format_who", add_format_who_cases},
		{"make_addr", add_make_addr_cases},
	};

	return run_case_groups(groups, sizeof(groups) / sizeof(groups[0]), argc,
			       argv);
}
