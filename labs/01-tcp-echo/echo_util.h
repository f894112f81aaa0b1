/*
 * echo_util.h - small helpers shared by echo_server and echo_client.
 *
 * parse_port is provided in echo_util.c; you write format_sockaddr
 * (step 1 of the handout) and send_all (step 2). They are pure enough to
 * be unit-tested on their own: tests/test_echo_util.c checks them.
 *
 * Convention for the whole course: a helper returns a value >= 0 on
 * success, or -1 with errno set on failure. Helpers never print and never
 * exit; only main() turns an error into a message and an exit code.
 */
#ifndef ECHO_UTIL_H
#define ECHO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Digits in the largest port number, 65535. */
#define PORT_TEXT_MAX 5

/*
 * Longest text format_sockaddr() can produce, including the final NUL:
 * "[" + an IPv6 address (INET6_ADDRSTRLEN already counts the NUL) + "]:" +
 * the port.
 */
#define SOCKADDR_TEXT_MAX (1 + INET6_ADDRSTRLEN + 2 + PORT_TEXT_MAX)

/*
 * Parses a TCP/UDP port number written in decimal: "0" to "65535".
 * The whole string must be digits: no sign, no spaces, no trailing text.
 * Returns 0 and stores the number in *port, or returns -1 with errno set
 * to EINVAL (not a number) or ERANGE (a number above 65535); *port is then
 * left unchanged.
 */
int parse_port(const char *text, uint16_t *port);

/*
 * Writes the address and port of an IPv4 or IPv6 socket address as text:
 * "127.0.0.1:5000" or, for IPv6, "[::1]:5000" (brackets keep the port apart
 * from the colons of the address). The port is converted from network byte
 * order. Returns 0, or -1 with errno set to EAFNOSUPPORT for any other
 * address family, or ENOSPC when the text would not fit in outlen bytes.
 */
int format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen);

/*
 * Sends all len bytes of buf on the connected socket fd, calling send(2)
 * as many times as needed: send may accept fewer bytes than asked for, and
 * may fail with EINTR when a signal arrives, and neither is an error.
 * Uses MSG_NOSIGNAL so that a peer that has gone away gives EPIPE instead
 * of killing the process with SIGPIPE.
 * Returns len, or -1 with errno set by the send that failed.
 */
ssize_t send_all(int fd, const void *buf, size_t len);

#endif /* ECHO_UTIL_H */
