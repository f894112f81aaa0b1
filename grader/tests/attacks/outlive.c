/*
 * Leaves a daemon behind: a grandchild in a session of its own that
 * holds a listening port and sleeps, to outlive the grading. Its parent
 * stays alive a moment, so that the daemon is not among the processes a
 * grader finds and kills as its own orphans when the test ends.
 */
#include "attack.h"

#define DAEMON_SECONDS 120
#define MIDDLE_SECONDS 20

void attack(void)
{
	if (fork() != 0)
		return;
	setsid();
	if (fork() != 0) {
		sleep(MIDDLE_SECONDS);
		_exit(0);
	}
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (listener >= 0 && bind(listener, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		listen(listener, 1);
	attack_report("daemon %d holds a port", (int)getpid());
	for (int i = 0; i < 3; i++)
		close(i);
	sleep(DAEMON_SECONDS);
	_exit(0);
}
