/*
 * test_net.c - unit tests for the provided helpers in labs/common/net.c.
 *
 * send() is replaced at link time (-Wl,--wrap=send) by __wrap_send below,
 * which takes at most a few bytes per call and fails once with EINTR.
 */
#define _POSIX_C_SOURCE 200809L /* sigprocmask, getaddrinfo's codes */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

/* The longest a test waits for something that should come at once. */
#define WAIT_LIMIT_MS 2000

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

/*
 * The flags socket(2) takes with the type are passed on, and do not stop
 * a stream socket from listening or a datagram port from being exclusive.
 */
static void test_listen_with_socket_flags(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *failed = NULL;
	int accepting = 0;
	socklen_t optlen = sizeof(accepting);

	assert_int_equal(net_make_addr("127.0.0.1", 0, &ss, &len), 0);
	int fd =
		net_listen(&ss, len, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			   4, &failed);
	assert_true(fd >= 0);
	assert_int_equal(
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen),
		0);
	assert_int_equal(accepting, 1);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);

	int first = net_listen(&ss, len, SOCK_DGRAM | SOCK_CLOEXEC, 0, &failed);
	assert_true(first >= 0);
	assert_int_equal(getsockname(first, (struct sockaddr *)&ss, &len), 0);
	errno = 0;
	assert_int_equal(
		net_listen(&ss, len, SOCK_DGRAM | SOCK_CLOEXEC, 0, &failed),
		-1);
	assert_int_equal(errno, EADDRINUSE);
	close(first);
}

static void test_connect(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *failed = NULL;
	char port[NET_PORT_TEXT_MAX + 1];
	int gai_error = -1;

	assert_int_equal(net_make_addr("127.0.0.1", 0, &ss, &len), 0);
	int listener = net_listen(&ss, len, SOCK_STREAM, 4, &failed);
	assert_true(listener >= 0);
	assert_int_equal(getsockname(listener, (struct sockaddr *)&ss, &len),
			 0);
	snprintf(port, sizeof(port), "%u",
		 (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
	int fd = net_connect("127.0.0.1", port, SOCK_STREAM, &gai_error);
	assert_true(fd >= 0);
	assert_int_equal(gai_error, 0);
	close(fd);
	close(listener); /* nobody listens on that port any more */
	errno = 0;
	assert_int_equal(
		net_connect("127.0.0.1", port, SOCK_STREAM, &gai_error), -1);
	assert_int_equal(gai_error, 0);
	assert_int_equal(errno, ECONNREFUSED);
	/* A port that is not a number does not resolve (AI_NUMERICSERV). */
	assert_int_equal(
		net_connect("127.0.0.1", "echo", SOCK_STREAM, &gai_error), -1);
	assert_int_equal(gai_error, EAI_NONAME);
}

/*
 * A stop signal raised while the program runs stays pending, and is let
 * in (setting the flag) only by a wait with the wait mask.
 */
static void test_block_stop_signals_and_wait(void **state)
{
	(void)state;
	static volatile sig_atomic_t stop;
	sigset_t wait_mask, before, term;
	int fds[2];

	/* Blocked already, as a parent may leave it: the wait lets it in. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &before), 0);
	assert_int_equal(net_block_stop_signals(&stop, &wait_mask), 0);
	assert_false(sigismember(&wait_mask, SIGTERM));
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(stop, 0);

	assert_int_equal(pipe(fds), 0);
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	errno = 0;
	assert_int_equal(net_wait(&pfd, 1, WAIT_LIMIT_MS, &wait_mask), -1);
	assert_int_equal(errno, EINTR);
	assert_int_equal(stop, 1);

	long long start = net_now_ms();
	assert_int_equal(net_wait(&pfd, 1, 50, &wait_mask), 0);
	assert_true(net_now_ms() - start >= 50);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(net_wait(&pfd, 1, WAIT_LIMIT_MS, &wait_mask), 1);
	assert_true(pfd.revents & POLLIN);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(sigprocmask(SIG_SETMASK, &before, NULL), 0);
}

static void test_accept_error_is_transient(void **state)
{
	(void)state;
	const int transient[] = {EINTR, ECONNABORTED, EPROTO, ENETUNREACH};
	const int fatal[] = {EBADF, EINVAL, ENOTSOCK, EMFILE, ENOMEM};

	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		assert_true(net_accept_error_is_transient(transient[i]));
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		assert_false(net_accept_error_is_transient(fatal[i]));
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
		cmocka_unit_test(test_listen_with_socket_flags),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_block_stop_signals_and_wait),
		cmocka_unit_test(test_accept_error_is_transient),
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
