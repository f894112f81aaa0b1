/*
 * A working echo server with a fork bomb beside it: one child forks
 * without end, and every process it makes does the same, each in a
 * session of its own (setsid), out of reach of a process-group kill.
 * Only a cap on the program's processes stops it: RLIMIT_NPROC, or a
 * pids cgroup when the grader runs as root. The grader's containment
 * test runs it only where such a cap holds.
 *
 * The server announces itself only once the bomb has met a cap (its
 * first refused fork), so that the test runs while the bomb is at its
 * largest. If no cap stops the bomb, the server exits with status 1
 * instead of serving, and the containment test fails.
 */
#include <errno.h>
#include <poll.h>

#include "tiny_echo.h"

#define BACKOFF_US 1000		/* after a refused fork: keeps the capped bomb cheap */
#define CAP_WAIT_MS 5000	/* longest wait for the bomb to meet the cap */

static void bomb(int capped)
{
	int told = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid == 0) {
			setsid();
		} else if (pid < 0 && errno == EAGAIN) {
			if (!told && write(capped, "!", 1) == 1)
				told = 1;
			usleep(BACKOFF_US);
		}
	}
}

int main(int argc, char **argv)
{
	int capped[2];
	struct pollfd wait_cap;
	char byte;

	if (pipe(capped) < 0) {
		perror("fork_bomb: pipe");
		return 1;
	}
	if (fork() == 0) {
		close(capped[0]);
		setsid();
		bomb(capped[1]);
	}
	close(capped[1]);
	wait_cap.fd = capped[0];
	wait_cap.events = POLLIN;
	if (poll(&wait_cap, 1, CAP_WAIT_MS) != 1 || read(capped[0], &byte, 1) != 1) {
		fprintf(stderr, "fork_bomb: no cap stopped the bomb\n");
		return 1;
	}
	fprintf(stderr, "fork_bomb: the bomb met the cap\n");
	close(capped[0]);
	tiny_echo_forever(tiny_listen_and_announce(argc, argv));
}
