/*
 * tiny_echo.h - the smallest correct-enough echo server, for the
 * misbehaving programs in this folder to build on. Not student code: it
 * ignores its arguments and always listens on 127.0.0.1, port 0.
 */
#ifndef TINY_ECHO_H
#define TINY_ECHO_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Listens on 127.0.0.1 with a kernel-chosen port and announces it. */
static inline int tiny_listen_and_announce(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
