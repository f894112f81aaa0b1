/*
 * chaos.c - stands in for any lab's server or client and answers with
 * whatever a broken program could send: random bytes, an early close, a
 * reset, a head that never ends, endless bytes, silence. Each connection
 * (or datagram, or run) takes the next of these in turn, from the place
 * in the rotation given when it is built (-DOFFSET=N): the self-check
 * builds it at several offsets, so that every test meets several of them,
 * the same ones each time. The self-check (test_chaos.py) grades every
 * lab with these as its programs: every test must fail the student's way,
 * never with a grader error.
 *
 * It is what it is named: NAME_server (or conc_server) serves - TCP, UDP
 * for udp_server, a Unix-domain stream socket at -s PATH for unix_server -
 * and anything else is a client: it connects where its arguments say (or
 * to nothing) and prints random bytes. A grader fixture, not student code.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MODES 6
#ifndef OFFSET
#define OFFSET 0
#endif
#define CHUNK 4096
#define ENDLESS_LIMIT (8 << 20)	/* bytes an endless answer sends at most */
#define SILENCE_US 700000	/* how long a silent answer keeps still */

enum mode { RANDOM_BYTES, EARLY_CLOSE, RESET, NO_HEAD_END, ENDLESS, SILENCE };

static unsigned next_mode;

static void random_bytes(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(rand() & 0xff);
}

static void send_quietly(int fd, const char *buf, size_t len)
{
	(void)!send(fd, buf, len, MSG_NOSIGNAL);
}

/* One answer on a stream connection, in the next mode. */
static void answer(int fd)
{
	char buf[CHUNK];
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Chaos: ";
	struct linger reset = { 1, 0 };
	enum mode mode = (enum mode)(next_mode++ % MODES);

	switch (mode) {
	case RANDOM_BYTES:
		random_bytes(buf, sizeof(buf));
		send_quietly(fd, buf, (size_t)(rand() % CHUNK) + 1);
		break;
	case EARLY_CLOSE:
		break;
	case RESET:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		break;
	case NO_HEAD_END:
		send_quietly(fd, head, sizeof(head) - 1);
		send_quietly(fd, "partial\n", 8);
		break;
	case ENDLESS:
		memset(buf, 'A', sizeof(buf));
		for (size_t sent = 0; sent < ENDLESS_LIMIT; sent += sizeof(buf))
			if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
				break;
		break;
	case SILENCE:
		usleep(SILENCE_US);
		break;
	}
	close(fd);
}

static int listen_tcp(const char *addr_text, int port, int type)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int six = addr_text && strchr(addr_text, ':');
	int fd = socket(six ? AF_INET6 : AF_INET, type, 0);
	int one = 1;
	char shown[INET6_ADDRSTRLEN] = "127.0.0.1";

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (six) {
		inet_pton(AF_INET6, addr_text, &a6.sin6_addr);
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
			exit(1);
		socklen_t len = sizeof(a6);
		getsockname(fd, (struct sockaddr *)&a6, &len);
		printf("listening on [%s]:%u\n", addr_text, ntohs(a6.sin6_port));
	} else {
		inet_pton(AF_INET, addr_text ? addr_text : "127.0.0.1", &a4.sin_addr);
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			exit(1);
		socklen_t len = sizeof(a4);
		getsockname(fd, (struct sockaddr *)&a4, &len);
		inet_ntop(AF_INET, &a4.sin_addr, shown, sizeof(shown));
		printf("listening on %s:%u\n", shown, ntohs(a4.sin_port));
	}
	if (type == SOCK_STREAM)
		listen(fd, 64);
	fflush(stdout);
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		exit(1);
	listen(fd, 64);
	printf("listening on %s\n", path);
	fflush(stdout);
	return fd;
}

static void serve_datagrams(int fd)
{
	char buf[CHUNK];

	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

		if (n < 0)
			continue;
		if (next_mode++ % 3 == 0)
			continue;	/* no answer at all */
		random_bytes(buf, sizeof(buf));
		sendto(fd, buf, (size_t)(rand() % 64), 0, (struct sockaddr *)&from, len);
	}
}

static const char *option(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static void client(void)
{
	char buf[CHUNK];

	random_bytes(buf, sizeof(buf));
	if (next_mode % 2)
		fwrite(buf, 1, (size_t)(rand() % CHUNK), stdout);
	exit((int)(next_mode % 3));
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *port = option(argc, argv, "-p");
	const char *path = option(argc, argv, "-s");
	int listener;

	signal(SIGPIPE, SIG_IGN);
	srand(OFFSET + 1);
	next_mode = OFFSET;
	if (!strstr(name, "server"))
		client();
	if (strstr(name, "unix") && path)
		listener = listen_unix(path);
	else if (port)
		listener = listen_tcp(option(argc, argv, "-a"), atoi(port),
				      strstr(name, "udp") ? SOCK_DGRAM : SOCK_STREAM);
	else
		return 2;	/* a usage error, as a real server would say */
	if (strstr(name, "udp"))
		serve_datagrams(listener);
	for (;;) {
		int fd = accept(listener, NULL, NULL);

		if (fd >= 0)
			answer(fd);
	}
}
