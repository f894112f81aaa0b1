/*
 * http_path.c - from request target to file, for lab 05. Step 3 of the
 * handout: write these functions. Their contracts are in http_path.h;
 * the unit tests in tests/test_http_path.c check them.
 */
#include "http_path.h"
#include "http_parse.h" /* http_hex_value */

#include <errno.h>
#include <string.h>
#include <strings.h>

ssize_t http_percent_decode(const char *src, size_t len, char *out,
			    size_t outlen)
{
	/*
	 * TODO (step 3): copy src to out, turning "%41" into 'A'. A '%'
	 * needs two hex digits after it (http_hex_value gives a digit's
	 * value; check you do not read past len); refuse "%00". Check the
	 * room in out before each byte, and leave room for the NUL.
	 */
	(void)src;
	(void)len;
	(void)out;
	(void)outlen;
	errno = ENOSYS;
	return -1;
}

ssize_t http_normalize_path(const char *path, char *out, size_t outlen)
{
	/*
	 * TODO (step 3): walk the segments between slashes. Skip empty
	 * ones and "."; for "..", remove the last segment written to out
	 * (EACCES if there is none: the path tried to climb above the
	 * root); copy any other segment. Keep the trailing slash.
	 * See docs/05-http.md, "Path traversal".
	 */
	(void)path;
	(void)out;
	(void)outlen;
	errno = ENOSYS;
	return -1;
}

const char *http_mime_type(const char *path)
{
	/*
	 * TODO (step 3): find the extension of the last segment (the text
	 * after its last '.', none for ".bashrc"), look it up in a table
	 * with strcasecmp(). See docs/05-http.md, "Content-Type".
	 */
	(void)path;
	return HTTP_DEFAULT_MIME;
}
