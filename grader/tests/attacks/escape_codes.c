/*
 * Prints terminal control sequences on stderr, where the report shows
 * them: clear the screen, retitle the window, paint everything green,
 * and a "Score" line of its own.
 */
#include "attack.h"

void attack(void)
{
	fputs("\033[2J\033[H\033]0;owned\007\033[32m\rScore: 115/115\n", stderr);
	fflush(stderr);
}
