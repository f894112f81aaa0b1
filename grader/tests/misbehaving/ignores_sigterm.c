/* A working echo server that ignores SIGTERM and SIGINT. */
#include <signal.h>

#include "tiny_echo.h"

int main(int argc, char **argv)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	tiny_echo_forever(tiny_listen_and_announce(argc, argv));
}
