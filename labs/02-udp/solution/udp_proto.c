/*
 * udp_proto.c - the client's request header and pure helpers (lab 02,
 * reference). Contracts are in udp_proto.h.
 */
#include "udp_proto.h"

#include <errno.h>
#include <string.h>

#define BITS_PER_BYTE 8
#define DECIMAL_BASE 10

ssize_t udp_proto_encode(uint32_t seq, const void *body, size_t body_len,
			 void *out, size_t out_cap)
{
	unsigned char *p = out;

	if (body_len > UDP_PROTO_MAX_BODY ||
	    UDP_PROTO_HEADER_LEN + body_len > out_cap) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Most significant byte first: network byte order on any host. */
	for (int i = UDP_PROTO_HEADER_LEN - 1; i >= 0; i--) {
		p[i] = (unsigned char)(seq & 0xff);
		seq >>= BITS_PER_BYTE;
	}
	if (body_len > 0)
		memcpy(p + UDP_PROTO_HEADER_LEN, body, body_len);
	return (ssize_t)(UDP_PROTO_HEADER_LEN + body_len);
}

int udp_proto_decode(const void *dgram, size_t len, uint32_t *seq,
		     const void **body, size_t *body_len)
{
	const unsigned char *p = dgram;
	uint32_t value = 0;

	if (len < UDP_PROTO_HEADER_LEN) {
		errno = EBADMSG;
		return -1;
	}
	for (int i = 0; i < UDP_PROTO_HEADER_LEN; i++)
		value = (value << BITS_PER_BYTE) | p[i];
	*seq = value;
	*body = p + UDP_PROTO_HEADER_LEN;
	*body_len = len - UDP_PROTO_HEADER_LEN;
	return 0;
}

int udp_parse_count(const char *text, long min, long max, long *value)
{
	long n = 0;
	int too_big = 0;

	if (text == NULL || *text == '\0') {
		errno = EINVAL;
		return -1;
	}
	/* Digit by digit: strtol would accept spaces and a sign. */
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			errno = EINVAL;
			return -1;
		}
		int digit = *p - '0';
		/* Stop adding digits before n could pass max (or overflow),
		 * but read on: trailing junk is still EINVAL. */
		if (too_big || n > (max - digit) / DECIMAL_BASE)
			too_big = 1;
		else
			n = n * DECIMAL_BASE + digit;
	}
	if (too_big || n < min || n > max) {
		errno = ERANGE;
		return -1;
	}
	*value = n;
	return 0;
}
