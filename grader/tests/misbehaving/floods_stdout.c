/* Announces, then writes to stdout without end and serves nobody. */
#include "tiny_echo.h"

int main(int argc, char **argv)
{
	static char line[65536];

	tiny_listen_and_announce(argc, argv);
	memset(line, 'x', sizeof(line));
	for (;;)
		if (fwrite(line, 1, sizeof(line), stdout) != sizeof(line))
			return 1;
}
