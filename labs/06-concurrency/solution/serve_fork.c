/*
 * serve_fork.c - a process per connection (lab 06, reference).
 *
 * The parent only accepts: each connection is served by a child process
 * of its own, which runs http_session_serve() and exits. The parent
 * reaps children as they exit (SIGCHLD wakes it), and on a stop signal
 * it closes the listener, tells the children through the stop pipe to
 * finish the response in flight, and waits for every one of them.
 * See docs/06-concurrency.md, "Processes".
 */
#define _GNU_SOURCE /* ppoll, accept4 */
#include "conc_server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long to stop accepting after running out of descriptors or
 * processes, so that exiting children can free some. */
#define ACCEPT_PAUSE_MS 100

/* The signal state the parent sets up, and what a child puts back. */
struct fork_signals {
	sigset_t wait_mask; /* srv->wait_mask, and SIGCHLD let in too */
	sigset_t old_mask;  /* the mask before SIGCHLD was blocked */
	struct sigaction old_chld;
};

/*
 * Does nothing: its only job is to exist, so that SIGCHLD interrupts
 * ppoll() (the default action discards the signal without waking us).
 */
static void on_child_exit(int signo)
{
	(void)signo;
}

/*
 * Makes a child's exit wake the parent from ppoll(): SIGCHLD gets a
 * handler, and is blocked except while waiting, for the same reason as
 * the stop signals (conc_server.h). Returns 0, or -1 with errno set.
 */
static int catch_child_exits(const struct server *srv, struct fork_signals *fs)
{
	struct sigaction sa;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, &fs->old_mask) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_exit;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP; /* exits only, not stops */
	if (sigaction(SIGCHLD, &sa, &fs->old_chld) < 0) {
		sigprocmask(SIG_SETMASK, &fs->old_mask, NULL);
		return -1;
	}
	fs->wait_mask = srv->wait_mask;
	sigdelset(&fs->wait_mask, SIGCHLD);
	return 0;
}

/* Puts SIGCHLD's action and the signal mask back as they were. */
static void restore_signals(const struct fork_signals *fs)
{
	sigaction(SIGCHLD, &fs->old_chld, NULL);
	sigprocmask(SIG_SETMASK, &fs->old_mask, NULL);
}

/* Says how a child ended, unless it ended well. */
static void report_child(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: child %ld killed by signal %d (%s)\n",
			PROG, (long)pid, WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(stderr, "%s: child %ld exited with status %d\n", PROG,
			(long)pid, WEXITSTATUS(status));
}

/*
 * Reaps every child that has exited, without waiting for the others.
 * A child that has exited stays a zombie - an entry in the process
 * table - until its parent collects its status.
 */
static void reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		report_child(pid, status);
	if (pid < 0 && errno != ECHILD)
		perror(PROG ": waitpid");
}

/* Waits for every child to exit. */
static void wait_all_children(void)
{
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid > 0) {
			report_child(pid, status);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != ECHILD) /* ECHILD: none left */
			perror(PROG ": waitpid");
		return;
	}
}

/*
 * The child: serves one connection, then exits. It drops what belongs
 * to the parent first: the listener (only the parent accepts) and the
 * stop pipe's write end (so that if the parent dies, the pipe's read
 * end reports end-of-file and every child stops). The stop signals are
 * ignored: a Ctrl-C or a SIGTERM sent to the whole process group reaches
 * the children too, and must not cut their responses short - the parent
 * tells them when to stop, through the stop pipe.
 */
static void run_child(struct server *srv, int fd, const struct fork_signals *fs)
{
	struct sigaction ignore;

	close(srv->listener);
	close(srv->stop_fd_write);
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	if (sigaction(SIGINT, &ignore, NULL) < 0 ||
	    sigaction(SIGTERM, &ignore, NULL) < 0)
		perror(PROG ": child: sigaction");
	restore_signals(fs);

	long served = http_session_serve(fd, &srv->site, srv->idle_timeout_ms,
					 srv->stop_fd);
	if (served < 0)
		perror(PROG ": child: connection");
	close(fd);
	close(srv->stop_fd);
	/*
	 * _exit, not exit: exit() would flush stdio buffers copied from the
	 * parent (printing their contents twice) and run its atexit code.
	 */
	_exit(served < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* Starts a child for connection fd; returns 0, or -1 with errno set. */
static int start_child(struct server *srv, int fd,
		       const struct fork_signals *fs)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		run_child(srv, fd, fs); /* does not return */
	return 0;
}

/*
 * Waits up to ms milliseconds, or less if a signal (a stop, a child
 * exiting) comes first.
 */
static void pause_ms(const struct fork_signals *fs, int ms)
{
	net_wait(NULL, 0, ms, &fs->wait_mask);
}

/* Out of descriptors or memory: it may pass once children exit. */
static int accept_error_is_resource(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

/*
 * Accepts one connection and hands it to a new child. Returns 0 (also
 * when this connection could not be served), or -1 after a fatal error.
 */
static int accept_one(struct server *srv, const struct fork_signals *fs)
{
	int fd = accept4(srv->listener, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (net_accept_error_is_transient(errno))
			return 0;
		perror(PROG ": accept");
		if (!accept_error_is_resource(errno))
			return -1;
		pause_ms(fs, ACCEPT_PAUSE_MS);
		return 0;
	}
	if (start_child(srv, fd, fs) < 0) {
		/* EAGAIN: too many processes. Refuse this one client. */
		perror(PROG ": fork");
		close(fd);
		pause_ms(fs, ACCEPT_PAUSE_MS);
		return 0;
	}
	/*
	 * The child has its own copy of the socket. Ours must go: the
	 * connection ends only when every copy is closed, so with ours open
	 * the client would never see the end of the stream after the child
	 * closes; and each connection would leave one more descriptor in
	 * the parent, until accept() fails with EMFILE.
	 */
	close(fd);
	return 0;
}

/*
 * Accepts connections until a stop signal. Reaps exited children after
 * every wake-up: SIGCHLD interrupts ppoll() when one exits.
 */
static int accept_loop(struct server *srv, const struct fork_signals *fs)
{
	struct pollfd pfd = {.fd = srv->listener, .events = POLLIN};

	while (!*srv->stop) {
		reap_children();
		int n = ppoll(&pfd, 1, NULL, &fs->wait_mask);
		if (n < 0) {
			if (errno == EINTR)
				continue; /* a stop or a child: look again */
			perror(PROG ": ppoll");
			return -1;
		}
		if (accept_one(srv, fs) < 0)
			return -1;
	}
	return 0;
}

/*
 * After the accept loop: stop accepting, tell every child to finish,
 * and wait for them.
 */
static void stop_children(struct server *srv)
{
	close(srv->listener); /* new clients are refused from now on */
	srv->listener = -1;
	server_broadcast_stop(srv);
	wait_all_children();
}

int serve_fork(struct server *srv)
{
	struct fork_signals fs;

	if (catch_child_exits(srv, &fs) < 0) {
		perror(PROG ": SIGCHLD handler");
		return -1;
	}
	int status = accept_loop(srv, &fs);
	stop_children(srv);
	restore_signals(&fs);
	return status;
}
