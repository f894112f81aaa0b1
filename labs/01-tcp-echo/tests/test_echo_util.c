/*
 * test_echo_util.c - unit tests for echo_util.c (lab 01).
 *
 * Run all groups:   build/lab01/tests/test_echo_util
 * Run one group:    build/lab01/tests/test_echo_util send_all
 *
 * send() is replaced at link time (-Wl,--wrap=send): the code under test
 * calls __wrap_send below, which follows a script of short sends, EINTR
 * and errors, so send_all's loop can be checked without a real socket.
 */
#include "unit_cases.h" /* cmocka, and groups of table-driven cases */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "echo_util.h"

/* Fails with a sentence unless a call returned -1 with errno `err`. */
static void expect_failure(const char *call, long rc, int err)
{
	if (rc != -1 || errno != err)
		fail_msg("%s should return -1 with errno %s, but it returned "
			 "%ld "
			 "with errno %s",
			 call, strerror(err), rc, strerror(errno));
}

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

	for (size_t i = 0; i < len; i++) {
		char piece[8];
		if (p[i] == '\n')
			snprintf(piece, sizeof(piece), "\\n");
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
	if (used == 0 && outlen > 0)
		out[0] = '\0';
	return out;
}

/* ---- parse_port ------------------------------------------------------ */

struct port_case {
	const char *text;
	int ok; /* 1: expect success with `port`; 0: expect -1 */
	uint16_t port;
	int err; /* expected errno when ok == 0 */
};

static const struct port_case port_cases[] = {
	{"0", 1, 0, 0},
	{"1", 1, 1, 0},
	{"80", 1, 80, 0},
	{"8080", 1, 8080, 0},
	{"65535", 1, 65535, 0},
	{"00080", 1, 80, 0},
	{"65536", 0, 0, ERANGE},
	{"99999", 0, 0, ERANGE},
	{"123456789012345678901234567890", 0, 0, ERANGE},
	{"", 0, 0, EINVAL},
	{"-1", 0, 0, EINVAL},
	{"+80", 0, 0, EINVAL},
	{" 80", 0, 0, EINVAL},
	{"80 ", 0, 0, EINVAL},
	{"80x", 0, 0, EINVAL},
	{"abc", 0, 0, EINVAL},
	{"0x50", 0, 0, EINVAL},
	{"8.0", 0, 0, EINVAL},
};

#define PORT_UNTOUCHED 4242 /* *port must keep this when parsing fails */

static void expect_port(const char *text, uint16_t want)
{
	uint16_t port = PORT_UNTOUCHED;

	errno = 0;
	int rc = parse_port(text, &port);
	if (rc != 0 || port != want)
		fail_msg("parse_port(\"%s\") should return 0 and give %u, but "
			 "it returned %d and gave %u",
			 text, want, rc, port);
}

static void test_parse_port_row(void **state)
{
	const struct port_case *c = *state;
	uint16_t port = PORT_UNTOUCHED;

	if (c->ok) {
		expect_port(c->text, c->port);
		return;
	}
	errno = 0;
	int rc = parse_port(c->text, &port);
	if (rc != -1 || errno != c->err || port != PORT_UNTOUCHED)
		fail_msg("parse_port(\"%s\") should return -1 with errno %s "
			 "and leave *port alone, but it returned %d, errno %s, "
			 "*port %u",
			 c->text, strerror(c->err), rc, strerror(errno), port);
	/* A function that rejects everything earns nothing here. */
	expect_port("80", 80);
}

static void test_parse_port_null(void **state)
{
	(void)state;
	uint16_t port = PORT_UNTOUCHED;

	errno = 0;
	expect_failure("parse_port(NULL)", parse_port(NULL, &port), EINVAL);
	if (port != PORT_UNTOUCHED)
		fail_msg("parse_port(NULL) changed *port; it must leave it "
			 "alone");
	expect_port("80", 80);
}

static void add_parse_port_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(port_cases) / sizeof(port_cases[0]);
	     i++) {
		char text[CASE_NAME_MAX / 2];
		snprintf(add_case(list, test_parse_port_row, &port_cases[i]),
			 CASE_NAME_MAX, "parse_port(\"%s\")",
			 shown(port_cases[i].text, strlen(port_cases[i].text),
			       text, sizeof(text)));
	}
	snprintf(add_case(list, test_parse_port_null, NULL), CASE_NAME_MAX,
		 "parse_port(NULL)");
}

/* ---- format_sockaddr ------------------------------------------------- */

struct format_case {
	int family;	  /* AF_INET, AF_INET6, or another family */
	const char *addr; /* address literal (unused for other families) */
	uint16_t port;
	size_t outlen;	      /* the room given to format_sockaddr */
	const char *expected; /* the text, or NULL when it must fail */
	int err;	      /* errno when it must fail */
	const char *note; /* why the row is there (the call, for a failure) */
};

static const struct format_case format_cases[] = {
	{AF_INET, "127.0.0.1", 5000, SOCKADDR_TEXT_MAX, "127.0.0.1:5000", 0,
	 "IPv4"},
	/* 8080 is 0x1f90: a missing ntohs() shows up as 36895. */
	{AF_INET, "192.0.2.7", 8080, SOCKADDR_TEXT_MAX, "192.0.2.7:8080", 0,
	 "port byte order"},
	{AF_INET, "0.0.0.0", 0, SOCKADDR_TEXT_MAX, "0.0.0.0:0", 0, "zeros"},
	{AF_INET, "255.255.255.255", 65535, SOCKADDR_TEXT_MAX,
	 "255.255.255.255:65535", 0, "largest"},
	{AF_INET6, "::1", 443, SOCKADDR_TEXT_MAX, "[::1]:443", 0,
	 "IPv6 in brackets"},
	{AF_INET6, "2001:db8::17", 8080, SOCKADDR_TEXT_MAX,
	 "[2001:db8::17]:8080", 0, "IPv6 port byte order"},
	{AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	 SOCKADDR_TEXT_MAX, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	 0, "the longest text"},
	/* "192.0.2.1:80" is 12 characters: 13 bytes with the NUL. */
	{AF_INET, "192.0.2.1", 80, 13, "192.0.2.1:80", 0,
	 "exactly 13 bytes of room"},
	{AF_INET, "192.0.2.1", 80, 12, NULL, ENOSPC,
	 "format_sockaddr(192.0.2.1:80) into 12 bytes, one short"},
	{AF_UNIX, NULL, 0, SOCKADDR_TEXT_MAX, NULL, EAFNOSUPPORT,
	 "format_sockaddr of an AF_UNIX address"},
};

/* Fills *ss with the row's address. */
static void make_address(const struct format_case *c,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)c->family;
	if (c->family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
		in4->sin_port = htons(c->port);
		assert_int_equal(inet_pton(AF_INET, c->addr, &in4->sin_addr),
				 1);
	} else if (c->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_port = htons(c->port);
		assert_int_equal(inet_pton(AF_INET6, c->addr, &in6->sin6_addr),
				 1);
	}
}

static void expect_text(const struct sockaddr *sa, size_t outlen,
			const char *expected)
{
	char out[SOCKADDR_TEXT_MAX + 8];
	char text[sizeof(out) * 4];

	assert_true(outlen <= sizeof(out));
	memset(out, 'X', sizeof(out));
	errno = 0;
	int rc = format_sockaddr(sa, out, outlen);
	if (rc != 0)
		fail_msg("format_sockaddr should give \"%s\" but returned %d "
			 "(errno %s)",
			 expected, rc, strerror(errno));
	if (memchr(out, '\0', outlen) == NULL)
		fail_msg("format_sockaddr should give \"%s\" but its text has "
			 "no terminating NUL within %zu bytes: \"%s\"",
			 expected, outlen,
			 shown(out, outlen, text, sizeof(text)));
	if (strcmp(out, expected) != 0)
		fail_msg("format_sockaddr should give \"%s\" but gave \"%s\"",
			 expected, shown(out, strlen(out), text, sizeof(text)));
}

/* 127.0.0.1:80 must format: checked beside each row that must fail. */
static void expect_loopback_text(void)
{
	struct sockaddr_in in4;

	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(80);
	in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	expect_text((struct sockaddr *)&in4, SOCKADDR_TEXT_MAX, "127.0.0.1:80");
}

static void test_format_row(void **state)
{
	const struct format_case *c = *state;
	struct sockaddr_storage ss;
	char out[SOCKADDR_TEXT_MAX];

	make_address(c, &ss);
	if (c->expected != NULL) {
		expect_text((struct sockaddr *)&ss, c->outlen, c->expected);
		return;
	}
	errno = 0;
	expect_failure(c->note,
		       format_sockaddr((struct sockaddr *)&ss, out, c->outlen),
		       c->err);
	/* A function that fails on everything earns nothing here. */
	expect_loopback_text();
}

static void add_format_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]);
	     i++) {
		const struct format_case *c = &format_cases[i];
		char *name = add_case(list, test_format_row, c);
		if (c->expected == NULL)
			snprintf(name, CASE_NAME_MAX, "%s", c->note);
		else
			snprintf(name, CASE_NAME_MAX,
				 c->family == AF_INET6
					 ? "format_sockaddr([%s]:%u), %s"
					 : "format_sockaddr(%s:%u), %s",
				 c->addr, c->port, c->note);
	}
}

/* ---- send_all, with a scripted send() -------------------------------- */

#define FAKE_FD 1000
#define MAX_STEPS 16
#define CAPTURE_MAX 4096

/* One scripted send() call: accept up to `take` bytes, or fail with err. */
struct send_step {
	size_t take;
	int err;
};

static struct {
	struct send_step steps[MAX_STEPS];
	size_t nsteps;
	size_t calls;
	unsigned char sent[CAPTURE_MAX];
	size_t sent_len;
	int bad_fd;
	int missing_nosignal;
} fake;

static void fake_reset(const struct send_step *steps, size_t n)
{
	memset(&fake, 0, sizeof(fake));
	memcpy(fake.steps, steps, n * sizeof(steps[0]));
	fake.nsteps = n;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	if (fd != FAKE_FD)
		fake.bad_fd = 1;
	if (!(flags & MSG_NOSIGNAL))
		fake.missing_nosignal = 1;
	if (fake.calls >= fake.nsteps || fake.calls >= MAX_STEPS)
		fail_msg("send() was called %zu times; the test only expected "
			 "%zu "
			 "(is the loop sending bytes twice, or not stopping?)",
			 fake.calls + 1, fake.nsteps);
	struct send_step step = fake.steps[fake.calls++];
	if (step.err != 0) {
		errno = step.err;
		return -1;
	}
	size_t n = len < step.take ? len : step.take;
	if (fake.sent_len + n > CAPTURE_MAX)
		fail_msg("more bytes were sent than the test gave send_all");
	memcpy(fake.sent + fake.sent_len, buf, n);
	fake.sent_len += n;
	return (ssize_t)n;
}

static void check_delivered(const char *msg, size_t len, ssize_t rc)
{
	if (fake.calls == 0)
		fail_msg("send_all never called send(); it must send with "
			 "send(2)");
	if (rc != (ssize_t)len)
		fail_msg("send_all should return %zu (all bytes sent) but "
			 "returned "
			 "%zd (errno %s)",
			 len, rc, strerror(errno));
	if (fake.sent_len != len || memcmp(fake.sent, msg, len) != 0) {
		char want[SHOWN_MAX], got[SHOWN_MAX];
		fail_msg("the peer should have received the %zu bytes "
			 "\"%s\" in order, but got %zu bytes: \"%s\"",
			 len, shown(msg, len, want, sizeof(want)),
			 fake.sent_len,
			 shown(fake.sent, fake.sent_len, got, sizeof(got)));
	}
	if (fake.bad_fd)
		fail_msg("send() was called with a different descriptor than "
			 "the one given to send_all");
	if (fake.missing_nosignal)
		fail_msg("send() was called without MSG_NOSIGNAL");
}

static void test_send_all_one_call(void **state)
{
	(void)state;
	const char msg[] = "hello, world\n";
	const struct send_step steps[] = {{1000, 0}};

	fake_reset(steps, 1);
	check_delivered(msg, strlen(msg), send_all(FAKE_FD, msg, strlen(msg)));
	if (fake.calls != 1)
		fail_msg("send() took the whole message at once, so send_all "
			 "should call it once, not %zu times",
			 fake.calls);
}

static void test_send_all_short_sends(void **state)
{
	(void)state;
	const char msg[] = "a message the kernel takes in small pieces";
	const struct send_step steps[] = {
		{1, 0},
		{5, 0},
		{2, 0},
		{1000, 0},
	};

	fake_reset(steps, 4);
	check_delivered(msg, strlen(msg), send_all(FAKE_FD, msg, strlen(msg)));
}

static void test_send_all_retries_eintr(void **state)
{
	(void)state;
	const char msg[] = "interrupted twice";
	const struct send_step steps[] = {
		{0, EINTR},
		{3, 0},
		{0, EINTR},
		{1000, 0},
	};

	fake_reset(steps, 4);
	check_delivered(msg, strlen(msg), send_all(FAKE_FD, msg, strlen(msg)));
}

static void test_send_all_binary(void **state)
{
	(void)state;
	unsigned char msg[256];
	const struct send_step steps[] = {{100, 0}, {100, 0}, {100, 0}};

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i; /* includes NUL bytes */
	fake_reset(steps, 3);
	check_delivered((const char *)msg, sizeof(msg),
			send_all(FAKE_FD, msg, sizeof(msg)));
}

static void test_send_all_reports_error(void **state)
{
	(void)state;
	const char msg[] = "the peer goes away";
	const struct send_step steps[] = {{4, 0}, {0, ECONNRESET}};

	fake_reset(steps, 2);
	errno = 0;
	expect_failure("send_all, when send() fails with ECONNRESET,",
		       send_all(FAKE_FD, msg, strlen(msg)), ECONNRESET);
}

static void test_send_all_nothing(void **state)
{
	(void)state;
	const struct send_step steps[] = {{0, EBADF}};

	fake_reset(steps, 1);
	ssize_t rc = send_all(FAKE_FD, "", 0);
	if (rc != 0)
		fail_msg("send_all of 0 bytes should return 0 without sending, "
			 "but it returned %zd (errno %s)",
			 rc, strerror(errno));
}

/* ---- groups ---------------------------------------------------------- */

static void add_send_all_cases(struct case_list *list)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} cases[] = {
		{"send_all: one send() takes it all", test_send_all_one_call},
		{"send_all: short sends", test_send_all_short_sends},
		{"send_all: EINTR is retried", test_send_all_retries_eintr},
		{"send_all: binary data, NUL bytes included",
		 test_send_all_binary},
		{"send_all: an error is reported", test_send_all_reports_error},
		{"send_all: 0 bytes", test_send_all_nothing},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		add_plain_case(list, cases[i].name, cases[i].fn);
}

int main(int argc, char **argv)
{
	static const struct case_group groups[] = {
		{"parse_port", add_parse_port_cases},
		{"format_sockaddr", add_format_cases},
		{"send_all", add_send_all_cases},
	};

	return run_case_groups(groups, sizeof(groups) / sizeof(groups[0]), argc,
			       argv);
}
