/*
 * udp_proto.c - the client's request header and pure helpers (lab 02).
 *
 * Step 2 of the handout: write the three functions below. Their contracts
 * are in udp_proto.h; tests/test_udp_proto.c checks them (make grade runs
 * it, or run build/lab02/tests/test_udp_proto encode).
 */
#include "udp_proto.h"

#include <errno.h>
#include <string.h>

ssize_t udp_proto_encode(uint32_t seq, const void *body, size_t body_len,
			 void *out, size_t out_cap)
{
	/*
	 * TODO (step 2): check that UDP_PROTO_HEADER_LEN + body_len fits both
	 * out_cap and UDP_MAX_PAYLOAD (else errno = EMSGSIZE, return -1,
	 * before writing anything). Then write seq as 4 bytes, most
	 * significant first (htonl() and memcpy, or shifts), and copy the
	 * body after it with memcpy: it may hold NUL bytes, so it is not a
	 * C string. Return the total length.
	 */
	(void)seq;
	(void)body;
	(void)body_len;
	(void)out;
	(void)out_cap;
	errno = ENOSYS;
	return -1;
}

int udp_proto_decode(const void *dgram, size_t len, uint32_t *seq,
		     const void **body, size_t *body_len)
{
	/*
	 * TODO (step 2): a datagram shorter than UDP_PROTO_HEADER_LEN is not
	 * one of ours: errno = EBADMSG, return -1. Otherwise read the 4
	 * header bytes back into *seq (ntohl() after memcpy, or shifts: the
	 * datagram may not be aligned for a uint32_t), and point *body at the
	 * rest, len - UDP_PROTO_HEADER_LEN bytes.
	 */
	(void)dgram;
	(void)len;
	(void)seq;
	(void)body;
	(void)body_len;
	errno = ENOSYS;
	return -1;
}

int udp_parse_count(const char *text, long min, long max, long *value)
{
	/*
	 * TODO (step 2): like net_parse_port() in labs/common/net.c, accept
	 * digits only (no sign, no spaces, nothing after), and fail with
	 * EINVAL otherwise, or with ERANGE when the number is outside
	 * min..max. Stop adding digits once the number is larger than max,
	 * so that a long string of digits cannot overflow a long.
	 */
	(void)text;
	(void)min;
	(void)max;
	(void)value;
	errno = ENOSYS;
	return -1;
}
