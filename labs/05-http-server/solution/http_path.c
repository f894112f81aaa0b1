/*
 * http_path.c - reference percent-decoding, path normalisation and MIME
 * lookup (lab 05). Contracts are in ../http_path.h.
 */
#include "http_path.h"
#include "http_parse.h" /* http_hex_value */

#include <errno.h>
#include <string.h>
#include <strings.h>

ssize_t http_percent_decode(const char *src, size_t len, char *out,
			    size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '%') {
			if (i + 2 >= len) {
				errno = EINVAL;
				return -1;
			}
			int hi = http_hex_value((unsigned char)src[i + 1]);
			int lo = http_hex_value((unsigned char)src[i + 2]);
			/* "%00" would cut the file name short: refuse it. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				errno = EINVAL;
				return -1;
			}
			ch = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outlen) {
			errno = ENOSPC;
			return -1;
		}
		out[o++] = (char)ch;
	}
	if (outlen == 0) {
		errno = ENOSPC;
		return -1;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* Length of the segment starting at s (up to the next '/' or the end). */
static size_t segment_length(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

ssize_t http_normalize_path(const char *path, char *out, size_t outlen)
{
	size_t o = 0;

	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if (outlen < 2) {
		errno = ENOSPC;
		return -1;
	}
	out[o++] = '/';
	/* out always ends with '/' between segments. */
	for (const char *s = path; *s != '\0';) {
		while (*s == '/')
			s++;
		size_t n = segment_length(s);
		int last = s[n] == '\0';
		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* "//" or "/./": nothing to add */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (o == 1) {
				errno = EACCES;
				return -1;
			}
			o--; /* the '/' after the segment being removed */
			while (out[o - 1] != '/')
				o--;
		} else {
			if (o + n + 2 > outlen) {
				errno = ENOSPC;
				return -1;
			}
			memcpy(out + o, s, n);
			o += n;
			if (!last)
				out[o++] = '/';
		}
		s += n;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* The extension table: lowercase extension -> Content-Type. */
struct mime_entry {
	const char *ext;
	const char *type;
};

static const struct mime_entry mime_table[] = {
	{"html", "text/html; charset=utf-8"},
	{"htm", "text/html; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"json", "application/json"},
	{"txt", "text/plain; charset=utf-8"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"svg", "image/svg+xml"},
	{"ico", "image/x-icon"},
	{"pdf", "application/pdf"},
	{"wasm", "application/wasm"},
};

const char *http_mime_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name)
		return HTTP_DEFAULT_MIME;
	for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]);
	     i++) {
		if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
			return mime_table[i].type;
	}
	return HTTP_DEFAULT_MIME;
}
