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
 * Steps 3 (a thread per connection) and 4 (the pool) of the handout.
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

/* Connections accepted but not yet taken by a pool worker. */
#define QUEUE_SIZE 256
/* With the queue full, how often the acceptor looks for a stop signal. */
#define QUEUE_WAIT_MS 100
/* How long to stop accepting after running out of descriptors. */
#define ACCEPT_PAUSE_MS 100

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
	fprintf(stderr, "%s: %s: %s (TODO in serve_thread.c)\n", PROG, function,
		strerror(ENOSYS));
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
	net_wait(NULL, 0, 0, &srv->wait_mask);
}

/* Waits up to ms milliseconds, or less if a stop signal comes. */
static void pause_ms(const struct server *srv, int ms)
{
	net_wait(NULL, 0, ms, &srv->wait_mask);
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
	if (net_accept_error_is_transient(errno))
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
 * Attributes for the threads we start: detached or not. Their stack size
 * is conc_server.c's, the same for every thread of the program. Returns
 * 0, or an error number (pthread functions return it instead of setting
 * errno); attr needs no destroy after a failure.
 */
static int init_thread_attr(pthread_attr_t *attr, int detached)
{
	int err = pthread_attr_init(attr);

	if (err != 0)
		return err;
	if (detached)
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
	 * TODO (step 3): no new clients: close the listener (and set it to -1),
	 * so that the kernel refuses them instead of leaving them in the
	 * backlog; then tell every session to finish its response in flight and
	 * return (server_broadcast_stop). See docs/06-concurrency.md, "Stopping
	 * gracefully".
	 */
	(void)srv;
	todo("stop_accepting");
}

/* ---- a thread per connection (-w 0) ---- */

/* A connection's thread: arg is its struct conn_job. */
static void *conn_thread(void *arg)
{
	/*
	 * TODO (step 3): serve the job's connection (serve_and_close), free the
	 * job, then count this thread out of live, under its lock, and wake the
	 * stop (live->none_left) when the count reaches zero. Touch nothing
	 * after unlocking: the stop may be returning, and live is on its stack.
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
	 * TODO (step 3): give the connection a detached thread that runs
	 * conn_thread(). The thread gets its own copy of fd in a struct
	 * conn_job it frees: the address of a variable of the accept loop would
	 * change under it with the next client. Count the thread in live before
	 * creating it, since it may end before pthread_create() returns. A
	 * failure undoes the count and returns the error number (pthread
	 * functions return it instead of setting errno; ENOMEM when malloc
	 * fails).
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
	 * TODO (step 3): wait on live->none_left until no connection thread is
	 * left. A condition variable may wake a thread that nobody signalled,
	 * so look at the count again after every wake-up (while, not if). See
	 * docs/06-concurrency.md, "Detach or join".
	 */
	(void)live;
	todo("wait_for_conn_threads");
}

/* Accepts until a stop signal. Returns 0, or -1 after a fatal error. */
static int accept_loop_per_conn(struct server *srv, pthread_attr_t *attr,
				struct live_threads *live)
{
	/*
	 * TODO (step 3): until *srv->stop is set, take the next client
	 * (next_connection, provided: it waits with the stop signals let in,
	 * and deals with accept's errors) and start its thread. A thread that
	 * cannot start (EAGAIN: too many threads) costs that client only:
	 * report it, close its connection, pause a moment (pause_ms), go on.
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
	 * TODO (step 4): a worker waits here for its next connection: on
	 * q->not_empty, while the queue is empty and not closing. Once it is
	 * closing, return -1 at once, even with connections still queued
	 * (queue_close() closes those). Take the oldest connection, and wake
	 * the acceptor (q->not_full): it may be waiting for room.
	 */
	(void)q;
	todo("queue_pop");
	return -1;
}

/* Adds a connection; the caller has made sure there is room. */
static void queue_push(struct conn_queue *q, int fd)
{
	/*
	 * TODO (step 4): add fd at the end of the ring of QUEUE_SIZE places
	 * (the caller has made room), under the lock, and wake one worker
	 * (q->not_empty).
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
	 * TODO (step 4): return once the queue has room or a stop signal came
	 * (the caller then looks at *srv->stop). The stop signals cannot
	 * interrupt a condition variable wait: an acceptor asleep on
	 * q->not_full with them blocked would make Ctrl-C wait for a worker to
	 * free a place, maybe forever. So wait in slices of QUEUE_WAIT_MS
	 * (pthread_cond_timedwait takes an absolute CLOCK_REALTIME time), and
	 * between two slices, with the lock released, let pending signals in
	 * (take_pending_signals).
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
	 * TODO (step 4): mark the queue closing, close the connections still in
	 * it (nobody will serve them), and wake every worker: broadcast, not
	 * signal, since each of them must see that the queue is closing.
	 */
	(void)q;
	todo("queue_close");
}

/* A pool thread: serves connections from the queue until it closes. */
static void *pool_worker(void *arg)
{
	/*
	 * TODO (step 4): arg is the struct pool. Serve the connections of its
	 * queue, one after another (serve_and_close), until the queue closes.
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
	 * TODO (step 4): start srv->workers joinable threads running
	 * pool_worker(p), with the attributes of init_thread_attr(), their ids
	 * in p->threads (allocated here). Count in p->started only the threads
	 * that did start: pool_stop() joins exactly those. A failure: say which
	 * worker and why (strerror of the error number), return -1.
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
	 * TODO (step 4): close the queue, join every worker that started (each
	 * first finishes the connection it is serving), then free p->threads.
	 */
	(void)queue_close; /* remove once you use it */
	free(p->threads);
	todo("pool_stop");
}

/* Accepts until a stop signal. Returns 0, or -1 after a fatal error. */
static int accept_loop_pool(struct server *srv, struct pool *p)
{
	/*
	 * TODO (step 4): until *srv->stop is set, make sure the queue has room
	 * (queue_wait_for_room, then look at the flag again), take the next
	 * client (next_connection) and queue it. Accepting only when there is
	 * room leaves the next clients in the kernel's backlog: that is what
	 * keeps the queue bounded.
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
