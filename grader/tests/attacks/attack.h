/*
 * attack.h - what the hostile submissions in this folder share. Each file
 * here poses as lab 01's echo_server.c: a server whose echo is wrong (it
 * upper-cases what it echoes), so that graded honestly it loses most of
 * the server tests, plus one attack on the grader, tried when it starts.
 * Compiled with -DNO_ATTACK, each is that wrong echo alone: the score an
 * attack must not raise (grader/tests/test_attacks.py).
 *
 * Not student code, and not a model of it: these are the grader's own
 * test fixtures, written to be short, not careful.
 */
#ifndef ATTACK_H
#define ATTACK_H

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tiny_echo.h"

#define MAX_ROOTS 16

/* What an attack says it managed: the test looks for these words. */
static inline void attack_report(const char *fmt, ...)
{
	va_list ap;

	fputs("ATTACK: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Whether dir looks like the course's top folder. */
static inline int is_course_root(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/grader/__main__.py", dir);
	return access(path, F_OK) == 0;
}

/*
 * Every course folder this process can find: above its own program, in
 * the working folders of every process it can see, and where Gradescope
 * unpacks an autograder. Returns how many were stored in roots.
 */
static inline int find_course_roots(char roots[][PATH_MAX], int max)
{
	char path[PATH_MAX], link[PATH_MAX];
	int count = 0;
	DIR *proc = opendir("/proc");
	struct dirent *entry;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n > 0) {
		path[n] = '\0';
		for (char *slash = strrchr(path, '/'); slash && count < max;
		     slash = strrchr(path, '/')) {
			*slash = '\0';
			if (is_course_root(path))
				snprintf(roots[count++], PATH_MAX, "%s", path);
		}
	}
	while (proc && (entry = readdir(proc)) && count < max) {
		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cwd", entry->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (is_course_root(link))
			snprintf(roots[count++], PATH_MAX, "%s", link);
	}
	if (proc)
		closedir(proc);
	if (count < max && is_course_root("/autograder/source"))
		snprintf(roots[count++], PATH_MAX, "/autograder/source");
	return count;
}

/* Writes text into path; 0 on success. */
static inline int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* The wrong echo: upper-cases what it sends back. */
static inline void wrong_echo_forever(int listener)
{
	for (;;) {
		char buf[4096];
		ssize_t n;
		int client = accept(listener, NULL, NULL);

		if (client < 0)
			continue;
		while ((n = recv(client, buf, sizeof(buf), 0)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				buf[i] = (char)toupper((unsigned char)buf[i]);
			if (send(client, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
		close(client);
	}
}

void attack(void);

int main(void)
{
	int listener;

	signal(SIGPIPE, SIG_IGN);
#ifndef NO_ATTACK
	attack();
#endif
	listener = tiny_listen_and_announce();
	wrong_echo_forever(listener);
}

#endif /* ATTACK_H */
