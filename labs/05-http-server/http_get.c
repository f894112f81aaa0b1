/*
 * http_get - fetch one http:// URL (lab 05).
 *
 * Step 5 of the handout: write parse_url() and fetch(). The command line
 * and the output file are provided and already work.
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
 * Parses "http://host[:port][/path][?query][#fragment]" into *u.
 * Returns 0, or -1 when the URL is not of that form.
 */
static int parse_url(const char *text, struct url *u)
{
	/*
	 * TODO (step 5): check the scheme (strncasecmp "http://"), split
	 * host ("[::1]" for IPv6) and port (1..65535, default 80, see
	 * net_parse_port), keep "/path?query" (default "/"), drop
	 * "#fragment". Refuse spaces and control characters.
	 */
	(void)u;
	fprintf(stderr, "%s: parse_url (TODO in http_get.c) for '%s'\n", PROG,
		text);
	return -1;
}

/* Fetches the URL into out. Returns the exit status. */
static int fetch(const struct url *u, int out)
{
	/*
	 * TODO (step 5):
	 * 1. getaddrinfo(host, port), connect to the first address that
	 *    works; "Connection refused" -> a message and exit status 1.
	 * 2. Send "GET path HTTP/1.1" with Host, User-Agent and
	 *    "Connection: close" (net_send_all).
	 * 3. recv() into a buffer until http_parse_response() says the head
	 *    is complete; skip 1xx heads; print the head on stderr.
	 * 4. Copy the body to out: chunked (http_decode_chunked), else
	 *    Content-Length bytes, else until the server closes.
	 * 5. Return 0 for a 2xx status, 1 otherwise or on any error.
	 */
	(void)u;
	(void)out;
	fprintf(stderr, "%s: fetch (TODO in http_get.c)\n", PROG);
	return EXIT_FAILURE;
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
