/*
 * Asked for port 0, announces the port the kernel chose plus 65536, a
 * number no port can have: connecting to it raised OverflowError in the
 * grader, a grader error in place of the program's own wrong output.
 * Asked for a port, it is the plain wrong echo.
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

static int asked_for_port_zero(void)
{
	for (int i = 1; i + 1 < saved_argc; i++)
		if (strcmp(saved_argv[i], "-p") == 0)
			return strcmp(saved_argv[i + 1], "0") == 0;
	return 0;
}

void attack(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int out, null, listener;

	if (!asked_for_port_zero())
		return;
	/* The usual announce line goes to /dev/null; this one replaces it. */
	out = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDOUT_FILENO);
	listener = tiny_listen_and_announce(saved_argc, saved_argv);
	dup2(out, STDOUT_FILENO);
	if (getsockname(listener, (struct sockaddr *)&addr, &len) == 0)
		printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port) + 65536u);
	fflush(stdout);
	wrong_echo_forever(listener);
}
