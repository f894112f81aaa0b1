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

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unix_proto.h"

/* Bytes in a string literal, without its NUL (the literal may hold NULs). */
#define LIT_LEN(s) (sizeof(s) - 1)

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

static void test_next_line_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]);
	     i++) {
		const struct line_case *c = &line_cases[i];
		size_t line_len = 12345;
		size_t used = next_line_exact(c->buf, c->len, &line_len);

		if (used != c->used)
			fail_msg("proto_next_line (%s): should return %zu, "
				 "but it returned %zu",
				 c->name, c->used, used);
		if (used == 0 && line_len != 12345)
			fail_msg("proto_next_line (%s): without a complete "
				 "line it must leave *line_len alone",
				 c->name);
		if (used > 0 && line_len != c->line_len)
			fail_msg("proto_next_line (%s): *line_len should be "
				 "%zu, but it was %zu",
				 c->name, c->line_len, line_len);
	}
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
	char *copy = malloc(c->len > 0 ? c->len : 1);

	assert_non_null(copy);
	memcpy(copy, c->line, c->len);
	memset(&req, 0xA5, sizeof(req));
	proto_parse(copy, c->len, &req);
	if (req.command != c->command)
		fail_msg("proto_parse(\"%s\"): command should be %s, but it "
			 "was %s",
			 c->line, command_name(c->command),
			 command_name(req.command));
	if (c->arg != NULL) {
		size_t arg_len = strlen(c->arg);
		if (req.arg_len != arg_len ||
		    req.arg != copy + (c->len - arg_len))
			fail_msg("proto_parse(\"%s\"): the argument should be "
				 "\"%s\" (%zu bytes, the end of the line), "
				 "but arg_len was %zu",
				 c->line, c->arg, arg_len, req.arg_len);
		if (memcmp(req.arg, c->arg, arg_len) != 0)
			fail_msg("proto_parse(\"%s\"): wrong argument text",
				 c->line);
	}
	free(copy);
}

static void test_parse_commands(void **state)
{
	static const struct parse_case cases[] = {
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
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_parse(&cases[i]);
}

static void test_parse_unknown(void **state)
{
	static const struct parse_case cases[] = {
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
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_parse(&cases[i]);
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

static void test_format_who(void **state)
{
	char out[PROTO_REPLY_MAX];
	(void)state;

	memset(out, 'X', sizeof(out));
	int n = proto_format_who(4242, 1000, 100, out, sizeof(out));
	const char *want = "pid=4242 uid=1000 gid=100\n";
	if (n != (int)strlen(want) || strcmp(out, want) != 0)
		fail_msg("proto_format_who(4242, 1000, 100) should write "
			 "\"pid=4242 uid=1000 gid=100\\n\" and return %zu, but "
			 "it returned %d",
			 strlen(want), n);
	n = proto_format_who(1, 0, 0, out, sizeof(out));
	if (n < 0 || strcmp(out, "pid=1 uid=0 gid=0\n") != 0)
		fail_msg("proto_format_who(1, 0, 0) should write "
			 "\"pid=1 uid=0 gid=0\\n\"");
	n = proto_format_who(2147483647, 4294967294u, 4294967294u, out,
			     sizeof(out));
	if (n < 0 ||
	    strcmp(out, "pid=2147483647 uid=4294967294 gid=4294967294\n") != 0)
		fail_msg("proto_format_who with the largest ids should print "
			 "them in decimal, unsigned: "
			 "\"pid=2147483647 uid=4294967294 gid=4294967294\\n\"");
}

static void test_format_who_small_buffer(void **state)
{
	/* "pid=1 uid=0 gid=0\n" is 18 bytes; with its NUL it needs 19. */
	char out[32];
	(void)state;

	errno = 0;
	int n = proto_format_who(1, 0, 0, out, 19);
	if (n != 18)
		fail_msg("proto_format_who into exactly 19 bytes should fit "
			 "and return 18, but it returned %d",
			 n);
	errno = 0;
	n = proto_format_who(1, 0, 0, out, 18);
	if (n != -1 || errno != ENOSPC)
		fail_msg("proto_format_who into 18 bytes (no room for the "
			 "NUL) should return -1 with errno ENOSPC, but it "
			 "returned %d with errno %s",
			 n, strerror(errno));
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

int main(int argc, char **argv)
{
	const struct CMUnitTest next_line_tests[] = {
		cmocka_unit_test(test_next_line_table),
		cmocka_unit_test(test_next_line_every_split),
		cmocka_unit_test(test_next_line_walk),
	};
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_parse_commands),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_parse_uses_length),
	};
	const struct CMUnitTest format_who_tests[] = {
		cmocka_unit_test(test_format_who),
		cmocka_unit_test(test_format_who_small_buffer),
	};
	const struct CMUnitTest make_addr_tests[] = {
		cmocka_unit_test(test_make_addr),
		cmocka_unit_test(test_make_addr_limits),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	if (only != NULL && strcmp(only, "next_line") != 0 &&
	    strcmp(only, "parse") != 0 && strcmp(only, "format_who") != 0 &&
	    strcmp(only, "make_addr") != 0) {
		fprintf(stderr,
			"usage: %s [next_line|parse|format_who|make_addr]\n",
			argv[0]);
		return 2;
	}
	if (only == NULL || strcmp(only, "next_line") == 0)
		failed += cmocka_run_group_tests_name(
			"next_line", next_line_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "parse") == 0)
		failed += cmocka_run_group_tests_name("parse", parse_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "format_who") == 0)
		failed += cmocka_run_group_tests_name(
			"format_who", format_who_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "make_addr") == 0)
		failed += cmocka_run_group_tests_name(
			"make_addr", make_addr_tests, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
