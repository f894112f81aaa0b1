/*
 * Embeds the hidden tests and the reference solution at build time, with
 * the assembler's .incbin (the compiler runs in the course's top folder),
 * and prints them on stderr when it runs.
 */
#include "attack.h"

#if __has_include("tests/hidden/test_echo_hidden.py")
__asm__(".section .rodata\n"
	"hidden_text: .incbin \"labs/01-tcp-echo/tests/hidden/test_echo_hidden.py\"\n"
	".byte 0\n.previous\n");
extern const char hidden_text[];
#define HIDDEN hidden_text
#else
#define HIDDEN ((const char *)0)
#endif

#if __has_include("solution/echo_server.c")
__asm__(".section .rodata\n"
	"solution_text: .incbin \"labs/01-tcp-echo/solution/echo_server.c\"\n"
	".byte 0\n.previous\n");
extern const char solution_text[];
#define SOLUTION solution_text
#else
#define SOLUTION ((const char *)0)
#endif

void attack(void)
{
	if (HIDDEN)
		fprintf(stderr, "LEAK: %.1400s\n", HIDDEN);
	if (SOLUTION)
		fprintf(stderr, "LEAK: %.1400s\n", SOLUTION);
	if (HIDDEN || SOLUTION)
		attack_report("embedded secrets at build time");
}
