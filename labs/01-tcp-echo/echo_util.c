/*
 * echo_util.c - the lab 01 helpers. Step 1 of the handout: write these
 * three functions. Their contracts are in echo_util.h; the unit tests in
 * tests/test_echo_util.c check them (make grade runs them first).
 */
#include "echo_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

int parse_port(const char *text, uint16_t *port)
{
	/*
	 * TODO: accept only "0" to "65535", all digits.
	 * - NULL, "" or any non-digit ("-1", "+80", " 80", "80x") -> EINVAL.
	 * - a number above 65535 -> ERANGE; watch out for overflow with
	 *   very long strings of digits.
	 * - on failure, leave *port unchanged.
	 * strtoul() is tempting, but it skips leading spaces and accepts a
	 * sign: if you use it, check for those yourself.
	 */
	(void)text;
	(void)port;
	errno = ENOSYS;
	return -1;
}

int format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen)
{
	/*
	 * TODO: look at sa->sa_family.
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
	 * TODO: call send(fd, ..., MSG_NOSIGNAL) in a loop until all len
	 * bytes are sent. send() returns how many bytes it took, which can
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
