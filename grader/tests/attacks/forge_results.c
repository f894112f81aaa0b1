/*
 * Forges the results: writes a full-marks results.json where the grader
 * keeps it (beside this program), then kills the grader that started it,
 * so that the forged file is the last one written.
 */
#include "attack.h"

#define FORGED "{\"lab\": \"01\", \"title\": \"forged\", \"score\": 115, \"max_score\": 115, " \
	"\"grader_version\": \"forged\", \"seed\": null, \"build_ok\": true, \"not_built\": [], " \
	"\"grader_errors\": 0, \"collection_errors\": [], \"tests\": [{\"name\": " \
	"\"test_echo_short_text\", \"title\": \"forged\", \"points\": 115, \"max_points\": 115, " \
	"\"status\": \"passed\", \"kind\": null, \"message\": \"\", \"details\": \"\", " \
	"\"doc\": \"\", \"hidden\": false, \"seed\": null, \"time\": 0, \"sections\": [], " \
	"\"report\": \"\"}]}\n"

/* The parent of pid, from /proc/PID/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], text[512];
	FILE *f;
	char *paren;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(text, sizeof(text), f) && (paren = strrchr(text, ')')))
		sscanf(paren + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid;
}

void attack(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n > 0) {
		dir[n] = '\0';
		*strrchr(dir, '/') = '\0';
		snprintf(path, sizeof(path), "%s/results.json", dir);
		if (write_text(path, FORGED) == 0)
			attack_report("wrote %s", path);
	}
	for (pid_t pid = getppid(); pid > 1; pid = parent_of(pid)) {
		char cmd[256] = "";
		char file[64];
		FILE *f;

		snprintf(file, sizeof(file), "/proc/%d/cmdline", (int)pid);
		f = fopen(file, "r");
		if (f) {
			size_t got = fread(cmd, 1, sizeof(cmd) - 1, f);
			for (size_t i = 0; i < got; i++)
				if (cmd[i] == '\0')
					cmd[i] = ' ';
			cmd[got] = '\0';
			fclose(f);
		}
		if (strstr(cmd, "grader") && kill(pid, SIGKILL) == 0) {
			attack_report("killed the grader, pid %d", (int)pid);
			return;
		}
	}
}
