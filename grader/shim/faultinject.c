/*
 * faultinject.c - make a program meet the short transfers and interrupted
 * calls that a real network produces and loopback almost never does.
 *
 * Loaded with LD_PRELOAD under a program the grader tests, it stands in
 * for send(), sendto(), sendmsg(), write(), recv(), recvfrom(), recvmsg()
 * and read() on sockets, for write() to files and pipes (short counts
 * only: see file_write_may_be_short()), and for accept() and accept4()
 * on blocking listeners.
 * At points chosen from a seed, instead of passing a call straight on, it
 *   - shortens it: the real call is made for fewer bytes than asked
 *     (1 up to len - 1), as when the kernel's buffer is nearly full or a
 *     segment has just arrived;
 *   - interrupts it: returns -1 with errno EINTR, as when a signal
 *     handler ran (for accept(), only where it can happen: a listener
 *     that blocks, interrupted by SIGCHLD in a server that forks);
 *   - on a non-blocking socket, says it would block: -1 with EAGAIN.
 * A program that loops until every byte is moved and retries on EINTR
 * (and, non-blocking, waits for readiness on EAGAIN) does exactly what it
 * did without the shim. One that ignores what send() returned, or treats
 * EINTR as an error, fails - always at the same call for the same seed.
 *
 * It also notes when a process forks, how each child ended as its parent
 * learns it (wait() and waitpid()), and explicit exit() and _exit()
 * calls, so that a server whose child falls back into the accept loop
 * after serving, and then exits with an error, shows.
 *
 * Settings (environment): FAULT_SEED (a number), FAULT_RATE (percent of
 * eligible calls to fault, 0-50), FAULT_KINDS (letters: s short, i EINTR,
 * a EAGAIN), FAULT_LOG_FD (where each fault and exit is logged, one line
 * each). A call is never faulted more than FAULT_RUN_MAX times in a row
 * on one descriptor, so a program that retries always gets through.
 *
 * Build: cc -shared -fPIC -O2 -o faultinject.so faultinject.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAULT_RUN_MAX 3		/* faults in a row on one descriptor, at most */
#define FAULT_RATE_MAX 50	/* percent */
#define TRACKED_FDS 4096	/* descriptors whose runs of faults are counted */
#define LOG_LINE_MAX 160
#define SHORT_IOV_MAX 16	/* msghdrs with more iovecs are never shortened */

typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *,
			     socklen_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef pid_t (*fork_fn)(void);
typedef pid_t (*waitpid_fn)(pid_t, int *, int);
typedef void (*exit_fn)(int) __attribute__((noreturn));

static struct {
	int ready;
	uint64_t seed;
	unsigned rate;
	int kinds_short, kinds_eintr, kinds_eagain;
	int log_fd;
	uint64_t calls;			/* faultable calls so far, this process */
	unsigned char run[TRACKED_FDS];	/* faults in a row, per descriptor */
} cfg = { .log_fd = -1 };

static void *real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* A well-mixed 64-bit value from the seed and a call's number. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void load_settings(void)
{
	const char *seed = getenv("FAULT_SEED");
	const char *rate = getenv("FAULT_RATE");
	const char *kinds = getenv("FAULT_KINDS");
	const char *log_fd = getenv("FAULT_LOG_FD");

	cfg.ready = 1;
	cfg.seed = seed ? strtoull(seed, NULL, 10) : 0;
	cfg.rate = rate ? (unsigned)strtoul(rate, NULL, 10) : 0;
	if (cfg.rate > FAULT_RATE_MAX)
		cfg.rate = FAULT_RATE_MAX;
	cfg.kinds_short = kinds && strchr(kinds, 's');
	cfg.kinds_eintr = kinds && strchr(kinds, 'i');
	cfg.kinds_eagain = kinds && strchr(kinds, 'a');
	cfg.log_fd = log_fd ? atoi(log_fd) : -1;
}

/* Writes one line to the grader's log, bypassing the interposed write(). */
static void note(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;
	write_fn raw_write = (write_fn)real("write");

	if (cfg.log_fd < 0 || !raw_write)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		raw_write(cfg.log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int is_socket(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * May a write() of len bytes to fd, which is not a socket, be cut short?
 * write(2): fewer bytes than asked when a signal handler interrupts it
 * part-way, or the disk fills. So for a regular file, any write of two
 * bytes or more; for a pipe, only one longer than PIPE_BUF, as shorter
 * pipe writes are atomic (all or nothing). Nothing else is faulted here:
 * a program with no signal handlers never sees EINTR from write().
 */
static int file_write_may_be_short(int fd, size_t len)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return len > 1;
	return S_ISFIFO(st.st_mode) && len > PIPE_BUF;
}

enum fault { FAULT_NONE, FAULT_SHORT, FAULT_EINTR, FAULT_EAGAIN };

/* The seeded draw behind choose(): a fault of an allowed kind, or none. */
static enum fault decide(int fd, size_t len, int flags, int may_short, int may_eintr,
			 int may_eagain)
{
	uint64_t r;
	enum fault options[3];
	int count = 0;

	r = mix(cfg.seed ^ mix(__atomic_add_fetch(&cfg.calls, 1, __ATOMIC_RELAXED)));
	if (fd < TRACKED_FDS && cfg.run[fd] >= FAULT_RUN_MAX) {
		cfg.run[fd] = 0;
		return FAULT_NONE;
	}
	if (r % 100 >= cfg.rate) {
		if (fd < TRACKED_FDS)
			cfg.run[fd] = 0;
		return FAULT_NONE;
	}
	if (may_short && len > 1)
		options[count++] = FAULT_SHORT;
	if (may_eintr)
		options[count++] = FAULT_EINTR;
	if (may_eagain &&
	    ((flags & MSG_DONTWAIT) || (fcntl(fd, F_GETFL) & O_NONBLOCK)))
		options[count++] = FAULT_EAGAIN;
	if (count == 0)
		return FAULT_NONE;
	if (fd < TRACKED_FDS)
		cfg.run[fd]++;
	return options[(r >> 32) % (uint64_t)count];
}

/*
 * What to do with this call of name on fd asking for len bytes. Decided
 * from the seed and the call's number in this process, so the same
 * program with the same seed meets the same faults at the same calls.
 */
static enum fault choose(int fd, size_t len, int flags)
{
	if (!cfg.ready)
		load_settings();
	if (cfg.rate == 0 || !is_socket(fd))
		return FAULT_NONE;
	return decide(fd, len, flags, cfg.kinds_short, cfg.kinds_eintr, cfg.kinds_eagain);
}

/* choose() for a write() to a file or a pipe: at most a short count. */
static enum fault choose_file_write(int fd, size_t len)
{
	if (!cfg.ready)
		load_settings();
	if (cfg.rate == 0 || !cfg.kinds_short || !file_write_may_be_short(fd, len))
		return FAULT_NONE;
	return decide(fd, len, 0, 1, 0, 0);
}


/* A shorter length for a shortened call: 1 up to len - 1. */
static size_t shorter(size_t len)
{
	return 1 + (size_t)(mix(cfg.seed ^ cfg.calls ^ 0x5a5a) % (uint64_t)(len - 1));
}

/* Applies fault to a call; returns 1 if the call must not be made. */
static int apply(enum fault fault, const char *name, int fd, size_t *len)
{
	switch (fault) {
	case FAULT_SHORT: {
		size_t want = shorter(*len);
		note("fault pid=%d call=%llu %s fd=%d short %zu of %zu\n", (int)getpid(),
		     (unsigned long long)cfg.calls, name, fd, want, *len);
		*len = want;
		return 0;
	}
	case FAULT_EINTR:
		note("fault pid=%d call=%llu %s fd=%d EINTR\n", (int)getpid(),
		     (unsigned long long)cfg.calls, name, fd);
		errno = EINTR;
		return 1;
	case FAULT_EAGAIN:
		note("fault pid=%d call=%llu %s fd=%d EAGAIN\n", (int)getpid(),
		     (unsigned long long)cfg.calls, name, fd);
		errno = EAGAIN;
		return 1;
	default:
		return 0;
	}
}

/* Does fd keep message boundaries (any socket but a stream)? Such a
 * message goes whole or not at all: it is never shortened. */
static int is_datagram(int fd)
{
	int type = 0;
	socklen_t size = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type != SOCK_STREAM;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (apply(choose(fd, len, flags), "send", fd, &len))
		return -1;
	return ((send_fn)real("send"))(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	/* A datagram is sent whole or not at all: never shorten one. */
	enum fault fault = choose(fd, len, flags);
	if (fault == FAULT_SHORT && is_datagram(fd))
		fault = FAULT_NONE;
	if (apply(fault, "sendto", fd, &len))
		return -1;
	return ((sendto_fn)real("sendto"))(fd, buf, len, flags, to, tolen);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	enum fault fault = is_socket(fd) ? choose(fd, len, 0) : choose_file_write(fd, len);

	if (apply(fault, "write", fd, &len))
		return -1;
	return ((write_fn)real("write"))(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	/* MSG_WAITALL, MSG_PEEK: the program asked for exact semantics. */
	enum fault fault = (flags & (MSG_WAITALL | MSG_PEEK)) ? FAULT_NONE : choose(fd, len, flags);
	if (apply(fault, "recv", fd, &len))
		return -1;
	return ((recv_fn)real("recv"))(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		 socklen_t *fromlen)
{
	/* A shortened datagram read would cut the datagram: never shorten one. */
	enum fault fault = (flags & (MSG_WAITALL | MSG_PEEK)) ? FAULT_NONE : choose(fd, len, flags);
	if (fault == FAULT_SHORT && is_datagram(fd))
		fault = FAULT_NONE;
	if (apply(fault, "recvfrom", fd, &len))
		return -1;
	return ((recvfrom_fn)real("recvfrom"))(fd, buf, len, flags, from, fromlen);
}

static size_t iov_total(const struct msghdr *msg)
{
	size_t total = 0;

	for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	return total;
}

/* *out becomes msg with room for only want bytes, its iovecs in iov. */
static void trim_msg(const struct msghdr *msg, size_t want, struct msghdr *out,
		     struct iovec *iov)
{
	*out = *msg;
	out->msg_iov = iov;
	out->msg_iovlen = 0;
	for (size_t i = 0; i < (size_t)msg->msg_iovlen && want > 0; i++) {
		iov[i] = msg->msg_iov[i];
		if (iov[i].iov_len > want)
			iov[i].iov_len = want;
		want -= iov[i].iov_len;
		out->msg_iovlen = i + 1;
	}
}

/*
 * What to do with a sendmsg() or recvmsg() of msg (descriptors and
 * credentials travel beside the bytes there): like the others, but only
 * a stream is shortened, and only when its iovecs are few enough to copy.
 */
static enum fault choose_msg(int fd, const struct msghdr *msg, int flags, size_t *len)
{
	*len = iov_total(msg);
	enum fault fault = choose(fd, *len, flags);
	if (fault == FAULT_SHORT && ((size_t)msg->msg_iovlen > SHORT_IOV_MAX || is_datagram(fd)))
		fault = FAULT_NONE;
	return fault;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct iovec iov[SHORT_IOV_MAX];
	struct msghdr shorter_msg;
	size_t len;
	enum fault fault = choose_msg(fd, msg, flags, &len);

	if (apply(fault, "sendmsg", fd, &len))
		return -1;
	if (fault != FAULT_SHORT)
		return ((sendmsg_fn)real("sendmsg"))(fd, msg, flags);
	trim_msg(msg, len, &shorter_msg, iov);
	return ((sendmsg_fn)real("sendmsg"))(fd, &shorter_msg, flags);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct iovec iov[SHORT_IOV_MAX];
	struct msghdr shorter_msg;
	size_t len = 0;
	/* MSG_WAITALL, MSG_PEEK: the program asked for exact semantics. */
	enum fault fault = (flags & (MSG_WAITALL | MSG_PEEK)) ? FAULT_NONE
							       : choose_msg(fd, msg, flags, &len);

	if (apply(fault, "recvmsg", fd, &len))
		return -1;
	if (fault != FAULT_SHORT)
		return ((recvmsg_fn)real("recvmsg"))(fd, msg, flags);
	trim_msg(msg, len, &shorter_msg, iov);
	ssize_t n = ((recvmsg_fn)real("recvmsg"))(fd, &shorter_msg, flags);
	/* What the kernel filled in besides the bytes goes back to the caller. */
	msg->msg_namelen = shorter_msg.msg_namelen;
	msg->msg_controllen = shorter_msg.msg_controllen;
	msg->msg_flags = shorter_msg.msg_flags;
	return n;
}

ssize_t read(int fd, void *buf, size_t len)
{
	if (apply(choose(fd, len, 0), "read", fd, &len))
		return -1;
	return ((rw_fn)real("read"))(fd, buf, len);
}

/*
 * accept() blocks only on a blocking listener, and only there can a
 * signal interrupt it: a non-blocking one is never faulted (an EAGAIN
 * that hides a waiting client would stall a correct edge-triggered loop).
 */
int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	int fl = fcntl(fd, F_GETFL);
	size_t none = 0;
	enum fault fault = fl >= 0 && !(fl & O_NONBLOCK) ? choose(fd, 0, 0) : FAULT_NONE;

	if (apply(fault, "accept", fd, &none))
		return -1;
	return ((accept4_fn)real("accept4"))(fd, addr, addrlen, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return accept4(fd, addr, addrlen, 0);
}

pid_t fork(void)
{
	pid_t pid = ((fork_fn)real("fork"))();

	if (pid > 0)
		note("fork parent=%d child=%d\n", (int)getpid(), (int)pid);
	return pid;
}

/* Logs how a reaped child ended. */
static void note_reaped(pid_t pid, int status)
{
	if (WIFEXITED(status))
		note("reaped pid=%d status=%d\n", (int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		note("reaped pid=%d signal=%d\n", (int)pid, WTERMSIG(status));
}

pid_t waitpid(pid_t pid, int *wstatus, int options)
{
	int status = 0;
	pid_t got = ((waitpid_fn)real("waitpid"))(pid, &status, options);

	if (got > 0)
		note_reaped(got, status);
	if (wstatus)
		*wstatus = status;
	return got;
}

pid_t wait(int *wstatus)
{
	return waitpid(-1, wstatus, 0);
}

void exit(int status)
{
	note("exit pid=%d status=%d\n", (int)getpid(), status);
	((exit_fn)real("exit"))(status);
}

void _exit(int status)
{
	note("exit pid=%d status=%d\n", (int)getpid(), status);
	((exit_fn)real("_exit"))(status);
}
