/*
 * echo_util.c - reference implementation of the lab 01 helpers.
 * Contracts are in ../echo_util.h.
 */
#include "echo_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#define PORT_MAX 65535

int parse_port(const char *text, uint16_t *port)
{
	unsigned long value = 0;

	if (text == NULL || *text == '\0') {
		errno = EINVAL;
		return -1;
	}
	/*
	 * Accumulate digit by digit instead of calling strtoul: strtoul accepts
	 * leading spaces and a sign ("-1" becomes ULONG_MAX), which a port
	 * number must not have.
	 */
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

int format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	const void *addr;
	in_port_t port_be;
	int bracket;

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		addr = &in4->sin_addr;
		port_be = in4->sin_port;
		bracket = 0;
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		addr = &in6->sin6_addr;
		port_be = in6->sin6_port;
		bracket = 1;
		break;
	}
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(sa->sa_family, addr, host, sizeof(host)) == NULL)
		return -1;

	int n = snprintf(out, outlen, bracket ? "[%s]:%u" : "%s:%u", host,
			 (unsigned)ntohs(port_be));
	if (n < 0)
		return -1;
	if ((size_t)n >= outlen) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

ssize_t send_all(int fd, const void *buf, size_t len)
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
