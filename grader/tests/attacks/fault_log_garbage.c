/*
 * Writes lines the fault shim never would into the shim's log pipe,
 * whose number is in the program's environment: a "reaped" line without
 * a number once ended the whole run (pytest INTERNALERROR, the tests
 * after it not run).
 */
#include "attack.h"

void attack(void)
{
	const char *log_fd = getenv("FAULT_LOG_FD");

	if (log_fd == NULL)
		return;
	dprintf(atoi(log_fd), "reaped pid=not-a-number status=0\n"
			      "reaped pid=\xc2\xb2 status=0\nexit\n=\n\n");
}
