/*
 * serve_thread.c - threads (lab 06, reference).
 *
 * The main thread only accepts. With -w 0 each connection gets a new
 * detached thread, and a count of live threads (under a mutex, with a
 * condition variable) lets the stop wait for the last one. With -w N a
 * pool of N threads, started once, takes connections from a bounded
 * queue (a mutex and two condition variables: "not empty" for the
 * workers, "not full" for the acceptor). Either way a thread serves its
 * connection with http_session_serve(), which watches the stop pipe.
 * See docs/06-concurrency.md, "Threads".
 *
 * The results of pthread_mutex_lock/unlock and pthread_cond_wait/signal
 * are not checked: on a default mutex they fail only when the program
 * is already wrong (a mutex never initialised, or not held).
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
	close(srv->listener); /* new clients are refused from now on */
	srv->listener = -1;
	server_broadcast_stop(srv);
}

/* ---- a thread per connection (-w 0) ---- */

static void *conn_thread(void *arg)
{
	struct conn_job *job = arg;
	struct live_threads *live = job->live;

	serve_and_close(job->srv, job->fd);
	free(job);
	pthread_mutex_lock(&live->lock);
	if (--live->count == 0)
		pthread_cond_signal(&live->none_left);
	pthread_mutex_unlock(&live->lock);
	/* Nothing after the unlock: the stop may already be returning. */
	return NULL;
}

/*
 * Starts a detached thread for connection fd. Returns 0, or an error
 * number (pthread functions return it instead of setting errno).
 */
static int start_conn_thread(const struct server *srv, pthread_attr_t *attr,
			     struct live_threads *live, int fd)
{
	pthread_t tid;
	struct conn_job *job = malloc(sizeof(*job));

	if (job == NULL)
		return ENOMEM;
	job->srv = srv;
	job->live = live;
	job->fd = fd;
	/* Counted before it starts: it may end before create returns. */
	pthread_mutex_lock(&live->lock);
	live->count++;
	pthread_mutex_unlock(&live->lock);
	int err = pthread_create(&tid, attr, conn_thread, job);
	if (err != 0) {
		pthread_mutex_lock(&live->lock);
		live->count--;
		pthread_mutex_unlock(&live->lock);
		free(job);
	}
	return err;
}

/* Waits until every connection thread has finished. */
static void wait_for_conn_threads(struct live_threads *live)
{
	pthread_mutex_lock(&live->lock);
	while (live->count > 0)
		pthread_cond_wait(&live->none_left, &live->lock);
	pthread_mutex_unlock(&live->lock);
}

static int accept_loop_per_conn(struct server *srv, pthread_attr_t *attr,
				struct live_threads *live)
{
	while (!*srv->stop) {
		int fd = next_connection(srv);
		if (fd == ACCEPT_FATAL)
			return -1;
		if (fd < 0)
			continue;
		int err = start_conn_thread(srv, attr, live, fd);
		if (err != 0) {
			/* EAGAIN: too many threads. Refuse this one client. */
			fprintf(stderr, "%s: pthread_create: %s\n", PROG,
				strerror(err));
			close(fd);
			pause_ms(srv, ACCEPT_PAUSE_MS);
		}
	}
	return 0;
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
	int fd = -1;

	pthread_mutex_lock(&q->lock);
	while (q->len == 0 && !q->closing)
		pthread_cond_wait(&q->not_empty, &q->lock);
	if (!q->closing) {
		fd = q->fds[q->head];
		q->head = (q->head + 1) % QUEUE_SIZE;
		q->len--;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->lock);
	return fd;
}

/* Adds a connection; the caller has made sure there is room. */
static void queue_push(struct conn_queue *q, int fd)
{
	pthread_mutex_lock(&q->lock);
	q->fds[(q->head + q->len) % QUEUE_SIZE] = fd;
	q->len++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

/*
 * Waits until the queue has room or a stop signal came. The stop
 * signals cannot interrupt a condition variable wait, so the wait is
 * cut into slices, and each slice ends by letting them in.
 */
static void queue_wait_for_room(struct conn_queue *q, const struct server *srv)
{
	pthread_mutex_lock(&q->lock);
	while (q->len == QUEUE_SIZE) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += QUEUE_WAIT_MS * NET_NS_PER_MS;
		if (until.tv_nsec >= NET_NS_PER_S) {
			until.tv_sec++;
			until.tv_nsec -= NET_NS_PER_S;
		}
		pthread_cond_timedwait(&q->not_full, &q->lock, &until);
		if (q->len < QUEUE_SIZE)
			break;
		pthread_mutex_unlock(&q->lock);
		take_pending_signals(srv);
		if (*srv->stop)
			return;
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
}

/*
 * Closes the queue: workers finish the connection they serve and leave
 * without taking another; connections still queued are closed unserved.
 */
static void queue_close(struct conn_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closing = 1;
	for (; q->len > 0; q->len--) {
		close(q->fds[q->head]);
		q->head = (q->head + 1) % QUEUE_SIZE;
	}
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	int fd;

	while ((fd = queue_pop(&p->queue)) >= 0)
		serve_and_close(p->srv, fd);
	return NULL;
}

/* Starts srv->workers threads; returns 0, or -1 after a message. */
static int pool_start(struct pool *p, const struct server *srv)
{
	pthread_attr_t attr;

	p->threads = calloc((size_t)srv->workers, sizeof(*p->threads));
	if (p->threads == NULL) {
		perror(PROG ": calloc");
		return -1;
	}
	int err = init_thread_attr(&attr, 0);
	if (err != 0) {
		fprintf(stderr, "%s: thread attributes: %s\n", PROG,
			strerror(err));
		return -1;
	}
	while (err == 0 && p->started < srv->workers) {
		err = pthread_create(&p->threads[p->started], &attr,
				     pool_worker, p);
		if (err == 0)
			p->started++;
	}
	pthread_attr_destroy(&attr);
	if (err != 0) {
		fprintf(stderr, "%s: starting worker %d of %d: %s\n", PROG,
			p->started + 1, srv->workers, strerror(err));
		return -1;
	}
	return 0;
}

/* Closes the queue and joins every worker. */
static void pool_stop(struct pool *p)
{
	queue_close(&p->queue);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
}

static int accept_loop_pool(struct server *srv, struct pool *p)
{
	while (!*srv->stop) {
		queue_wait_for_room(&p->queue, srv);
		if (*srv->stop)
			break;
		int fd = next_connection(srv);
		if (fd == ACCEPT_FATAL)
			return -1;
		if (fd >= 0)
			queue_push(&p->queue, fd);
	}
	return 0;
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
