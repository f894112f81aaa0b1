/*
 * serve_fork.c - a process per connection (lab 06).
 *
 * Fill in the functions marked TODO. The parent only accepts: each
 * connection is served by a child process of its own, which runs
 * http_session_serve() and exits. The parent reaps children as they
 * exit (SIGCHLD wakes it), and on a stop signal it closes the listener,
 * tells the children through the stop pipe to finish the response in
 * flight, and waits for every one of them.
 *
 * Read first: docs/06-concurrency.md, "Processes" and "Stopping
 * gracefully"; conc_server.h (what main hands you); and the
 * http_session_serve() contract in http_session.h.
 *
 * Until you are done, the first TODO reached says so on stderr, and the
 * server exits with status 1.
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
#define MS_PER_S 1000
#define NS_PER_MS 1000000L

/* The signal state the parent sets up, and what a child puts back. */
struct fork_signals {
	sigset_t wait_mask; /* srv->wait_mask, and SIGCHLD let in too */
	sigset_t old_mask;  /* the mask before SIGCHLD was blocked */
	struct sigaction old_chld;
};

/* Says that a function is still to be written. Sets errno to ENOSYS. */
static void todo(const char *function)
{
	fprintf(stderr, "%s: %s: %s (TODO in serve_fork.c)\n", PROG, function,
		strerror(ENOSYS));
	errno = ENOSYS;
}

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
	/*
	 * TODO (step 1):
	 * 1. Block SIGCHLD with sigprocmask(SIG_BLOCK, ...), saving the old
	 *    mask in fs->old_mask.
	 * 2. sigaction(SIGCHLD, ...) with on_child_exit as the handler and
	 *    SA_NOCLDSTOP (children stopping are no news), saving the old
	 *    action in fs->old_chld. On failure, put the mask back.
	 * 3. fs->wait_mask: srv->wait_mask without SIGCHLD (sigdelset). You
	 *    will wait with it, so that SIGCHLD, like the stop signals, gets
	 *    in only while you wait: then a child exiting just before the
	 *    wait still ends the wait at once, instead of being missed.
	 */
	(void)srv;
	(void)fs;
	(void)on_child_exit; /* remove once you use it */
	todo("catch_child_exits");
	return -1;
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
	/*
	 * TODO (step 2): call waitpid(-1, &status, WNOHANG) until it
	 * returns 0 (children left, none exited) or -1 (ECHILD: no
	 * children at all; anything else deserves a perror).
	 * report_child() each one reaped. Why WNOHANG: the parent must go
	 * back to accepting, not wait for a child that is still serving.
	 */
	(void)report_child; /* remove once you use it */
	todo("reap_children");
}

/* Waits for every child to exit. */
static void wait_all_children(void)
{
	/*
	 * TODO (step 4): waitpid(-1, &status, 0) until it fails with ECHILD
	 * (none left); retry on EINTR. This wait has no timeout: it ends
	 * because every child ends - at its next idle moment once the stop
	 * pipe is readable, or after -t seconds without progress.
	 */
	todo("wait_all_children");
}

/*
 * The child: serves one connection, then exits; never returns.
 */
static void run_child(struct server *srv, int fd, const struct fork_signals *fs)
{
	/*
	 * TODO (step 3), in the child:
	 * 1. Close what belongs to the parent: srv->listener (only the
	 *    parent accepts) and srv->stop_fd_write (so that if the parent
	 *    dies, the stop pipe reports end-of-file and the children stop).
	 * 2. Ignore SIGINT and SIGTERM (sigaction with SIG_IGN): Ctrl-C and
	 *    the grader signal the whole process group, children included,
	 *    and that must not cut their responses short; the parent tells
	 *    them when to stop, through the stop pipe. Then
	 *    restore_signals(fs).
	 * 3. http_session_serve(fd, &srv->site, srv->idle_timeout_ms,
	 *    srv->stop_fd); perror if it returns -1; close(fd) and
	 *    srv->stop_fd.
	 * 4. _exit(), not exit(): exit() would flush stdio buffers copied
	 *    from the parent (printing their contents twice).
	 */
	(void)srv;
	(void)fs;
	close(fd);
	todo("run_child");
	_exit(EXIT_FAILURE);
}

/*
 * Waits up to ms milliseconds, or less if a signal (a stop, a child
 * exiting) comes first.
 */
static void pause_ms(const struct fork_signals *fs, int ms)
{
	struct timespec ts = {ms / MS_PER_S, (long)(ms % MS_PER_S) * NS_PER_MS};

	ppoll(NULL, 0, &ts, &fs->wait_mask);
}

/*
 * Accepts one connection and hands it to a new child. Returns 0 (also
 * when this connection could not be served), or -1 after a fatal error.
 */
static int accept_one(struct server *srv, const struct fork_signals *fs)
{
	/*
	 * TODO (step 3):
	 * 1. fd = accept4(srv->listener, NULL, NULL, SOCK_CLOEXEC). On
	 *    failure: a transient error
	 *    (server_accept_error_is_transient()) returns 0; EMFILE,
	 *    ENFILE, ENOBUFS or ENOMEM: perror, pause_ms(fs,
	 *    ACCEPT_PAUSE_MS) and return 0 - the listener stays readable,
	 *    so trying again at once would spin; anything else: perror, -1.
	 * 2. fork(). In the child (0): run_child(). Failed (-1, EAGAIN when
	 *    there are too many processes): perror, close the connection,
	 *    pause as above, return 0 - one client refused, not the server
	 *    dead.
	 * 3. In the parent, close(fd): the child has its own copy. Think
	 *    about what happens if you forget: the connection ends only when
	 *    every copy is closed (docs/06-concurrency.md, "Processes").
	 */
	(void)srv;
	(void)fs;
	(void)run_child;		 /* remove once you use it */
	(void)pause_ms;			 /* remove once you use it */
	todo("accept_one");
	return -1;
}

/*
 * Accepts connections until a stop signal. Returns 0 when stopped, or
 * -1 after a fatal error.
 */
static int accept_loop(struct server *srv, const struct fork_signals *fs)
{
	/*
	 * TODO (step 2): while *srv->stop is not set:
	 * 1. reap_children(): after every wake-up - SIGCHLD interrupts
	 *    ppoll() when a child exits.
	 * 2. ppoll() on srv->listener (POLLIN), no timeout, with
	 *    fs->wait_mask. EINTR: a stop or a child; go round again.
	 * 3. accept_one(); -1 ends the loop with -1.
	 */
	(void)srv;
	(void)fs;
	(void)reap_children; /* remove once you use it */
	(void)accept_one;    /* remove once you use it */
	todo("accept_loop");
	return -1;
}

/*
 * After the accept loop: stop accepting, tell every child to finish,
 * and wait for them.
 */
static void stop_children(struct server *srv)
{
	/*
	 * TODO (step 4), in this order (docs/06-concurrency.md, "Stopping
	 * gracefully"):
	 * 1. close(srv->listener) and set it to -1: new clients are now
	 *    refused by the kernel instead of waiting in the backlog.
	 * 2. server_broadcast_stop(srv): the stop pipe becomes readable in
	 *    every child; each finishes its response in flight and exits.
	 * 3. wait_all_children().
	 */
	(void)srv;
	(void)wait_all_children; /* remove once you use it */
	todo("stop_children");
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
