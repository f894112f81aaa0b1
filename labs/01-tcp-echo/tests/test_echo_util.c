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
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

static void test_parse_port_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(port_cases) / sizeof(port_cases[0]);
	     i++) {
		const struct port_case *c = &port_cases[i];
		uint16_t port = 4242; /* must stay untouched on failure */

		errno = 0;
		int rc = parse_port(c->text, &port);
		if (c->ok) {
			if (rc != 0 || port != c->port)
				fail_msg("parse_port(\"%s\") should return 0 "
					 "and give %u, "
					 "but it returned %d and gave %u",
					 c->text, c->port, rc, port);
		} else {
			if (rc != -1 || errno != c->err || port != 4242)
				fail_msg("parse_port(\"%s\") should return -1 "
					 "with errno %s "
					 "and leave *port alone, but it "
					 "returned %d, errno %s, "
					 "*port %u",
					 c->text, strerror(c->err), rc,
					 strerror(errno), port);
		}
	}
}

static void test_parse_port_null(void **state)
{
	(void)state;
	uint16_t port = 4242;

	errno = 0;
	expect_failure("parse_port(NULL)", parse_port(NULL, &port), EINVAL);
	if (port != 4242)
		fail_msg("parse_port(NULL) changed *port; it must leave it "
			 "alone");
}

/* ---- format_sockaddr ------------------------------------------------- */

static void expect_text(const struct sockaddr *sa, size_t outlen,
			const char *expected)
{
	char out[SOCKADDR_TEXT_MAX + 8];

	assert_true(outlen <= sizeof(out));
	memset(out, 'X', sizeof(out));
	int rc = format_sockaddr(sa, out, outlen);
	if (rc != 0)
		fail_msg("format_sockaddr should give \"%s\" but returned %d "
			 "(errno %s)",
			 expected, rc, strerror(errno));
	if (memchr(out, '\0', outlen) == NULL)
		fail_msg("format_sockaddr should give \"%s\" but its text has "
			 "no "
			 "terminating NUL within %zu bytes",
			 expected, outlen);
	if (strcmp(out, expected) != 0)
		fail_msg("format_sockaddr should give \"%s\" but gave \"%s\"",
			 expected, out);
}

static struct sockaddr_in ipv4(const char *addr, uint16_t port)
{
	struct sockaddr_in in4;

	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, addr, &in4.sin_addr), 1);
	return in4;
}

static struct sockaddr_in6 ipv6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 in6;

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	return in6;
}

static void test_format_ipv4(void **state)
{
	(void)state;
	struct sockaddr_in a = ipv4("127.0.0.1", 5000);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX, "127.0.0.1:5000");

	/* 8080 is 0x1f90: a missing ntohs() shows up as 36895. */
	a = ipv4("192.0.2.7", 8080);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX, "192.0.2.7:8080");

	a = ipv4("0.0.0.0", 0);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX, "0.0.0.0:0");

	a = ipv4("255.255.255.255", 65535);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX,
		    "255.255.255.255:65535");
}

static void test_format_ipv6(void **state)
{
	(void)state;
	struct sockaddr_in6 a = ipv6("::1", 443);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX, "[::1]:443");

	a = ipv6("2001:db8::17", 8080);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX,
		    "[2001:db8::17]:8080");

	/* A long address and the largest port still fit. */
	a = ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	expect_text((struct sockaddr *)&a, SOCKADDR_TEXT_MAX,
		    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void test_format_exact_fit(void **state)
{
	(void)state;
	struct sockaddr_in a = ipv4("192.0.2.1", 80);
	/* "192.0.2.1:80" is 12 characters: 13 bytes with the NUL. */
	expect_text((struct sockaddr *)&a, 13, "192.0.2.1:80");
}

static void test_format_too_small(void **state)
{
	(void)state;
	struct sockaddr_in a = ipv4("192.0.2.1", 80);
	char out[12]; /* one byte short */

	errno = 0;
	expect_failure("format_sockaddr(192.0.2.1:80) into 12 bytes",
		       format_sockaddr((struct sockaddr *)&a, out, sizeof(out)),
		       ENOSPC);
}

static void test_format_unknown_family(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	char out[SOCKADDR_TEXT_MAX];

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	errno = 0;
	expect_failure(
		"format_sockaddr of an AF_UNIX address",
		format_sockaddr((struct sockaddr *)&ss, out, sizeof(out)),
		EAFNOSUPPORT);
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
	if (fake.sent_len != len || memcmp(fake.sent, msg, len) != 0)
		fail_msg(
			"the peer should have received the %zu bytes in order, "
			"but got %zu bytes: \"%.*s\"",
			len, fake.sent_len, (int)fake.sent_len,
			(const char *)fake.sent);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest parse_port_tests[] = {
		cmocka_unit_test(test_parse_port_table),
		cmocka_unit_test(test_parse_port_null),
	};
	const struct CMUnitTest format_tests[] = {
		cmocka_unit_test(test_format_ipv4),
		cmocka_unit_test(test_format_ipv6),
		cmocka_unit_test(test_format_exact_fit),
		cmocka_unit_test(test_format_too_small),
		cmocka_unit_test(test_format_unknown_family),
	};
	const struct CMUnitTest send_all_tests[] = {
		cmocka_unit_test(test_send_all_one_call),
		cmocka_unit_test(test_send_all_short_sends),
		cmocka_unit_test(test_send_all_retries_eintr),
		cmocka_unit_test(test_send_all_binary),
		cmocka_unit_test(test_send_all_reports_error),
		cmocka_unit_test(test_send_all_nothing),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	if (only != NULL && strcmp(only, "parse_port") != 0 &&
	    strcmp(only, "format_sockaddr") != 0 &&
	    strcmp(only, "send_all") != 0) {
		fprintf(stderr,
			"usage: %s [parse_port|format_sockaddr|send_all]\n",
			argv[0]);
		return 2;
	}

	if (only == NULL || strcmp(only, "parse_port") == 0)
		failed += cmocka_run_group_tests_name(
			"parse_port", parse_port_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "format_sockaddr") == 0)
		failed += cmocka_run_group_tests_name("format_sockaddr",
						      format_tests, NULL, NULL);
	if (only == NULL || strcmp(only, "send_all") == 0)
		failed += cmocka_run_group_tests_name(
			"send_all", send_all_tests, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
