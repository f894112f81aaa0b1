/* Announces, then writes a file without end (until RLIMIT_FSIZE). */
#include "tiny_echo.h"

int main(int argc, char **argv)
{
	static char block[1 << 20];
	FILE *f;

	tiny_listen_and_announce(argc, argv);
	f = fopen("flood.out", "wb");
	if (f == NULL)
		return 1;
	for (;;)
		if (fwrite(block, 1, sizeof(block), f) != sizeof(block) ||
		    fflush(f) == EOF)
			return 1;
}
