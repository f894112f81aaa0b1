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
 * Steps 1 and 2 of the handout. Until you are done, the first TODO
 * reached says so on stderr, and the server exits with status 1.
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
	 * TODO (step 1): make a child's exit wake the parent's wait. By default
	 * SIGCHLD is discarded without waking anybody, so it needs a handler
	 * (on_child_exit, which only has to exist); a child that merely stops
	 * is no news (SA_NOCLDSTOP). Like the stop signals, SIGCHLD must stay
	 * blocked except while the parent waits, or a child that exits between
	 * a look and the wait is missed until the next client comes: block it,
	 * keep the old mask and action in *fs for restore_signals(), and make
	 * fs->wait_mask the mask to wait with: srv->wait_mask with SIGCHLD let
	 * in too. See docs/06-concurrency.md, "Zombies, SIGCHLD and waitpid".
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
	 * TODO (step 1): collect the status of every child that has exited
	 * (report_child() says how it ended), and only of those: the parent
	 * must go back to accepting, not wait for a child that is still
	 * serving. A child nobody collects stays a zombie, an entry in the
	 * process table, until its parent exits.
	 */
	(void)report_child; /* remove once you use it */
	todo("reap_children");
}

/* Waits for every child to exit. */
static void wait_all_children(void)
{
	/*
	 * TODO (step 2): wait, with no time limit, until no child is left; a
	 * signal interrupting the wait is no reason to stop waiting. The wait
	 * ends because every child ends: at its next idle moment once the stop
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
	 * TODO (step 1): the child serves fd with http_session_serve() and
	 * exits; it never returns. First it lets go of what is the parent's:
	 * the listener (only the parent accepts) and srv->stop_fd_write (so
	 * that the stop pipe reads end-of-file if the parent dies). It ignores
	 * SIGINT and SIGTERM: Ctrl-C and the grader signal the whole process
	 * group, and a child must not be cut off in the middle of a response;
	 * the parent tells it when to stop, through the stop pipe. Then it puts
	 * the signal mask back (restore_signals). It ends with _exit(): exit()
	 * would flush stdio buffers copied from the parent, printing their
	 * contents twice, and a return would run the parent's accept loop in
	 * the child.
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
	net_wait(NULL, 0, ms, &fs->wait_mask);
}

/*
 * Accepts one connection and hands it to a new child. Returns 0 (also
 * when this connection could not be served), or -1 after a fatal error.
 */
static int accept_one(struct server *srv, const struct fork_signals *fs)
{
	/*
	 * TODO (step 1): accept one client (accept4 with SOCK_CLOEXEC) and fork
	 * a child to serve it (run_child). The parent then closes its copy of
	 * the connection: a connection ends only when every copy of its
	 * descriptor is closed, so a parent that keeps them runs out of
	 * descriptors and its clients never see the end of the stream
	 * (docs/06-concurrency.md, "Descriptors are inherited, so both sides
	 * close"). An error that belongs to the new connection only
	 * (net_accept_error_is_transient) means no client this time: return
	 * 0. Running out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) or of
	 * processes (fork failing) costs one client, not the server: report it,
	 * close what is open, pause_ms(), and return 0; the listener stays
	 * readable, so trying again at once would spin. Anything else is fatal:
	 * -1.
	 */
	(void)srv;
	(void)fs;
	(void)run_child; /* remove once you use it */
	(void)pause_ms;	 /* remove once you use it */
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
	 * TODO (step 1): accept clients until *srv->stop is set. Wait for the
	 * listener with ppoll() and fs->wait_mask: the wait is the only moment
	 * a stop signal or SIGCHLD can get in (and it then ends with EINTR:
	 * look at the flag again). After every wake-up, reap_children(): the
	 * wake-up may be a child that exited.
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
	 * TODO (step 2): stop in the order of docs/06-concurrency.md, "Stopping
	 * gracefully". Close the listener first (and set it to -1), so that new
	 * clients are refused by the kernel instead of waiting in the backlog
	 * for nobody; then tell every child to finish its response in flight
	 * and exit (server_broadcast_stop); then wait for all of them.
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
