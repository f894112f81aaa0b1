/*
 * test_net.c - unit tests for the provided helpers in labs/common/net.c.
 *
 * send() is replaced at link time (-Wl,--wrap=send) by __wrap_send below,
 * which takes at most a few bytes per call and fails once with EINTR.
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
#include <unistd.h>

#include "net.h"

/* One net_parse_port input and what must come of it: a cmocka case each. */
struct port_case {
	const char *text;
	int ok; /* 1: success with port; 0: -1 with err */
	uint16_t port;
	int err;
};

static const struct port_case port_cases[] = {
	{"0", 1, 0, 0},		 {"65535", 1, 65535, 0},
	{"65536", 0, 0, ERANGE}, {"99999999999999999999999", 0, 0, ERANGE},
	{"", 0, 0, EINVAL},	 {"-1", 0, 0, EINVAL},
	{"+1", 0, 0, EINVAL},	 {" 1", 0, 0, EINVAL},
	{"1 ", 0, 0, EINVAL},	 {"x", 0, 0, EINVAL},
	{"0x10", 0, 0, EINVAL},
};

#define PORT_UNTOUCHED 7 /* *port must keep this when parsing fails */

static void test_parse_port_row(void **state)
{
	const struct port_case *c = *state;
	uint16_t port = PORT_UNTOUCHED;

	errno = 0;
	int rc = net_parse_port(c->text, &port);
	if (c->ok && (rc != 0 || port != c->port))
		fail_msg("net_parse_port(\"%s\") should return 0 and give %u, "
			 "but it returned %d and gave %u",
			 c->text, c->port, rc, port);
	if (!c->ok && (rc != -1 || errno != c->err || port != PORT_UNTOUCHED))
		fail_msg("net_parse_port(\"%s\") should return -1 with errno "
			 "%s and leave *port alone, but it returned %d, errno "
			 "%s, *port %u",
			 c->text, strerror(c->err), rc, strerror(errno), port);
}

static void test_make_and_format_addr(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	char text[NET_SOCKADDR_TEXT_MAX];

	assert_int_equal(net_make_addr("127.0.0.1", 8080, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(
		net_format_sockaddr((struct sockaddr *)&ss, text, sizeof(text)),
		0);
	assert_string_equal(text, "127.0.0.1:8080");

	assert_int_equal(net_make_addr("::1", 443, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(
		net_format_sockaddr((struct sockaddr *)&ss, text, sizeof(text)),
		0);
	assert_string_equal(text, "[::1]:443");

	errno = 0;
	assert_int_equal(net_format_sockaddr((struct sockaddr *)&ss, text, 9),
			 -1);
	assert_int_equal(errno, ENOSPC);

	errno = 0;
	assert_int_equal(net_make_addr("localhost", 1, &ss, &len), -1);
	assert_int_equal(errno, EINVAL);
}

/* Scripted send(): EINTR once, then at most 3 bytes per call. */
static struct {
	int calls;
	char sent[256];
	size_t sent_len;
} fake;

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	(void)fd;
	assert_true(flags & MSG_NOSIGNAL);
	if (fake.calls++ == 1) {
		errno = EINTR;
		return -1;
	}
	size_t n = len < 3 ? len : 3;
	assert_true(fake.sent_len + n <= sizeof(fake.sent));
	memcpy(fake.sent + fake.sent_len, buf, n);
	fake.sent_len += n;
	return (ssize_t)n;
}

static void test_send_all(void **state)
{
	(void)state;
	const char msg[] = "short sends and one EINTR";

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(net_send_all(99, msg, strlen(msg)), strlen(msg));
	assert_int_equal(fake.sent_len, strlen(msg));
	assert_memory_equal(fake.sent, msg, strlen(msg));
}

static void test_write_all_to_pipe(void **state)
{
	(void)state;
	int fds[2];
	char buf[64];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(net_write_all(fds[1], "abc\0def", 7), 7);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "abc\0def", 7);
	close(fds[0]);
	close(fds[1]);
}

static void test_listen_reports_failed_call(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *failed = NULL;

	/* 192.0.2.1 is a documentation address: no interface has it here. */
	assert_int_equal(net_make_addr("192.0.2.1", 0, &ss, &len), 0);
	errno = 0;
	assert_int_equal(net_listen(&ss, len, SOCK_STREAM, 4, &failed), -1);
	assert_string_equal(failed, "bind");
	assert_int_equal(errno, EADDRNOTAVAIL);

	assert_int_equal(net_make_addr("127.0.0.1", 0, &ss, &len), 0);
	int fd = net_listen(&ss, len, SOCK_STREAM, 4, &failed);
	assert_true(fd >= 0);
	close(fd);
}

/* A UDP port is not shared: SO_REUSEADDR would let a second server take it. */
static void test_listen_dgram_port_is_exclusive(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *failed = NULL;

	assert_int_equal(net_make_addr("127.0.0.1", 0, &ss, &len), 0);
	int first = net_listen(&ss, len, SOCK_DGRAM, 0, &failed);
	assert_true(first >= 0);
	/* The same address with the port the kernel chose for the first. */
	assert_int_equal(getsockname(first, (struct sockaddr *)&ss, &len), 0);
	errno = 0;
	assert_int_equal(net_listen(&ss, len, SOCK_DGRAM, 0, &failed), -1);
	assert_string_equal(failed, "bind");
	assert_int_equal(errno, EADDRINUSE);
	close(first);
}

#define PORT_CASES (sizeof(port_cases) / sizeof(port_cases[0]))
#define CASE_NAME_MAX 64

int main(void)
{
	static const struct CMUnitTest others[] = {
		cmocka_unit_test(test_make_and_format_addr),
		cmocka_unit_test(test_send_all),
		cmocka_unit_test(test_write_all_to_pipe),
		cmocka_unit_test(test_listen_reports_failed_call),
		cmocka_unit_test(test_listen_dgram_port_is_exclusive),
	};
	/* Each row of the port table is a case of its own, named after it. */
	static struct CMUnitTest
		tests[PORT_CASES + sizeof(others) / sizeof(others[0])];
	static char names[PORT_CASES][CASE_NAME_MAX];
	size_t count = 0;

	for (size_t i = 0; i < PORT_CASES; i++, count++) {
		snprintf(names[i], sizeof(names[i]), "net_parse_port(\"%s\")",
			 port_cases[i].text);
		tests[count] = (struct CMUnitTest){
			.name = names[i],
			.test_func = test_parse_port_row,
			.initial_state = (void *)&port_cases[i],
		};
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		tests[count++] = others[i];
	return _cmocka_run_group_tests("net", tests, count, NULL, NULL);
}
