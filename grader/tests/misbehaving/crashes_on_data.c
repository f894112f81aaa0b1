/* Announces, then dereferences NULL when the first bytes arrive. */
#include "tiny_echo.h"

int main(int argc, char **argv)
{
	int listener = tiny_listen_and_announce(argc, argv);
	int client = accept(listener, NULL, NULL);
	char c;

	if (recv(client, &c, 1, 0) == 1) {
		volatile int *nowhere = NULL;
		*nowhere = c;
	}
	return 0;
}
