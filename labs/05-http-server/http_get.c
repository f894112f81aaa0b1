/*
 * http_get - fetch one http:// URL (lab 05).
 *
 * The functions marked TODO are yours: parse_authority, parse_url,
 * connect_to, send_request, reader_fill and read_head (step 10 of the
 * handout), then copy_length, copy_until_close, copy_chunked and
 * copy_body (step 11). The command line, the output file, fetch() (which
 * calls them in order) and the small helpers are provided.
 *
 * usage: http_get URL [-o FILE]
 *
 * Sends a GET with Host, User-Agent and "Connection: close", prints the
 * response's status line and headers on stderr and its body, byte-exact,
 * on stdout (or in FILE). The body may be framed by Content-Length, by
 * the chunked transfer coding, or by the server closing the connection.
 * Exits 0 for a 2xx status, 1 for any other status or an error, 2 for
 * bad usage or a URL it cannot parse.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo */
#include "http_parse.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#define PROG "http_get"
#define USER_AGENT "lab05-http_get/1.0"
#define DEFAULT_PORT "80"
#define HOST_MAX 256
#define PATH_MAX_LEN 4096
#define REQUEST_MAX (PATH_MAX_LEN + HOST_MAX + 256)
#define RESPONSE_BUF 65536 /* the response head must fit */
#define RECV_TIMEOUT_S 10
#define EXIT_STATUS_NOT_2XX 1

struct url {
	char host[HOST_MAX]; /* without brackets for IPv6 */
	char port[NET_PORT_TEXT_MAX + 1];
	int port_given;
	int host_is_v6;
	char path[PATH_MAX_LEN]; /* "/..." with the query, no fragment */
};

/* The connection and the bytes received but not yet used. */
struct reader {
	int fd;
	char buf[RESPONSE_BUF];
	size_t have;
	int eof;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: %s URL [-o FILE]   (URL: http://host[:port]/path)\n",
		PROG);
}

/*
 * What a function that is not written yet does: says so on stderr and
 * fails with ENOSYS, so that the grader's report shows which one.
 */
static int todo(const char *function)
{
	fprintf(stderr, "%s: %s: not written yet (TODO in http_get.c)\n", PROG,
		function);
	errno = ENOSYS;
	return -1;
}

/* Copies text[0..len) into out as a string; -1 if it does not fit. */
static int copy_text(char *out, size_t outlen, const char *text, size_t len)
{
	if (len >= outlen)
		return -1;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port". Returns 0 or -1. */
static int parse_authority(const char *a, size_t len, struct url *u)
{
	/*
	 * TODO (step 10): the part between "http://" and the path is a host,
	 * maybe with ":port". An IPv6 address is written in brackets,
	 * "[::1]:8080", because its own colons would be read as a port.
	 * Fill u->host (without brackets), u->host_is_v6, u->port (the text,
	 * DEFAULT_PORT when absent) and u->port_given; refuse an empty host
	 * and a port outside 1..65535 (net_parse_port). copy_text() copies
	 * a piece with its length checked.
	 */
	(void)a;
	(void)len;
	(void)u;
	return todo("parse_authority");
}

/*
 * Parses "http://host[:port][/path][?query][#fragment]". Returns 0, or -1
 * when the URL is not of that form.
 */
static int parse_url(const char *text, struct url *u)
{
	/*
	 * TODO (step 10): "http://" (any case), the authority
	 * (parse_authority), then the path with its query, "/" when there is
	 * none; the "#fragment" never goes to the server. Refuse spaces and
	 * control characters (they must be percent-encoded in a URL) and
	 * "user@host". Start from a zeroed *u.
	 */
	(void)text;
	(void)u;
	return todo("parse_url");
}

/*
 * Connects to the URL's host and port, trying each address. Returns the
 * socket, or -1 after printing why.
 */
static int connect_to(const struct url *u)
{
	/*
	 * TODO (step 10): getaddrinfo() the host and port (a name may have
	 * several addresses, IPv6 and IPv4), try each until one connects,
	 * free the list. If none connects, print why with the last error,
	 * e.g. "http_get: connect 127.0.0.1 port 8080: Connection refused",
	 * and return -1. getaddrinfo's errors are printed with gai_strerror.
	 */
	(void)u;
	return todo("connect_to");
}

/* Sends the GET request. Returns 0, or -1 with errno set. */
static int send_request(int fd, const struct url *u)
{
	/*
	 * TODO (step 10): one GET request for u->path: the request line,
	 * Host (the host as written in the URL, brackets and port
	 * included when the URL had them: the server may serve several
	 * names), User-Agent, Accept and "Connection: close" (so that a body
	 * without a length ends when the server closes), then the blank
	 * line; CRLF after each line. Build it in one buffer and send it
	 * all (net_send_all). See docs/05-http.md, "Writing the client".
	 */
	(void)fd;
	(void)u;
	return todo("send_request");
}

/*
 * Receives more bytes after r->have. Returns the count, 0 at end of
 * stream (r->eof set), or -1 with errno set (EAGAIN: timed out).
 */
static ssize_t reader_fill(struct reader *r)
{
	/*
	 * TODO (step 10): receive into the free end of r->buf, after the
	 * r->have bytes already there. A signal (EINTR) is not an error;
	 * 0 bytes is the end of the stream (set r->eof).
	 */
	(void)r;
	return todo("reader_fill");
}

static void reader_consume(struct reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->have - n);
	r->have -= n;
}

/* Prints a failure about the response and returns -1. */
static int bad_response(const char *why)
{
	fprintf(stderr, "%s: malformed response: %s\n", PROG, why);
	return -1;
}

/*
 * Reads response heads until a final (non-1xx) one and prints it on
 * stderr. Returns its length (it stays at the start of r->buf, where
 * *res points), or -1 after printing why.
 */
static int read_head(struct reader *r, struct http_response *res)
{
	/*
	 * TODO (step 10): receive until http_parse_response() finds a whole
	 * head. A 1xx head (100 Continue) is interim: drop it and read the
	 * next one; 101 is not expected here. Print the final head on
	 * stderr and return its length, leaving it at the start of r->buf:
	 * *res points into it. A head that does not parse, does not fit
	 * r->buf, or is cut short by the server closing, is an error
	 * (bad_response says so).
	 */
	(void)r;
	(void)res;
	return todo("read_head");
}

/* Writes body bytes to the output. Returns 0, or -1 after printing why. */
static int emit(int out, const char *data, size_t len)
{
	if (len > 0 && net_write_all(out, data, len) < 0) {
		perror(PROG ": write");
		return -1;
	}
	return 0;
}

/* Copies exactly len body bytes. Returns 0, or -1 after printing why. */
static int copy_length(struct reader *r, uint64_t len, int out)
{
	/*
	 * TODO (step 11): copy exactly len body bytes to out: first what is
	 * in r->buf, then what reader_fill() brings. The connection closing
	 * before len bytes is an error (the body is cut short); bytes after
	 * len are not part of the body.
	 */
	(void)r;
	(void)len;
	(void)out;
	return todo("copy_length");
}

/* Copies everything until the server closes. Returns 0 or -1. */
static int copy_until_close(struct reader *r, int out)
{
	/*
	 * TODO (step 11): a body with no length ends when the server closes
	 * the connection: copy everything until then.
	 */
	(void)r;
	(void)out;
	return todo("copy_until_close");
}

/* Decodes a chunked body. Returns 0, or -1 after printing why. */
static int copy_chunked(struct reader *r, int out)
{
	/*
	 * TODO (step 11): decode the chunked coding with
	 * http_decode_chunked() over what is in r->buf, write the data it
	 * leaves there, receive more, until the last chunk. A broken coding,
	 * or a connection that closes before the last chunk, is an error.
	 * See docs/05-http.md, "Chunked transfer coding".
	 */
	(void)r;
	(void)out;
	return todo("copy_chunked");
}

/*
 * Finds how the body is framed (RFC 9112 section 6.3) and copies it.
 * Returns 0, or -1 after printing why.
 */
static int copy_body(struct reader *r, const struct http_response *res,
		     size_t head_len, int out)
{
	/*
	 * TODO (step 11): how the body ends (RFC 9112 section 6.3): 204 and
	 * 304 have none; "Transfer-Encoding: chunked" wins over
	 * Content-Length; else Content-Length bytes (several Content-Length
	 * lines must agree); else the body runs until the server closes.
	 * Drop the head from r->buf first (reader_consume): res points into
	 * it, so read what you need from res before.
	 */
	(void)r;
	(void)res;
	(void)head_len;
	(void)out;
	return todo("copy_body");
}

/*
 * Names the functions that nothing calls until you have written the steps
 * that call them, so that the compiler does not warn about them meanwhile.
 * Delete it once every step is done.
 */
__attribute__((unused)) static void called_by_later_steps(void)
{
	(void)copy_text;
	(void)parse_authority;
	(void)reader_consume;
	(void)bad_response;
	(void)emit;
	(void)reader_fill;
	(void)copy_length;
	(void)copy_until_close;
	(void)copy_chunked;
	(void)todo;
}

/* Parses the command line. Returns 0, or -1 after printing why. */
static int parse_args(int argc, char **argv, const char **url,
		      const char **out_path)
{
	*url = NULL;
	*out_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0) {
			if (i + 1 == argc || *out_path != NULL) {
				fprintf(stderr, "%s: -o needs one FILE\n",
					PROG);
				return -1;
			}
			*out_path = argv[++i];
		} else if (argv[i][0] == '-' || *url != NULL) {
			fprintf(stderr, "%s: unexpected argument '%s'\n", PROG,
				argv[i]);
			return -1;
		} else {
			*url = argv[i];
		}
	}
	if (*url == NULL) {
		fprintf(stderr, "%s: a URL is required\n", PROG);
		return -1;
	}
	return 0;
}

/* Fetches the URL into out. Returns the exit status. */
static int fetch(const struct url *u, int out)
{
	static struct reader r;
	struct http_response res = {0};
	struct timeval tv = {RECV_TIMEOUT_S, 0};

	r.fd = connect_to(u);
	if (r.fd < 0)
		return EXIT_FAILURE;
	int status = EXIT_FAILURE;
	if (setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    send_request(r.fd, u) < 0) {
		perror(PROG ": send");
		goto done;
	}
	int head_len = read_head(&r, &res);
	if (head_len < 0 || copy_body(&r, &res, (size_t)head_len, out) < 0)
		goto done;
	status = res.status / 100 == 2 ? EXIT_SUCCESS : EXIT_STATUS_NOT_2XX;
done:
	close(r.fd);
	return status;
}

int main(int argc, char **argv)
{
	const char *url_text;
	const char *out_path;
	struct url u;
	int out = STDOUT_FILENO;

	if (parse_args(argc, argv, &url_text, &out_path) < 0) {
		usage();
		return NET_EXIT_USAGE;
	}
	if (parse_url(url_text, &u) < 0) {
		fprintf(stderr, "%s: cannot parse URL '%s'\n", PROG, url_text);
		usage();
		return NET_EXIT_USAGE;
	}
	if (out_path != NULL) {
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0644);
		if (out < 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, out_path,
				strerror(errno));
			return EXIT_FAILURE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	int status = fetch(&u, out);
	if (out != STDOUT_FILENO && close(out) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, out_path,
			strerror(errno));
		status = EXIT_FAILURE;
	}
	return status;
}
