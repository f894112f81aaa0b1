/*
 * serve_epoll.c - one thread, an epoll event loop (lab 06, reference).
 *
 * Every socket is non-blocking and registered with one epoll instance.
 * The loop waits for whichever is ready, and for each one calls the
 * session's on_readable or on_writable, which does what it can without
 * waiting and says what it needs next. Nothing ever blocks, so one
 * thread serves thousands of connections; an idle one costs a struct
 * conn (about 150 bytes) and the kernel's socket.
 *
 * Level-triggered: epoll reports a socket for as long as it is ready,
 * not only when it becomes ready (edge-triggered). A session reads at
 * most one buffer per call, and a connection whose response is in
 * progress leaves the next request unread; with edge triggering, bytes
 * left behind would never be reported again and the connection would
 * hang. Level triggering costs nothing extra here: interest is only
 * EPOLLIN or only EPOLLOUT, whichever the session waits for, so a
 * ready socket is one the session will use.
 *
 * Idle timeouts: the connections are kept in a list ordered by their
 * last activity, the oldest first. Activity moves a connection to the
 * end, so the timeouts due are always at the front, and the wait lasts
 * until the oldest one is due. See docs/06-concurrency.md, "Event loops
 * and epoll".
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
	c->last_active = l->now;
	if (l->newest != c) {
		list_remove(l, c);
		list_append(l, c);
	}
}

/* ---- connections ----------------------------------------------------- */

static uint32_t events_for(enum http_want want)
{
	return want == HTTP_WANT_WRITE ? EPOLLOUT : EPOLLIN;
}

/*
 * Ends a connection. close() also takes the socket out of the epoll
 * set, because no other descriptor refers to it (no dup, no fork).
 */
static void conn_close(struct loop *l, struct conn *c)
{
	http_session_end(&c->session);
	close(c->session.fd);
	list_remove(l, c);
	l->count--;
	free(c);
}

/*
 * Starts serving a new connection (non-blocking already). Returns 0, or
 * -1 after closing fd and reporting why.
 */
static int conn_open(struct loop *l, int fd)
{
	struct conn *c = malloc(sizeof(*c));

	if (c == NULL) {
		perror(PROG ": malloc");
		close(fd);
		return -1;
	}
	http_session_init(&c->session, &l->srv->site, fd);
	c->want = HTTP_WANT_READ;
	c->last_active = l->now;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror(PROG ": epoll_ctl ADD");
		http_session_end(&c->session);
		close(fd);
		free(c);
		return -1;
	}
	list_append(l, c);
	l->count++;
	return 0;
}

/*
 * Acts on what the session wants next: close, or watch the socket for
 * the other direction. epoll_ctl() only when the want changes: most
 * responses fit the socket buffer, and the next want is READ again.
 */
static void conn_update(struct loop *l, struct conn *c, enum http_want want)
{
	if (want == HTTP_WANT_CLOSE ||
	    (l->stopping && http_session_is_idle(&c->session))) {
		conn_close(l, c);
		return;
	}
	if (want == c->want)
		return;
	struct epoll_event ev = {.events = events_for(want), .data.ptr = c};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->session.fd, &ev) < 0) {
		perror(PROG ": epoll_ctl MOD");
		conn_close(l, c);
		return;
	}
	c->want = want;
}

/*
 * A connection is ready. EPOLLERR and EPOLLHUP come whatever we asked
 * for: the session's next recv() or send() then fails or reads the end
 * of the stream, and it says to close.
 */
static void conn_ready(struct loop *l, struct conn *c)
{
	enum http_want want = c->want == HTTP_WANT_READ
				      ? http_session_on_readable(&c->session)
				      : http_session_on_writable(&c->session);

	conn_touch(l, c);
	conn_update(l, c, want);
}

/* Closes every connection that has made no progress for the timeout. */
static void expire_idle(struct loop *l)
{
	long long cutoff = l->now - l->srv->idle_timeout_ms;

	while (l->oldest != NULL && l->oldest->last_active <= cutoff)
		conn_close(l, l->oldest);
}

/* ---- the listener ---------------------------------------------------- */

/*
 * Stops watching the listener for a while. Clients keep queueing in the
 * backlog meanwhile, and are accepted once descriptors are free again.
 */
static int pause_accepting(struct loop *l)
{
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->srv->listener, NULL) < 0) {
		perror(PROG ": epoll_ctl DEL listener");
		return -1;
	}
	l->accept_resume = l->now + ACCEPT_PAUSE_MS;
	return 0;
}

static int resume_accepting(struct loop *l)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->srv->listener, &ev) < 0) {
		perror(PROG ": epoll_ctl ADD listener");
		return -1;
	}
	l->accept_resume = 0;
	return 0;
}

/*
 * Accepts every waiting client: one wake-up can stand for many of
 * them, and the listener is non-blocking, so the loop ends at EAGAIN.
 * Returns 0, or -1 after a fatal error.
 */
static int accept_all(struct loop *l)
{
	for (;;) {
		int fd = accept4(l->srv->listener, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_open(l, fd); /* a failure only loses this one */
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (net_accept_error_is_transient(errno))
			continue;
		perror(PROG ": accept");
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			return pause_accepting(l);
		return -1;
	}
}

/* ---- the loop -------------------------------------------------------- */

/*
 * The stop: no more clients; idle connections close now, the others
 * once their response is out (conn_update) or they time out.
 */
static void begin_stop(struct loop *l)
{
	struct conn *c = l->oldest;

	l->stopping = 1;
	close(l->srv->listener); /* also leaves the epoll set */
	l->srv->listener = -1;
	l->accept_resume = 0;
	while (c != NULL) {
		struct conn *next = c->next;
		if (http_session_is_idle(&c->session))
			conn_close(l, c);
		c = next;
	}
}

/* Milliseconds until the next timer is due (-1: none). */
static int next_timeout(const struct loop *l)
{
	long long due = -1;

	if (l->oldest != NULL)
		due = l->oldest->last_active + l->srv->idle_timeout_ms;
	if (l->accept_resume != 0 && (due < 0 || l->accept_resume < due))
		due = l->accept_resume;
	if (due < 0)
		return -1;
	return due <= l->now ? 0 : (int)(due - l->now);
}

/* Handles the events of one wake-up. Returns 0, or -1 on a fatal error. */
static int dispatch(struct loop *l, const struct epoll_event *events, int n)
{
	for (int i = 0; i < n; i++) {
		struct conn *c = events[i].data.ptr;
		if (c != NULL)
			conn_ready(l, c);
		else if (!l->stopping && accept_all(l) < 0)
			return -1;
	}
	return 0;
}

/* Runs until stopped and every connection is gone. */
static int run_loop(struct loop *l)
{
	struct epoll_event events[MAX_EVENTS];

	for (;;) {
		l->now = net_now_ms();
		if (*l->srv->stop && !l->stopping)
			begin_stop(l);
		if (l->accept_resume != 0 && l->now >= l->accept_resume &&
		    resume_accepting(l) < 0)
			return -1;
		expire_idle(l);
		/* Last, once the closes above are done: else wait forever. */
		if (l->stopping && l->count == 0)
			return 0;
		int n = epoll_pwait(l->epfd, events, MAX_EVENTS,
				    next_timeout(l), &l->srv->wait_mask);
		if (n < 0) {
			if (errno == EINTR)
				continue; /* a stop signal, probably */
			perror(PROG ": epoll_pwait");
			return -1;
		}
		l->now = net_now_ms();
		if (dispatch(l, events, n) < 0)
			return -1;
	}
}

/* Makes the listener non-blocking and watches it. Returns 0 or -1. */
static int loop_open(struct loop *l)
{
	int flags = fcntl(l->srv->listener, F_GETFL);

	if (flags < 0 ||
	    fcntl(l->srv->listener, F_SETFL, flags | O_NONBLOCK) < 0) {
		perror(PROG ": fcntl O_NONBLOCK");
		return -1;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		perror(PROG ": epoll_create1");
		return -1;
	}
	l->now = net_now_ms();
	if (resume_accepting(l) < 0) {
		close(l->epfd);
		return -1;
	}
	return 0;
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
