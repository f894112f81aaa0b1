/*
 * Attaches to every grader process it can see with ptrace: once attached,
 * a program can rewrite the grader's memory (its record of failures) at
 * will. It only attaches and detaches, and says so.
 */
#include "attack.h"

#include <sys/ptrace.h>
#include <sys/wait.h>

void attack(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *entry;

	while (proc && (entry = readdir(proc))) {
		char path[64], cmd[256] = "";
		FILE *f;
		pid_t pid;

		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		pid = (pid_t)atoi(entry->d_name);
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < got; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[got] = '\0';
		if (!strstr(cmd, "grader") || pid == getpid())
			continue;
		if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0) {
			attack_report("attached to grader process %d with ptrace", (int)pid);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
		}
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		int mem = open(path, O_RDWR);
		if (mem >= 0) {
			attack_report("opened the memory of grader process %d", (int)pid);
			close(mem);
		}
	}
	if (proc)
		closedir(proc);
}
