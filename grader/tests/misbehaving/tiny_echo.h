/*
 * tiny_echo.h - the smallest correct-enough echo server, for the
 * misbehaving programs in this folder to build on. Not student code: it
 * listens on 127.0.0.1, on the port given with -p (0 without one), and
 * ignores any other argument.
 */
#ifndef TINY_ECHO_H
#define TINY_ECHO_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Listens on 127.0.0.1, on -p PORT's port, and announces it. */
static inline int tiny_listen_and_announce(int argc, char **argv)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-p") == 0)
			addr.sin_port = htons((uint16_t)atoi(argv[i + 1]));
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		perror("tiny_echo");
		exit(1);
	}
	printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
	fflush(stdout);
	return fd;
}

/* Echoes one client until it closes; returns when it does. */
static inline void tiny_echo_client(int client)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(client, buf, sizeof(buf), 0)) > 0)
		if (send(client, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	close(client);
}

static inline void tiny_echo_forever(int listener)
{
	for (;;) {
		int client = accept(listener, NULL, NULL);
		if (client >= 0)
			tiny_echo_client(client);
	}
}

#endif /* TINY_ECHO_H */
