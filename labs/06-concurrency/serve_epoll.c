/*
 * serve_epoll.c - one thread, an epoll event loop (lab 06).
 *
 * Fill in the functions marked TODO. Every socket is non-blocking and
 * registered with one epoll instance. The loop waits for whichever is
 * ready, and for each one calls the session's on_readable or
 * on_writable, which does what it can without waiting and says what it
 * needs next (http_session.h). Nothing ever blocks, so one thread serves
 * thousands of connections.
 *
 * Idle timeouts: the connections are kept in a list ordered by their
 * last activity, the oldest first. Activity moves a connection to the
 * end, so the timeouts due are always at the front, and the loop waits
 * until the oldest one is due - no scan of every connection.
 *
 * Read first: docs/06-concurrency.md, "Event loops and epoll" and
 * "Stopping gracefully"; conc_server.h; http_session.h; epoll(7).
 *
 * TODO (step 5): level-triggered or edge-triggered? Decide, and replace
 * this paragraph with your reason. Hint: http_session_on_readable()
 * reads at most one buffer per call, and leaves the next request unread
 * while a response is going out.
 *
 * Steps 5 (the loop) and 6 (timeouts, running out of descriptors, the
 * stop) of the handout. Until you are done, the first TODO reached says
 * so on stderr, and the server exits with status 1.
 */
#define _GNU_SOURCE /* accept4 */
#include "conc_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Events taken from the kernel per epoll_pwait(). */
#define MAX_EVENTS 256
/*
 * How long to stop accepting after running out of descriptors: the
 * listener stays readable, so trying again at once would spin.
 */
#define ACCEPT_PAUSE_MS 100

/* One client connection. */
struct conn {
	struct http_session session;
	enum http_want want;	  /* what epoll watches for: READ or WRITE */
	long long last_active;	  /* ms, CLOCK_MONOTONIC */
	struct conn *prev, *next; /* by last activity, the oldest first */
};

struct loop {
	struct server *srv;
	int epfd;
	struct conn *oldest, *newest;
	long count;		 /* connections open */
	long long now;		 /* ms, read once per wake-up */
	long long accept_resume; /* ms; 0 while accepting */
	int stopping;
};

/* Says that a function is still to be written. Sets errno to ENOSYS. */
static void todo(const char *function)
{
	fprintf(stderr, "%s: %s: %s (TODO in serve_epoll.c)\n", PROG, function,
		strerror(ENOSYS));
	errno = ENOSYS;
}

/* ---- the list of connections, by last activity --------------------- */

static void list_append(struct loop *l, struct conn *c)
{
	c->prev = l->newest;
	c->next = NULL;
	if (l->newest != NULL)
		l->newest->next = c;
	else
		l->oldest = c;
	l->newest = c;
}

static void list_remove(struct loop *l, struct conn *c)
{
	if (l->oldest == c)
		l->oldest = c->next;
	else
		c->prev->next = c->next;
	if (l->newest == c)
		l->newest = c->prev;
	else
		c->next->prev = c->prev;
}

/* Records activity: the connection becomes the newest. */
static void conn_touch(struct loop *l, struct conn *c)
{
	/*
	 * TODO (step 6): the connection made progress now (l->now): it becomes
	 * the newest, at the end of the list, so that the list stays ordered by
	 * last activity and the timeouts due are always at its front. Until
	 * then, nothing is recorded.
	 */
	(void)l;
	(void)c;
}

/* ---- connections ----------------------------------------------------- */

static uint32_t events_for(enum http_want want)
{
	return want == HTTP_WANT_WRITE ? EPOLLOUT : EPOLLIN;
}

/* Ends a connection and frees it. */
static void conn_close(struct loop *l, struct conn *c)
{
	/*
	 * TODO (step 5): end the session, close the socket (closing the last
	 * descriptor of a socket also takes it out of the epoll set), take the
	 * connection out of the list and of the count, and free it.
	 */
	(void)l;
	(void)c;
	(void)list_remove; /* remove once you use it */
	todo("conn_close");
}

/*
 * Starts serving a new connection (non-blocking already). Returns 0, or
 * -1 after closing fd and reporting why.
 */
static int conn_open(struct loop *l, int fd)
{
	/*
	 * TODO (step 5): a struct conn for fd, with its session
	 * (http_session_init), waiting to read, active now. Register fd with
	 * epoll for EPOLLIN with .data.ptr = c, so that each event leads
	 * straight back to its connection (the listener's ptr is NULL); append
	 * it to the list and count it. A failure loses this client only: report
	 * it, undo, close fd. Keep struct conn small: 10,000 idle keep-alive
	 * connections are 10,000 of them.
	 */
	(void)l;
	(void)list_append; /* remove once you use it */
	close(fd);
	todo("conn_open");
	return -1;
}

/*
 * Acts on what the session wants next: close, or watch the socket for
 * the other direction.
 */
static void conn_update(struct loop *l, struct conn *c, enum http_want want)
{
	/*
	 * TODO (step 5): follow what the session wants next: close it
	 * (HTTP_WANT_CLOSE, or during a stop once it is idle), or watch its
	 * socket for reading or for writing (events_for). Call epoll_ctl() only
	 * when the direction changes: most responses fit in the socket buffer,
	 * the next want is READ again, and a system call per request for
	 * nothing shows in the benchmark.
	 */
	(void)l;
	(void)c;
	(void)want;
	(void)events_for; /* remove once you use it */
	todo("conn_update");
}

/*
 * A connection is ready. EPOLLERR and EPOLLHUP come whatever we asked
 * for: the session's next recv() or send() then fails or reads the end
 * of the stream, and it says to close.
 */
static void conn_ready(struct loop *l, struct conn *c)
{
	/*
	 * TODO (step 5): let the session read or write, whichever it waits for
	 * (http_session_on_readable or _on_writable), record the activity
	 * (conn_touch), and act on what it wants next (conn_update, which may
	 * free c: use c no more after it).
	 */
	(void)l;
	(void)c;
	(void)conn_touch;  /* remove once you use it */
	(void)conn_update; /* remove once you use it */
	todo("conn_ready");
}

/* Closes every connection that has made no progress for the timeout. */
static void expire_idle(struct loop *l)
{
	/*
	 * TODO (step 6): close the connections that have made no progress for
	 * idle_timeout_ms. They are at the front of the list, oldest first:
	 * stop at the first one still fresh instead of looking at every
	 * connection. Until then, nothing expires.
	 */
	(void)l;
}

/* ---- the listener ---------------------------------------------------- */

/*
 * Stops watching the listener for ACCEPT_PAUSE_MS. Clients keep
 * queueing in the backlog meanwhile, and are accepted once descriptors
 * are free again. Returns 0, or -1 after a message.
 */
static int pause_accepting(struct loop *l)
{
	/*
	 * TODO (step 6): stop watching the listener until ACCEPT_PAUSE_MS from
	 * now (l->accept_resume; run_loop and next_timeout look at it). Out of
	 * descriptors, a listener still watched would wake the loop again at
	 * once, forever, with the clients still waiting.
	 */
	(void)l;
	todo("pause_accepting");
	return -1;
}

/* Watches the listener (again). Returns 0, or -1 after a message. */
static int resume_accepting(struct loop *l)
{
	/*
	 * TODO (step 5): watch the listener for EPOLLIN, with .data.ptr NULL so
	 * that dispatch() tells it from a connection; accepting is no longer
	 * paused (accept_resume 0).
	 */
	(void)l;
	todo("resume_accepting");
	return -1;
}

/*
 * Accepts every waiting client. Returns 0, or -1 after a fatal error.
 */
static int accept_all(struct loop *l)
{
	/*
	 * TODO (step 5): accept every client that is waiting, not just one: one
	 * wake-up may stand for many. Each new socket is non-blocking and
	 * close-on-exec (accept4's flags) and gets conn_open(). EAGAIN means
	 * all are taken: return 0. An error of the new connection only
	 * (net_accept_error_is_transient) is skipped. Running out of
	 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses
	 * accepting (pause_accepting, step 6) rather than ending the server.
	 * Anything else is fatal: report it, -1.
	 */
	(void)l;
	(void)conn_open;       /* remove once you use it */
	(void)pause_accepting; /* remove once you use it */
	todo("accept_all");
	return -1;
}

/* ---- the loop -------------------------------------------------------- */

/*
 * The stop: no more clients; idle connections close now, the others
 * once their response is out (conn_update) or they time out.
 */
static void begin_stop(struct loop *l)
{
	/*
	 * TODO (step 6): from now on l->stopping. Close the listener (set it to
	 * -1; nothing to resume), so that new clients are refused; close now
	 * every connection that is idle between requests
	 * (http_session_is_idle); the others close once their response is out
	 * (conn_update) or they time out. Closing frees the connection: take
	 * the next one in the list first. See docs/06-concurrency.md, "Stopping
	 * gracefully".
	 */
	(void)l;
	todo("begin_stop");
}

/* Milliseconds until the next timer is due (-1: none). */
static int next_timeout(const struct loop *l)
{
	/*
	 * TODO (step 6): how long the loop may sleep: until the oldest
	 * connection's timeout is due (last_active + idle_timeout_ms) or
	 * accepting resumes (accept_resume, when not 0), whichever comes first;
	 * 0 when one is due already; -1 (no limit) when there is neither.
	 * Longer would miss a timeout, shorter wakes the loop for nothing.
	 * Until then, no limit.
	 */
	(void)l;
	return -1;
}

/* Handles the events of one wake-up. Returns 0, or -1 on a fatal error. */
static int dispatch(struct loop *l, const struct epoll_event *events, int n)
{
	/*
	 * TODO (step 5): each event is either the listener (data.ptr NULL:
	 * accept everybody waiting, unless stopping) or a connection
	 * (conn_ready).
	 */
	(void)l;
	(void)events;
	(void)n;
	(void)accept_all; /* remove once you use it */
	(void)conn_ready; /* remove once you use it */
	todo("dispatch");
	return -1;
}

/* Runs until stopped and every connection is gone. */
static int run_loop(struct loop *l)
{
	/*
	 * TODO (step 5, then step 6): the loop, until it is stopped and no
	 * connection is left. Each turn: read the clock (l->now =
	 * net_now_ms()) once for everything the turn decides; wait with
	 * epoll_pwait() and l->srv->wait_mask, the only place the stop
	 * signals get in (EINTR: go round again), no longer than
	 * next_timeout(); read the clock again and dispatch() the events.
	 * Step 6 adds, before the wait: begin_stop() once *l->srv->stop is
	 * set; resume_accepting() once a pause is over; expire_idle(); and
	 * return 0 when stopping with no connection left - after
	 * expire_idle(), since the last connection may time out during a
	 * stop, and the wait would then sleep with nothing left to wake it.
	 */
	(void)l;
	(void)expire_idle;  /* remove once you use it */
	(void)begin_stop;   /* remove once you use it */
	(void)next_timeout; /* remove once you use it */
	(void)dispatch;	    /* remove once you use it */
	todo("run_loop");
	return -1;
}

/* Makes the listener non-blocking and watches it. Returns 0 or -1. */
static int loop_open(struct loop *l)
{
	/*
	 * TODO (step 5): make the listener non-blocking (accept_all() must meet
	 * EAGAIN, never block the loop), create the epoll instance
	 * (close-on-exec), read the clock, and watch the listener
	 * (resume_accepting). On a failure: report it, close what you opened,
	 * return -1.
	 */
	(void)l;
	(void)resume_accepting; /* remove once you use it */
	todo("loop_open");
	return -1;
}

int serve_epoll(struct server *srv)
{
	struct loop l = {.srv = srv, .epfd = -1};

	if (loop_open(&l) < 0)
		return -1;
	int status = run_loop(&l);
	/* Connections are left only after a fatal error. */
	for (struct conn *c = l.oldest, *next; c != NULL; c = next) {
		next = c->next;
		conn_close(&l, c);
	}
	close(l.epfd);
	return status;
}
