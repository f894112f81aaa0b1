/*
 * http_path.h - turning a request target into a file, for lab 05 (you
 * write http_path.c).
 *
 * The server takes the path part of the target ("/a%20b/c.html" in
 * "/a%20b/c.html?x=1"), decodes it, normalises it so that it cannot
 * leave the document root, and picks a Content-Type from the file name.
 * See docs/05-http.md, "Security basics".
 */
#ifndef HTTP_PATH_H
#define HTTP_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* Content-Type for a file whose extension is not in the table. */
#define HTTP_DEFAULT_MIME "application/octet-stream"

/*
 * Decodes the %XX escapes (hex digits in either case) of src[0..len) into
 * out, which gets a terminating NUL. Other bytes are copied; '+' stays
 * '+'. Returns the decoded length, or -1 with errno EINVAL (a '%' not
 * followed by two hex digits, or an escape that decodes to NUL) or
 * ENOSPC (out too small for the result and its NUL).
 */
ssize_t http_percent_decode(const char *src, size_t len, char *out,
			    size_t outlen);

/*
 * Normalises an absolute path into out (NUL-terminated): repeated slashes
 * become one, "." segments go, and each ".." removes the segment before
 * it. A trailing slash (or a final "." or "..") leaves a trailing slash.
 * Returns the length of out, or -1 with errno EINVAL (path does not start
 * with '/'), EACCES (a ".." would climb above "/") or ENOSPC.
 * Examples: "/a//b/./c/../d" -> "/a/b/d", "/a/b/.." -> "/a/", "/.." -> -1.
 */
ssize_t http_normalize_path(const char *path, char *out, size_t outlen);

/*
 * The Content-Type for a file name, from its extension (case does not
 * matter): .html/.htm, .css, .js, .json, .txt, .png, .jpg/.jpeg, .gif,
 * .svg, .ico, .pdf, .wasm; HTTP_DEFAULT_MIME for anything else. Text
 * types carry "; charset=utf-8". Never returns NULL.
 */
const char *http_mime_type(const char *path);

#endif /* HTTP_PATH_H */
