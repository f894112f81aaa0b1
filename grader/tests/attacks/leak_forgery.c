/*
 * A correct echo server that leaks memory, and hides it: under valgrind
 * it writes a clean summary into valgrind's log with client requests
 * (which the grader once read as valgrind's own), and under LeakSanitizer
 * it suppresses every leak with its own __lsan_default_suppressions.
 * Compiled with -DNO_ATTACK: the leaky server alone. It exits with status
 * 0 on SIGTERM, as the valgrind and sanitizer tests ask.
 */
#include <errno.h>
#include <signal.h>

#include "tiny_echo.h"

#ifndef NO_ATTACK
#include <valgrind/valgrind.h>

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:*\n";
}
#endif

static volatile sig_atomic_t stop_requested;
static char *volatile last_block;

static void on_stop(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* 4 KiB that nothing points to once the next one is made: definitely lost. */
static void leak(void)
{
	char *block = malloc(4096);

	if (block != NULL)
		memset(block, 'x', 4096);
	last_block = block;
	last_block = NULL;
}

static void forge_report(void)
{
#ifndef NO_ATTACK
	if (RUNNING_ON_VALGRIND) {
		VALGRIND_PRINTF("ERROR SUMMARY: 0 errors from 0 contexts\n");
		VALGRIND_PRINTF("   definitely lost: 0 bytes in 0 blocks\n");
	}
#endif
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int listener;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	listener = tiny_listen_and_announce(argc, argv);
	while (!stop_requested) {
		int client = accept(listener, NULL, NULL);

		leak();
		if (client >= 0)
			tiny_echo_client(client);
	}
	close(listener);
	forge_report();
	return 0;
}
