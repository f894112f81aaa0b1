/* Listens but never prints its announce line: sleeps forever. */
#include <unistd.h>

int main(void)
{
	for (;;)
		pause();
}
