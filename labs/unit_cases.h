/*
 * labs/unit_cases.h - table-driven groups of cmocka cases, shared by the
 * labs' unit tests (labs/NN-name/tests/test_*.c).
 *
 * A group gives each row of a table a cmocka case of its own, named after
 * the row, so that a function right for some rows earns a share of the
 * points and the report names each row that fails. The grader runs a
 * test program once per group, with the group's name as its argument.
 *
 * Include it in place of <cmocka.h>: it includes cmocka with the headers
 * cmocka needs first, and <stdlib.h> before it, since under UNIT_TESTING
 * cmocka.h turns malloc() and free() into macros that would break the
 * declarations of a <stdlib.h> included after it.
 */
#ifndef UNIT_CASES_H
#define UNIT_CASES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define CASES_MAX 64	  /* cases in one group */
#define CASE_NAME_MAX 128 /* bytes of a case's name, its NUL included */

/* The cases of one group, built at run time. */
struct case_list {
	struct CMUnitTest tests[CASES_MAX];
	char names[CASES_MAX][CASE_NAME_MAX];
	size_t count;
};

/* A group: the name that selects it, and the function that adds its cases. */
struct case_group {
	const char *name;
	void (*add)(struct case_list *list);
};

/*
 * Adds a case: fn runs with *state pointing at row. Returns the case's
 * name buffer (CASE_NAME_MAX bytes, empty) for the caller to fill. A group
 * with more than CASES_MAX cases is a mistake in the test: it exits 2.
 */
static inline char *add_case(struct case_list *list, CMUnitTestFunction fn,
			     const void *row)
{
	if (list->count == CASES_MAX) {
		fprintf(stderr, "unit test: over %d cases in one group\n",
			CASES_MAX);
		exit(2);
	}
	char *name = list->names[list->count];

	name[0] = '\0';
	list->tests[list->count++] = (struct CMUnitTest){
		.name = name,
		.test_func = fn,
		.initial_state = (void *)row,
	};
	return name;
}

/* Adds a case named prefix then name: fn runs with *state pointing at row. */
static inline void add_named_case(struct case_list *list, const char *prefix,
				  const char *name, CMUnitTestFunction fn,
				  const void *row)
{
	snprintf(add_case(list, fn, row), CASE_NAME_MAX, "%s%s", prefix, name);
}

/* Adds a case that is a whole function, not a table row. */
static inline void add_plain_case(struct case_list *list, const char *name,
				  CMUnitTestFunction fn)
{
	add_named_case(list, "", name, fn, NULL);
}

/* Prints "usage: PROGRAM [group1|group2|...]" on stderr. */
static inline void print_case_usage(const char *program,
				    const struct case_group *groups,
				    size_t count)
{
	fprintf(stderr, "usage: %s [", program);
	for (size_t i = 0; i < count; i++)
		fprintf(stderr, "%s%s", i > 0 ? "|" : "", groups[i].name);
	fprintf(stderr, "]\n");
}

/*
 * Runs the group argv[1] names, or every group when there is no argument.
 * Returns the program's exit status: 0 if every case passed, 1 if one
 * failed, 2 if argv[1] names no group.
 */
static inline int run_case_groups(const struct case_group *groups, size_t count,
				  int argc, char **argv)
{
	static struct case_list list;
	const char *only = argc > 1 ? argv[1] : NULL;
	int known = only == NULL;
	int failed = 0;

	for (size_t i = 0; i < count; i++)
		known |= only != NULL && strcmp(only, groups[i].name) == 0;
	if (!known) {
		print_case_usage(argv[0], groups, count);
		return 2;
	}
	for (size_t i = 0; i < count; i++) {
		if (only != NULL && strcmp(only, groups[i].name) != 0)
			continue;
		list.count = 0;
		groups[i].add(&list);
		failed += _cmocka_run_group_tests(groups[i].name, list.tests,
						  list.count, NULL, NULL);
	}
	return failed == 0 ? 0 : 1;
}

#endif /* UNIT_CASES_H */
