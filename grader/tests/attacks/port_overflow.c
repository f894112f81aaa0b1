/*
 * Announces the port it listens on plus 65536, a number no port can
 * have: connecting to it raised OverflowError in the grader, a grader
 * error in place of the program's own wrong output.
 */
#include "attack.h"

static int saved_argc;
static char **saved_argv;

/* glibc hands main's arguments to constructors as well. */
__attribute__((constructor)) static void save_arguments(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
}

void attack(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int out = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
	int listener;

	/* The usual announce line goes to /dev/null; this one replaces it. */
	dup2(null, STDOUT_FILENO);
	listener = tiny_listen_and_announce(saved_argc, saved_argv);
	dup2(out, STDOUT_FILENO);
	if (getsockname(listener, (struct sockaddr *)&addr, &len) == 0)
		printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port) + 65536u);
	fflush(stdout);
	wrong_echo_forever(listener);
}
