/*
 * serve_thread.c - threads (lab 06).
 *
 * Fill in the functions marked TODO. The main thread only accepts. With
 * -w 0 each connection gets a new detached thread, and a count of live
 * threads (under a mutex, with a condition variable) lets the stop wait
 * for the last one. With -w N a pool of N threads, started once, takes
 * connections from a bounded queue (a mutex and two condition
 * variables: "not empty" for the workers, "not full" for the acceptor).
 * Either way a thread serves its connection with http_session_serve(),
 * which watches the stop pipe.
 *
 * Read first: docs/06-concurrency.md, "Threads" and "Stopping
 * gracefully"; conc_server.h; http_session.h. Check your work with
 * ThreadSanitizer (the "Threads" section says how): a data race can
 * pass every test a hundred times and fail on the hundred-and-first.
 *
 * Until you are done, the first TODO reached says so on stderr, and the
 * server exits with status 1.
 */
#define _GNU_SOURCE /* ppoll, accept4 */
#include "conc_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * A thread's stack. The default (8 MiB, from ulimit -s) is address
 * space reserved per thread: a few hundred threads would reach the
 * grader's memory limit. A session needs a few tens of kilobytes (its
 * path buffers), sanitizers included.
 */
#define THREAD_STACK_SIZE (256 * 1024)
/* Connections accepted but not yet taken by a pool worker. */
#define QUEUE_SIZE 256
/* With the queue full, how often the acceptor looks for a stop signal. */
#define QUEUE_WAIT_MS 100
/* How long to stop accepting after running out of descriptors. */
#define ACCEPT_PAUSE_MS 100
#define MS_PER_S 1000
#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

/* next_connection()'s results besides a descriptor. */
#define NO_CONNECTION (-1) /* nothing to serve now: look at *stop again */
#define ACCEPT_FATAL (-2)  /* reported; the server cannot go on */

/* Threads serving one connection each (-w 0), and how many are alive. */
struct live_threads {
	pthread_mutex_t lock;
	pthread_cond_t none_left;
	long count;
};

/* What a connection's thread gets: freed by the thread. */
struct conn_job {
	const struct server *srv;
	struct live_threads *live;
	int fd;
};

/* Accepted connections waiting for a pool worker (a ring buffer). */
struct conn_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty; /* workers wait on it */
	pthread_cond_t not_full;  /* the acceptor waits on it */
	int fds[QUEUE_SIZE];
	size_t head, len;
	int closing; /* set once: workers leave instead of waiting */
};

struct pool {
	const struct server *srv;
	struct conn_queue queue;
	pthread_t *threads;
	int started;
};

/* Says that a function is still to be written. Sets errno to ENOSYS. */
static void todo(const char *function)
{
	fprintf(stderr, "%s: %s: %s (TODO in serve_thread.c)\n", PROG,
		function, strerror(ENOSYS));
	errno = ENOSYS;
}

/* Serves one connection to its end and closes it. */
static void serve_and_close(const struct server *srv, int fd)
{
	if (http_session_serve(fd, &srv->site, srv->idle_timeout_ms,
			       srv->stop_fd) < 0)
		perror(PROG ": connection"); /* perror is thread-safe */
	close(fd);
}

/*
 * Lets a pending stop signal in: the stop signals are blocked except
 * while waiting with srv->wait_mask, and a wait of zero is enough.
 */
static void take_pending_signals(const struct server *srv)
{
	struct timespec zero = {0, 0};

	ppoll(NULL, 0, &zero, &srv->wait_mask);
}

/* Waits up to ms milliseconds, or less if a stop signal comes. */
static void pause_ms(const struct server *srv, int ms)
{
	struct timespec ts = {ms / MS_PER_S, (long)(ms % MS_PER_S) * NS_PER_MS};

	ppoll(NULL, 0, &ts, &srv->wait_mask);
}

/*
 * Waits for a client (or a stop signal) and accepts it. Returns the
 * connected socket, NO_CONNECTION, or ACCEPT_FATAL after a message.
 */
static int next_connection(const struct server *srv)
{
	struct pollfd pfd = {.fd = srv->listener, .events = POLLIN};

	if (ppoll(&pfd, 1, NULL, &srv->wait_mask) < 0) {
		if (errno == EINTR)
			return NO_CONNECTION; /* a stop signal, probably */
		perror(PROG ": ppoll");
		return ACCEPT_FATAL;
	}
	int fd = accept4(srv->listener, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (server_accept_error_is_transient(errno))
		return NO_CONNECTION;
	perror(PROG ": accept");
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		/* Leave clients in the backlog until connections end. */
		pause_ms(srv, ACCEPT_PAUSE_MS);
		return NO_CONNECTION;
	}
	return ACCEPT_FATAL;
}

/*
 * Attributes for the threads we start: our stack size, and detached or
 * not. Returns 0, or an error number (pthread functions return it
 * instead of setting errno); attr needs no destroy after a failure.
 */
static int init_thread_attr(pthread_attr_t *attr, int detached)
{
	int err = pthread_attr_init(attr);

	if (err != 0)
		return err;
	err = pthread_attr_setstacksize(attr, THREAD_STACK_SIZE);
	if (err == 0 && detached)
		err = pthread_attr_setdetachstate(attr,
						  PTHREAD_CREATE_DETACHED);
	if (err != 0)
		pthread_attr_destroy(attr);
	return err;
}

/* Stops accepting and tells every connection to finish. */
static void stop_accepting(struct server *srv)
{
	/*
	 * TODO (step 3; docs/06-concurrency.md, "Stopping gracefully"):
	 * close(srv->listener) and set it to -1, so that new clients are
	 * refused; then server_broadcast_stop(srv), so that every
	 * http_session_serve() finishes its response in flight and returns.
	 */
	(void)srv;
	todo("stop_accepting");
}

/* ---- a thread per connection (-w 0) ---- */

/* A connection's thread: arg is its struct conn_job. */
static void *conn_thread(void *arg)
{
	/*
	 * TODO (step 1): serve_and_close() the job's connection, free the
	 * job, then decrement live->count under live->lock, and signal
	 * live->none_left when it reaches 0. Touch nothing after unlocking:
	 * the stop may be returning (and its stack, where live is, gone).
	 */
	(void)serve_and_close; /* remove once you use it */
	(void)arg;
	todo("conn_thread");
	return NULL;
}

/*
 * Starts a detached thread for connection fd. Returns 0, or an error
 * number (pthread functions return it instead of setting errno).
 */
static int start_conn_thread(const struct server *srv, pthread_attr_t *attr,
			     struct live_threads *live, int fd)
{
	/*
	 * TODO (step 1): malloc a struct conn_job (ENOMEM if that fails),
	 * fill it in, count the thread in live->count (under the lock)
	 * BEFORE pthread_create(attr, conn_thread, job): the thread may end
	 * before pthread_create() returns. If create fails, undo the count,
	 * free the job and return its error.
	 */
	(void)srv;
	(void)attr;
	(void)live;
	(void)fd;
	(void)conn_thread; /* remove once you use it */
	todo("start_conn_thread");
	return ENOSYS;
}

/* Waits until every connection thread has finished. */
static void wait_for_conn_threads(struct live_threads *live)
{
	/*
	 * TODO (step 1): under live->lock, pthread_cond_wait on
	 * live->none_left while live->count > 0 (a while, not an if: a
	 * wait can wake without a signal).
	 */
	(void)live;
	todo("wait_for_conn_threads");
}

/* Accepts until a stop signal. Returns 0, or -1 after a fatal error. */
static int accept_loop_per_conn(struct server *srv, pthread_attr_t *attr,
				struct live_threads *live)
{
	/*
	 * TODO (step 1): while *srv->stop is not set: fd =
	 * next_connection(srv); ACCEPT_FATAL returns -1, NO_CONNECTION goes
	 * round again; then start_conn_thread(). If that fails (EAGAIN: too
	 * many threads), report it with strerror(err), close(fd) and
	 * pause_ms(srv, ACCEPT_PAUSE_MS): one client refused, not the
	 * server dead.
	 */
	(void)srv;
	(void)attr;
	(void)live;
	(void)next_connection;	 /* remove once you use it */
	(void)start_conn_thread; /* remove once you use it */
	todo("accept_loop_per_conn");
	return -1;
}

static int serve_thread_per_conn(struct server *srv)
{
	struct live_threads live = {.count = 0};
	pthread_attr_t attr;

	int err = init_thread_attr(&attr, 1);
	if (err != 0) {
		fprintf(stderr, "%s: thread attributes: %s\n", PROG,
			strerror(err));
		return -1;
	}
	pthread_mutex_init(&live.lock, NULL);
	pthread_cond_init(&live.none_left, NULL);
	int status = accept_loop_per_conn(srv, &attr, &live);
	stop_accepting(srv);
	wait_for_conn_threads(&live);
	pthread_cond_destroy(&live.none_left);
	pthread_mutex_destroy(&live.lock);
	pthread_attr_destroy(&attr);
	return status;
}

/* ---- a pool of N threads (-w N) ---- */

/* Takes the oldest connection; returns -1 once the queue is closing. */
static int queue_pop(struct conn_queue *q)
{
	/*
	 * TODO (step 2): under q->lock, wait on q->not_empty while the
	 * queue is empty and not closing. Closing: return -1 (even with
	 * connections queued: queue_close() closes those). Else take
	 * fds[head], advance head (modulo QUEUE_SIZE), decrement len, and
	 * signal q->not_full: the acceptor may be waiting for room.
	 */
	(void)q;
	todo("queue_pop");
	return -1;
}

/* Adds a connection; the caller has made sure there is room. */
static void queue_push(struct conn_queue *q, int fd)
{
	/*
	 * TODO (step 2): under q->lock, store fd at (head + len) %
	 * QUEUE_SIZE, increment len, signal q->not_empty.
	 */
	(void)q;
	close(fd);
	todo("queue_push");
}

/*
 * Waits until the queue has room or a stop signal came. The stop
 * signals cannot interrupt a condition variable wait, so the wait is
 * cut into slices, and each slice ends by letting them in.
 */
static void queue_wait_for_room(struct conn_queue *q, const struct server *srv)
{
	/*
	 * TODO (step 2): under q->lock, while the queue is full:
	 * pthread_cond_timedwait() on q->not_full until QUEUE_WAIT_MS from
	 * now (an absolute CLOCK_REALTIME time: clock_gettime, add, carry
	 * the nanoseconds over NS_PER_S). Still full: unlock,
	 * take_pending_signals(srv), return if *srv->stop is set, lock
	 * again. Why slices: while this thread sleeps in a condition
	 * variable with the stop signals blocked, a Ctrl-C would wait for a
	 * worker to free a place - possibly forever.
	 */
	(void)q;
	(void)srv;
	(void)take_pending_signals; /* remove once you use it */
	todo("queue_wait_for_room");
}

/*
 * Closes the queue: workers finish the connection they serve and leave
 * without taking another; connections still queued are closed unserved.
 */
static void queue_close(struct conn_queue *q)
{
	/*
	 * TODO (step 3): under q->lock: set q->closing, close() every
	 * connection still queued (len becomes 0), and broadcast (not
	 * signal: every worker must wake) q->not_empty.
	 */
	(void)q;
	todo("queue_close");
}

/* A pool thread: serves connections from the queue until it closes. */
static void *pool_worker(void *arg)
{
	/*
	 * TODO (step 2): arg is the struct pool. queue_pop() and
	 * serve_and_close() until queue_pop() returns -1.
	 */
	(void)queue_pop; /* remove once you use it */
	(void)arg;
	todo("pool_worker");
	return NULL;
}

/* Starts srv->workers threads; returns 0, or -1 after a message. */
static int pool_start(struct pool *p, const struct server *srv)
{
	/*
	 * TODO (step 2): calloc srv->workers pthread_t into p->threads;
	 * init_thread_attr(&attr, 0) (joinable); pthread_create each
	 * pool_worker(p), counting p->started only when create succeeds
	 * (pool_stop joins exactly those); destroy attr. A failure: print
	 * which worker and strerror(err), return -1.
	 */
	(void)p;
	(void)srv;
	(void)init_thread_attr; /* remove once you use it */
	(void)pool_worker;	/* remove once you use it */
	todo("pool_start");
	return -1;
}

/* Closes the queue and joins every worker. */
static void pool_stop(struct pool *p)
{
	/*
	 * TODO (step 3): queue_close(), pthread_join() each of the
	 * p->started threads, free(p->threads).
	 */
	(void)queue_close; /* remove once you use it */
	free(p->threads);
	todo("pool_stop");
}

/* Accepts until a stop signal. Returns 0, or -1 after a fatal error. */
static int accept_loop_pool(struct server *srv, struct pool *p)
{
	/*
	 * TODO (step 2): while *srv->stop is not set:
	 * queue_wait_for_room(), then look at *srv->stop again;
	 * next_connection() as in accept_loop_per_conn(); queue_push() each
	 * connection. Accepting only when there is room leaves the next
	 * clients in the kernel's backlog: that is the "bounded" in bounded
	 * queue.
	 */
	(void)srv;
	(void)p;
	(void)queue_wait_for_room; /* remove once you use it */
	(void)queue_push;	   /* remove once you use it */
	todo("accept_loop_pool");
	return -1;
}

static int serve_thread_pool(struct server *srv)
{
	struct pool p = {.srv = srv};

	pthread_mutex_init(&p.queue.lock, NULL);
	pthread_cond_init(&p.queue.not_empty, NULL);
	pthread_cond_init(&p.queue.not_full, NULL);
	int status = pool_start(&p, srv);
	if (status == 0)
		status = accept_loop_pool(srv, &p);
	stop_accepting(srv);
	pool_stop(&p);
	pthread_cond_destroy(&p.queue.not_full);
	pthread_cond_destroy(&p.queue.not_empty);
	pthread_mutex_destroy(&p.queue.lock);
	return status;
}

int serve_thread(struct server *srv)
{
	if (srv->workers > 0)
		return serve_thread_pool(srv);
	return serve_thread_per_conn(srv);
}
