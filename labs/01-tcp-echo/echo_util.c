/*
 * echo_util.c - the lab 01 helpers. Their contracts are in echo_util.h;
 * the unit tests in tests/test_echo_util.c check them.
 *
 * parse_port is provided. You write format_sockaddr (step 1 of the
 * handout: the server's "listening on" line needs it) and send_all
 * (step 2: the echo needs it).
 */
#include "echo_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#define PORT_MAX 65535

/*
 * Provided: checking text is not what this lab is about. Read it as an
 * example of the course's helper convention (0, or -1 with errno set).
 */
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
	/*
	 * TODO (step 1): look at sa->sa_family.
	 * - AF_INET: cast to struct sockaddr_in; "ADDR:PORT".
	 * - AF_INET6: cast to struct sockaddr_in6; "[ADDR]:PORT".
	 * - anything else: EAFNOSUPPORT.
	 * inet_ntop() turns the address into text; the port is stored in
	 * network byte order, so convert it with ntohs() before printing.
	 * snprintf() returns the length it wanted to write: if that is
	 * outlen or more, the text did not fit -> ENOSPC.
	 * See docs/00-network-basics.md, "Printing an address".
	 */
	(void)sa;
	(void)out;
	(void)outlen;
	errno = ENOSYS;
	return -1;
}

ssize_t send_all(int fd, const void *buf, size_t len)
{
	/*
	 * TODO (step 2): call send(fd, ..., MSG_NOSIGNAL) in a loop until all
	 * len bytes are sent. send() returns how many bytes it took, which can
	 * be fewer than you asked for: move forward by that much and send
	 * the rest. If it fails with EINTR, just try again; any other error
	 * ends the loop: return -1 (errno is already set by send).
	 * See docs/01-tcp.md, "Writing: partial sends".
	 */
	(void)fd;
	(void)buf;
	(void)len;
	errno = ENOSYS;
	return -1;
}
