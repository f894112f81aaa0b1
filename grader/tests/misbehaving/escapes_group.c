/*
 * A working echo server whose child leaves the process group (setsid)
 * and sleeps: killing the group does not reach it.
 */
#include "tiny_echo.h"

int main(int argc, char **argv)
{
	int listener = tiny_listen_and_announce(argc, argv);
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		close(listener);
		sleep(600);
		_exit(0);
	}
	tiny_echo_forever(listener);
}
