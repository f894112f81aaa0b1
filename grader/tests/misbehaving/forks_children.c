/* A working echo server that leaves 50 sleeping children behind. */
#include "tiny_echo.h"

#define CHILDREN 50

int main(int argc, char **argv)
{
	int listener = tiny_listen_and_announce(argc, argv);

	for (int i = 0; i < CHILDREN; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			sleep(600);
			_exit(0);
		}
	}
	tiny_echo_forever(listener);
}
