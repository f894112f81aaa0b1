/*
 * conc_server.h - what conc_server.c (provided) hands to the three
 * concurrency models you write: serve_fork.c, serve_thread.c and
 * serve_epoll.c.
 */
#ifndef CONC_SERVER_H
#define CONC_SERVER_H

#include <signal.h>

#include "http_session.h"
/* labs/common: net_accept_error_is_transient, net_wait, net_now_ms, ... */
#include "net.h"

#define PROG "conc_server"

struct server {
	int listener; /* listening TCP socket (blocking, CLOEXEC) */
	struct http_site site;
	int idle_timeout_ms; /* close a connection idle this long (-t) */
	int workers;	     /* -w N: thread pool size; 0: thread per conn */
	/*
	 * SIGINT and SIGTERM are blocked in every thread and set *stop.
	 * Wait with wait_mask (ppoll, epoll_pwait) so that they are
	 * unblocked only while you wait: a stop can then never slip in
	 * between your check of *stop and a wait that would never end.
	 */
	volatile sig_atomic_t *stop;
	sigset_t wait_mask;
	/*
	 * The read end of a pipe that becomes readable (and stays so)
	 * once server_broadcast_stop() runs: pass it to
	 * http_session_serve() so connections in other threads and child
	 * processes finish their response and end.
	 */
	int stop_fd;
	int stop_fd_write; /* its write end; close it in forked children */
};

/*
 * Tells every connection served by http_session_serve() to finish its
 * response in flight and end. Safe to call more than once.
 */
void server_broadcast_stop(struct server *srv);

/*
 * The three models. Each serves clients until *srv->stop is set, then
 * stops accepting, lets responses in flight finish, and returns 0 once
 * every connection (and child process or thread) is gone; -1 after an
 * error it has reported on stderr. To stop accepting, close
 * srv->listener and set it to -1 (main closes it if you do not).
 */
int serve_fork(struct server *srv);
int serve_thread(struct server *srv);
int serve_epoll(struct server *srv);

#endif /* CONC_SERVER_H */
