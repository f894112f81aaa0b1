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
 * TODO (step 1): level-triggered or edge-triggered? Decide, and replace
 * this paragraph with your reason. Hint: http_session_on_readable()
 * reads at most one buffer per call, and leaves the next request unread
 * while a response is going out.
 *
 * Until you are done, the first TODO reached says so on stderr, and the
 * server exits with status 1.
 */
#define _GNU_SOURCE /* accept4, epoll_pwait */
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
#define MS_PER_S 1000
#define NS_PER_MS 1000000L

/* One client connection. */
struct conn {
	struct http_session session;
	enum http_want want;	 /* what epoll watches for: READ or WRITE */
	long long last_active;	 /* ms, CLOCK_MONOTONIC */
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

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
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
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->oldest = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->newest = c->prev;
}

/* Records activity: the connection becomes the newest. */
static void conn_touch(struct loop *l, struct conn *c)
{
	/*
	 * TODO (step 3): c->last_active = l->now, and move c to the end of
	 * the list (list_remove, list_append) unless it is there already.
	 */
	(void)l;
	(void)c;
	todo("conn_touch");
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
	 * TODO (step 2): http_session_end(), close() the socket (which also
	 * takes it out of the epoll set: nothing else refers to it),
	 * list_remove(), decrement l->count, free(c).
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
	 * TODO (step 2): malloc a struct conn; http_session_init() it on
	 * fd; want = HTTP_WANT_READ, last_active = l->now; epoll_ctl ADD fd
	 * with EPOLLIN and .data.ptr = c (the event then leads straight back
	 * to the connection; the listener's ptr is NULL). list_append(),
	 * increment l->count. On a failure: perror, undo, close fd.
	 * Keep struct conn small: 10,000 idle keep-alive connections are
	 * 10,000 of them.
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
	 * TODO (step 2):
	 * - HTTP_WANT_CLOSE, or l->stopping and http_session_is_idle():
	 *   conn_close().
	 * - want == c->want: nothing to do. Do not call epoll_ctl() when
	 *   nothing changes: most responses fit in the socket buffer, and
	 *   the next want is READ again. A system call per request for
	 *   nothing shows in the benchmark.
	 * - else epoll_ctl MOD with events_for(want) (on failure perror and
	 *   conn_close), and c->want = want.
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
	 * TODO (step 2): call http_session_on_readable() or _on_writable()
	 * as c->want says, conn_touch(), then conn_update() with the
	 * result. (conn_update may free c: use c no more after it.)
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
	 * TODO (step 3): while the oldest connection's last_active is at
	 * or before l->now - l->srv->idle_timeout_ms, conn_close() it. The
	 * list is in order, so the first one still fresh ends the loop.
	 */
	(void)l;
	todo("expire_idle");
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
	 * TODO (step 4): epoll_ctl DEL the listener; l->accept_resume =
	 * l->now + ACCEPT_PAUSE_MS (run_loop and next_timeout use it).
	 */
	(void)l;
	todo("pause_accepting");
	return -1;
}

/* Watches the listener (again). Returns 0, or -1 after a message. */
static int resume_accepting(struct loop *l)
{
	/*
	 * TODO (step 1): epoll_ctl ADD the listener for EPOLLIN with
	 * .data.ptr = NULL; l->accept_resume = 0.
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
	 * TODO (step 2): loop on accept4(listener, NULL, NULL,
	 * SOCK_NONBLOCK | SOCK_CLOEXEC): one wake-up can stand for many
	 * clients. Each new fd: conn_open() (its failure loses only that
	 * client). EAGAIN: all taken, return 0. A transient error
	 * (server_accept_error_is_transient()): go on. EMFILE, ENFILE,
	 * ENOBUFS or ENOMEM: perror and pause_accepting() - with level
	 * triggering the listener would wake you again at once, forever.
	 * Else perror, -1.
	 */
	(void)l;
	(void)conn_open;		 /* remove once you use it */
	(void)pause_accepting;		 /* remove once you use it */
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
	 * TODO (step 4; docs/06-concurrency.md, "Stopping gracefully"): set
	 * l->stopping; close the listener (set it to -1, and accept_resume
	 * to 0); walk the list and conn_close() every connection for which
	 * http_session_is_idle() - take c->next before closing c.
	 */
	(void)l;
	todo("begin_stop");
}

/* Milliseconds until the next timer is due (-1: none). */
static int next_timeout(const struct loop *l)
{
	/*
	 * TODO (step 3): the earlier of the oldest connection's expiry
	 * (last_active + idle_timeout_ms) and l->accept_resume when it is
	 * not 0; -1 when there is neither; 0 when already due.
	 */
	(void)l;
	todo("next_timeout");
	return 0;
}

/* Handles the events of one wake-up. Returns 0, or -1 on a fatal error. */
static int dispatch(struct loop *l, const struct epoll_event *events, int n)
{
	/*
	 * TODO (step 2): for each event: data.ptr NULL is the listener:
	 * accept_all() (unless stopping); else conn_ready() on the conn.
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
	 * TODO (step 2, then 3 and 4): forever:
	 * 1. l->now = monotonic_ms().
	 * 2. *l->srv->stop set and not yet stopping: begin_stop().
	 * 3. Accepting paused and l->now past accept_resume:
	 *    resume_accepting().
	 * 4. expire_idle(). Then, stopping and no connection left: return
	 *    0. (Why after expire_idle? Think of the last connection timing
	 *    out during a stop, and what the wait below would do then.)
	 * 5. epoll_pwait(l->epfd, events, MAX_EVENTS, next_timeout(l),
	 *    &l->srv->wait_mask): the stop signals get in only here. EINTR:
	 *    go round again; another error: perror, -1.
	 * 6. l->now = monotonic_ms(), then dispatch().
	 */
	(void)l;
	(void)monotonic_ms; /* remove once you use it */
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
	 * TODO (step 1): set O_NONBLOCK on the listener (fcntl F_GETFL,
	 * then F_SETFL): accept_all() must meet EAGAIN, not block.
	 * l->epfd = epoll_create1(EPOLL_CLOEXEC). l->now = monotonic_ms(),
	 * then resume_accepting(). Report failures with perror; on failure
	 * close what you opened and return -1.
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
