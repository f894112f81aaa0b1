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
	pid_t graders[MAX_ROOTS];
	int count = grader_ancestors(graders, MAX_ROOTS);

	for (int i = 0; i < count; i++) {
		char path[64];
		pid_t pid = graders[i];

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
}
