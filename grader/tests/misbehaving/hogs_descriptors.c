/*
 * Announces, then opens /dev/null until the descriptor limit (EMFILE),
 * then tries to serve: every accept() fails, so no client is ever served.
 */
#include <fcntl.h>

#include "tiny_echo.h"

int main(int argc, char **argv)
{
	int listener = tiny_listen_and_announce(argc, argv);

	while (open("/dev/null", O_RDONLY) >= 0)
		;
	perror("hogs_descriptors: open");
	tiny_echo_forever(listener);
}
