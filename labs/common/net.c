/*
 * net.c - provided helpers for labs 02 to 06. Contracts are in net.h.
 */
#define _GNU_SOURCE /* ppoll */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT_MAX 65535

int net_parse_port(const char *text, uint16_t *port)
{
	unsigned long value = 0;

	if (text == NULL || *text == '\0') {
		errno = EINVAL;
		return -1;
	}
	/* Digit by digit: strtoul would accept spaces and a sign. */
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			errno = EINVAL;
			return -1;
		}
		value = value * 10 + (unsigned long)(*p - '0');
		if (value > PORT_MAX) {
			errno = ERANGE;
			return -1;
		}
	}
	*port = (uint16_t)value;
	return 0;
}

int net_format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	const void *addr;
	in_port_t port_be;
	int is_v6 = sa->sa_family == AF_INET6;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		addr = &in4->sin_addr;
		port_be = in4->sin_port;
	} else if (is_v6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		addr = &in6->sin6_addr;
		port_be = in6->sin6_port;
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(sa->sa_family, addr, host, sizeof(host)) == NULL)
		return -1;
	int n = snprintf(out, outlen, is_v6 ? "[%s]:%u" : "%s:%u", host,
			 (unsigned)ntohs(port_be));
	if (n < 0)
		return -1;
	if ((size_t)n >= outlen) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

int net_make_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

ssize_t net_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

ssize_t net_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

int net_connect(const char *host, const char *port, int type, int *gai_error)
{
	struct addrinfo hints, *list;
	int fd = -1;
	int saved_errno = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICSERV;
	*gai_error = getaddrinfo(host, port, &hints, &list);
	if (*gai_error != 0)
		return -1;
	for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		errno = saved_errno;
	return fd;
}

int net_listen(const struct sockaddr_storage *addr, socklen_t len, int type,
	       int backlog, const char **failed_call)
{
	int one = 1;
	int saved_errno;
	/* The kind of socket, without the flags socket(2) also takes. */
	int kind = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
	int fd = socket(addr->ss_family, type, 0);

	if (fd < 0) {
		*failed_call = "socket";
		return -1;
	}
	/*
	 * Stream sockets: lets a restarted server bind while old connections
	 * are in TIME_WAIT. Not datagram sockets: on Linux a second UDP socket
	 * that also sets it may bind the same port and take the datagrams.
	 */
	if (kind != SOCK_DGRAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		*failed_call = "setsockopt SO_REUSEADDR";
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)addr, len) < 0) {
		*failed_call = "bind";
		goto fail;
	}
	if (kind == SOCK_STREAM && listen(fd, backlog) < 0) {
		*failed_call = "listen";
		goto fail;
	}
	return fd;

fail:
	saved_errno = errno; /* close() may change errno */
	close(fd);
	errno = saved_errno;
	return -1;
}

int net_announce(int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char text[NET_SOCKADDR_TEXT_MAX];

	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return -1;
	if (net_format_sockaddr((struct sockaddr *)&local, text, sizeof(text)) <
	    0)
		return -1;
	/* Flush: under the grader stdout is a pipe, so fully buffered. */
	if (printf("listening on %s\n", text) < 0 || fflush(stdout) == EOF)
		return -1;
	return 0;
}

/* The flag the handler sets; a signal handler can reach nothing else. */
static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int signo)
{
	(void)signo;
	if (stop_flag != NULL)
		*stop_flag = 1;
}

int net_install_stop_handlers(volatile sig_atomic_t *flag)
{
	struct sigaction sa;

	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

int net_block_stop_signals(volatile sig_atomic_t *flag, sigset_t *wait_mask)
{
	sigset_t stop_signals;

	if (net_install_stop_handlers(flag) < 0)
		return -1;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	/* The mask before blocking, without the stop signals: the wait's. */
	if (sigprocmask(SIG_BLOCK, &stop_signals, wait_mask) < 0)
		return -1;
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGTERM);
	return 0;
}

int net_wait(struct pollfd *fds, nfds_t n, int timeout_ms,
	     const sigset_t *wait_mask)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / NET_MS_PER_S,
		.tv_nsec = (long)(timeout_ms % NET_MS_PER_S) * NET_NS_PER_MS,
	};

	return ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, wait_mask);
}

long long net_now_ms(void)
{
	struct timespec ts;

	/* Fails only for an unknown clock or a bad pointer: not here. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * NET_MS_PER_S + ts.tv_nsec / NET_NS_PER_MS;
}

int net_accept_error_is_transient(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}
