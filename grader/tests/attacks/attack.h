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

/* The parent of pid, from /proc/PID/stat, or -1. */
static inline pid_t parent_of(pid_t pid)
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

/*
 * The processes above this one (parent, grandparent, ...) whose command
 * line holds "grader": the grader that runs it, and nothing else on the
 * machine. Returns how many were stored in pids.
 */
static inline int grader_ancestors(pid_t *pids, int max)
{
	int count = 0;

	for (pid_t pid = getppid(); pid > 1 && count < max; pid = parent_of(pid)) {
		char path[64], cmd[512] = "";
		FILE *f;

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
		if (strstr(cmd, "grader"))
			pids[count++] = pid;
	}
	return count;
}

/*
 * Every course folder this process can find: above its own program, in
 * the working folders of the graders above it, and where Gradescope
 * unpacks an autograder. Returns how many were stored in roots.
 */
static inline int find_course_roots(char roots[][PATH_MAX], int max)
{
	char path[PATH_MAX], link[PATH_MAX];
	pid_t graders[MAX_ROOTS];
	int count = 0, found = grader_ancestors(graders, MAX_ROOTS);
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
	for (int i = 0; i < found && count < max; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cwd", (int)graders[i]);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (is_course_root(link))
			snprintf(roots[count++], PATH_MAX, "%s", link);
	}
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

int main(int argc, char **argv)
{
	int listener;

	signal(SIGPIPE, SIG_IGN);
#ifndef NO_ATTACK
	attack();
#endif
	listener = tiny_listen_and_announce(argc, argv);
	wrong_echo_forever(listener);
}

#endif /* ATTACK_H */
