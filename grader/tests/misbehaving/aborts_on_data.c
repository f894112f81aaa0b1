/* Announces, then abort()s when the first bytes arrive. */
#include "tiny_echo.h"

int main(int argc, char **argv)
{
	int listener = tiny_listen_and_announce(argc, argv);
	int client = accept(listener, NULL, NULL);
	char c;

	fprintf(stderr, "aborts_on_data: about to abort\n");
	if (recv(client, &c, 1, 0) == 1)
		abort();
	return 0;
}
