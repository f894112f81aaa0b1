/* The honest baseline: the wrong echo and nothing else. */
#define NO_ATTACK
#include "attack.h"

void attack(void)
{
}
