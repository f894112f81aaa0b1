/*
 * Announces a port of 5000 digits before its real line. int() refuses
 * more than 4300 digits: once a grader error in every test that started
 * the server, with the test's source (hidden tests' too) in the report.
 */
#include "attack.h"

#define DIGITS 5000

void attack(void)
{
	static char line[DIGITS + 64] = "listening on 127.0.0.1:";
	size_t at = strlen(line);

	memset(line + at, '7', DIGITS);
	line[at + DIGITS] = '\n';
	/* One write, so that the grader never sees half the digits. */
	if (write(STDOUT_FILENO, line, at + DIGITS + 1) < 0)
		_exit(1);
}
