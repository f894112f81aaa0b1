/*
 * net.h - provided helpers for labs 02 to 06.
 *
 * These are the helpers you wrote in lab 01 (parse_port, format_sockaddr,
 * send_all), given to you from now on, plus a few more that every server
 * in the course needs. Read them: they are short and follow the course's
 * one error convention: a helper returns a value >= 0 on success, or -1
 * with errno set. Helpers never print and never exit; only main() turns
 * an error into a message and an exit code.
 */
#ifndef NET_H
#define NET_H

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Exit status for bad command-line arguments, in every program. */
#define NET_EXIT_USAGE 2

/* Units of time. Timeouts in the course are counted in milliseconds. */
#define NET_MS_PER_S 1000
#define NET_US_PER_MS 1000
#define NET_NS_PER_MS 1000000L
#define NET_NS_PER_S 1000000000L

/* Digits in the largest port number, 65535. */
#define NET_PORT_TEXT_MAX 5

/* Longest text net_format_sockaddr() writes, with its NUL: "[v6addr]:port". */
#define NET_SOCKADDR_TEXT_MAX (1 + INET6_ADDRSTRLEN + 2 + NET_PORT_TEXT_MAX)

/*
 * Parses a port number "0" to "65535" (digits only). Returns 0 and sets
 * *port, or -1 with errno EINVAL (not a number) or ERANGE (too large).
 */
int net_parse_port(const char *text, uint16_t *port);

/*
 * Writes "127.0.0.1:5000" or "[::1]:5000" for an IPv4 or IPv6 address.
 * Returns 0, or -1 with errno EAFNOSUPPORT (other family) or ENOSPC.
 */
int net_format_sockaddr(const struct sockaddr *sa, char *out, size_t outlen);

/*
 * Fills *ss with an IPv4 or IPv6 address literal and a port, and *len with
 * the size of the address. Returns 0, or -1 with errno EINVAL when text is
 * not an address literal.
 */
int net_make_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len);

/*
 * Sends all len bytes on a connected socket, looping over short sends and
 * EINTR, with MSG_NOSIGNAL (EPIPE instead of SIGPIPE). Returns len, or -1
 * with errno set by the send that failed.
 */
ssize_t net_send_all(int fd, const void *buf, size_t len);

/*
 * Writes all len bytes to a file descriptor (a file, pipe or terminal),
 * looping over short writes and EINTR. Returns len, or -1 with errno set.
 */
ssize_t net_write_all(int fd, const void *buf, size_t len);

/*
 * Connects a new socket of the given type (SOCK_STREAM or SOCK_DGRAM) to
 * host (a name or an address literal) and port (digits), trying each
 * address getaddrinfo() gives until one connects. Returns the socket, or
 * -1: with *gai_error nonzero when host and port do not resolve (a
 * getaddrinfo() error, which gai_strerror() names, not an errno value),
 * else with *gai_error 0 and errno set by the last socket() or connect().
 */
int net_connect(const char *host, const char *port, int type, int *gai_error);

/*
 * Opens a listening socket of the given type (SOCK_STREAM or SOCK_DGRAM,
 * optionally or'ed with SOCK_CLOEXEC and SOCK_NONBLOCK, as socket(2)
 * takes them) on addr: socket, SO_REUSEADDR (SOCK_STREAM only), bind, and
 * listen for SOCK_STREAM. A SOCK_DGRAM port already bound fails with
 * EADDRINUSE.
 * Returns the socket, or -1 with errno set and *failed_call naming the
 * call that failed ("socket", "bind", ...).
 */
int net_listen(const struct sockaddr_storage *addr, socklen_t len, int type,
	       int backlog, const char **failed_call);

/*
 * Prints "listening on ADDR:PORT" for the socket's real local address
 * (getsockname), and flushes stdout. Returns 0, or -1 with errno set.
 */
int net_announce(int fd);

/*
 * Makes SIGINT and SIGTERM set *flag (installed without SA_RESTART, so a
 * blocked call returns EINTR and the caller can look at the flag), and
 * ignores SIGPIPE. Only one flag can be installed per program. Returns 0,
 * or -1 with errno set.
 */
int net_install_stop_handlers(volatile sig_atomic_t *flag);

/*
 * Installs the stop handlers (net_install_stop_handlers), then blocks
 * SIGINT and SIGTERM in the calling thread and so in every thread it
 * starts later, and fills *wait_mask with the mask to wait with (ppoll,
 * epoll_pwait, net_wait), which lets them in. A stop signal can then
 * arrive only while the program waits, never between its look at *flag
 * and the wait that follows. Returns 0, or -1 with errno set.
 */
int net_block_stop_signals(volatile sig_atomic_t *flag, sigset_t *wait_mask);

/*
 * Waits up to timeout_ms milliseconds (-1: no limit) for the events asked
 * for in fds[0..n), with the signal mask set to *wait_mask during the
 * wait only (ppoll). Returns the number of fds with events, 0 when the
 * time ran out, or -1 with errno set (EINTR: a signal came).
 */
int net_wait(struct pollfd *fds, nfds_t n, int timeout_ms,
	     const sigset_t *wait_mask);

/* Milliseconds on CLOCK_MONOTONIC: unlike the time of day, it never jumps. */
long long net_now_ms(void);

/*
 * Nonzero when accept() failed with err for a reason of the connection
 * being accepted, not of the listening socket: accept(2) says to treat
 * those as "try again" (ECONNABORTED, EPROTO, the network errors, and
 * EINTR).
 */
int net_accept_error_is_transient(int err);

#endif /* NET_H */
