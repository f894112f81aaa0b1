/*
 * http_get - fetch one http:// URL (lab 05, reference).
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
	const char *port = NULL;
	size_t host_len;

	if (len > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (close == NULL)
			return -1;
		if (copy_text(u->host, sizeof(u->host), a + 1,
			      (size_t)(close - a - 1)) < 0)
			return -1;
		u->host_is_v6 = 1;
		if (close + 1 < a + len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(a, ':', len);
		host_len = colon != NULL ? (size_t)(colon - a) : len;
		if (copy_text(u->host, sizeof(u->host), a, host_len) < 0)
			return -1;
		port = colon != NULL ? colon + 1 : NULL;
	}
	if (u->host[0] == '\0')
		return -1;
	if (port == NULL) {
		strcpy(u->port, DEFAULT_PORT);
		return 0;
	}
	uint16_t value;
	if (copy_text(u->port, sizeof(u->port), port,
		      (size_t)(a + len - port)) < 0 ||
	    net_parse_port(u->port, &value) < 0 || value == 0)
		return -1;
	u->port_given = 1;
	return 0;
}

/*
 * Parses "http://host[:port][/path][?query][#fragment]". Returns 0, or -1
 * when the URL is not of that form.
 */
static int parse_url(const char *text, struct url *u)
{
	static const char scheme[] = "http://";
	size_t scheme_len = sizeof(scheme) - 1;

	memset(u, 0, sizeof(*u));
	for (const char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1; /* spaces and controls must be escaped */
	}
	if (strncasecmp(text, scheme, scheme_len) != 0)
		return -1;
	const char *auth = text + scheme_len;
	size_t auth_len = strcspn(auth, "/?#");
	if (memchr(auth, '@', auth_len) != NULL)
		return -1; /* user:password@ is not supported */
	if (parse_authority(auth, auth_len, u) < 0)
		return -1;
	const char *rest = auth + auth_len;
	size_t rest_len = strcspn(rest, "#");
	int n = snprintf(u->path, sizeof(u->path), "%s%.*s",
			 rest[0] == '/' ? "" : "/", (int)rest_len, rest);
	return n < 0 || (size_t)n >= sizeof(u->path) ? -1 : 0;
}

/*
 * Connects to the URL's host and port, trying each address. Returns the
 * socket, or -1 after printing why.
 */
static int connect_to(const struct url *u)
{
	struct addrinfo hints = {0};
	struct addrinfo *list;
	int fd = -1;
	int err = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(u->host, u->port, &hints, &list);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, u->host,
			gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = list; ai != NULL && fd < 0;
	     ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(list);
	if (fd < 0)
		fprintf(stderr, "%s: connect %s port %s: %s\n", PROG, u->host,
			u->port, strerror(err));
	return fd;
}

/* Sends the GET request. Returns 0, or -1 with errno set. */
static int send_request(int fd, const struct url *u)
{
	char req[REQUEST_MAX];

	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s%s%s%s%s\r\n"
			 "User-Agent: %s\r\n"
			 "Accept: */*\r\n"
			 "Connection: close\r\n"
			 "\r\n",
			 u->path, u->host_is_v6 ? "[" : "", u->host,
			 u->host_is_v6 ? "]" : "", u->port_given ? ":" : "",
			 u->port_given ? u->port : "", USER_AGENT);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		errno = EMSGSIZE;
		return -1;
	}
	return net_send_all(fd, req, (size_t)n) < 0 ? -1 : 0;
}

/*
 * Receives more bytes after r->have. Returns the count, 0 at end of
 * stream (r->eof set), or -1 with errno set (EAGAIN: timed out).
 */
static ssize_t reader_fill(struct reader *r)
{
	for (;;) {
		ssize_t n = recv(r->fd, r->buf + r->have,
				 sizeof(r->buf) - r->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			r->eof = 1;
		if (n > 0)
			r->have += (size_t)n;
		return n;
	}
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
	for (;;) {
		int n = http_parse_response(r->buf, r->have, res);
		if (n == HTTP_PARSE_ERROR)
			return bad_response("not an HTTP/1.x status line and "
					    "headers");
		if (n == HTTP_PARSE_TOO_MANY)
			return bad_response("too many header lines");
		if (n > 0) {
			if (res->status >= 200 || res->status == 101) {
				if (res->status == 101)
					return bad_response("unexpected 101");
				fwrite(r->buf, 1, (size_t)n, stderr);
				/* res points into buf: consume after use */
				return n;
			}
			reader_consume(r, (size_t)n); /* 1xx: interim */
			continue;
		}
		if (r->have == sizeof(r->buf))
			return bad_response("the head is too large");
		ssize_t got = reader_fill(r);
		if (got < 0) {
			perror(PROG ": recv");
			return -1;
		}
		if (got == 0)
			return bad_response(r->have == 0
						    ? "the server closed the "
						      "connection without "
						      "answering"
						    : "the connection closed "
						      "inside the head");
	}
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
	while (len > 0) {
		if (r->have == 0) {
			ssize_t got = reader_fill(r);
			if (got < 0) {
				perror(PROG ": recv");
				return -1;
			}
			if (got == 0)
				return bad_response("the connection closed "
						    "before Content-Length "
						    "bytes arrived");
		}
		size_t take = r->have < len ? r->have : (size_t)len;
		if (emit(out, r->buf, take) < 0)
			return -1;
		reader_consume(r, take);
		len -= take;
	}
	return 0;
}

/* Copies everything until the server closes. Returns 0 or -1. */
static int copy_until_close(struct reader *r, int out)
{
	for (;;) {
		if (emit(out, r->buf, r->have) < 0)
			return -1;
		r->have = 0;
		ssize_t got = reader_fill(r);
		if (got < 0) {
			perror(PROG ": recv");
			return -1;
		}
		if (got == 0)
			return 0;
	}
}

/* Decodes a chunked body. Returns 0, or -1 after printing why. */
static int copy_chunked(struct reader *r, int out)
{
	struct http_chunked dec = {0};

	for (;;) {
		size_t len = r->have;
		ssize_t rc = http_decode_chunked(&dec, r->buf, &len);
		if (rc == HTTP_PARSE_ERROR)
			return bad_response("bad chunked transfer coding");
		if (emit(out, r->buf, len) < 0)
			return -1;
		if (rc >= 0)
			return 0; /* bytes after the body are ignored */
		r->have = 0;
		ssize_t got = reader_fill(r);
		if (got < 0) {
			perror(PROG ": recv");
			return -1;
		}
		if (got == 0)
			return bad_response("the connection closed inside the "
					    "chunked body");
	}
}

/*
 * Finds how the body is framed (RFC 9112 section 6.3) and copies it.
 * Returns 0, or -1 after printing why.
 */
static int copy_body(struct reader *r, const struct http_response *res,
		     size_t head_len, int out)
{
	const struct http_header *te = http_find_header(
		res->headers, res->num_headers, "Transfer-Encoding");
	const struct http_header *cl = NULL;
	uint64_t length = 0;
	int status = res->status;

	for (size_t i = 0; i < res->num_headers; i++) {
		const struct http_header *h = &res->headers[i];
		uint64_t n;
		if (http_find_header(h, 1, "Content-Length") == NULL)
			continue;
		if (http_parse_content_length(h->value, h->value_len, &n) < 0 ||
		    (cl != NULL && n != length))
			return bad_response("bad Content-Length");
		cl = h;
		length = n;
	}
	int chunked = te != NULL &&
		      http_has_token(te->value, te->value_len, "chunked");
	reader_consume(r, head_len);
	if (status == 204 || status == 304)
		return 0;
	if (chunked)
		return copy_chunked(r, out);
	if (te == NULL && cl != NULL)
		return copy_length(r, length, out);
	return copy_until_close(r, out);
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
