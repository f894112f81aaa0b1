/*
 * udp_proto.h - the udp_client's request header, and small pure helpers.
 *
 * You implement these in udp_proto.c (step 2 of the handout);
 * tests/test_udp_proto.c checks them, and `make grade` runs those tests.
 *
 * The server echoes every datagram byte for byte, so the client is free to
 * put a header of its own in front of each request: it gets the header
 * back in the reply. The header is a 32-bit sequence number in network
 * byte order (big-endian). The client numbers its requests 1, 2, 3, ...
 * and accepts a reply only when its number is the one it is waiting for:
 * a late reply to an earlier request, or a second copy of a reply it has
 * already printed, carries an older number and is ignored.
 *
 *     byte 0      1      2      3      4 ...
 *     +------+------+------+------+-------------------------+
 *     | sequence number (big-endian) | body: the line's bytes |
 *     +------+------+------+------+-------------------------+
 *
 * Convention for the whole course: a helper returns a value >= 0 on
 * success, or -1 with errno set. Helpers never print and never exit.
 */
#ifndef UDP_PROTO_H
#define UDP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The largest payload of one UDP datagram over IPv4: the IPv4 total length
 * field allows 65535 bytes, minus 20 for the IPv4 header and 8 for the UDP
 * header.
 */
#define UDP_MAX_PAYLOAD 65507

/* A receive buffer for any datagram, even over IPv6 (65527 bytes). */
#define UDP_RECV_BUF_SIZE 65536

/* The header the client puts in front of each line: the sequence number. */
#define UDP_PROTO_HEADER_LEN 4

/* The longest line one request can carry. */
#define UDP_PROTO_MAX_BODY (UDP_MAX_PAYLOAD - UDP_PROTO_HEADER_LEN)

/*
 * Writes one request datagram into out: seq in network byte order, then
 * body_len bytes of body (any bytes, NUL included; body may be NULL when
 * body_len is 0). Returns the datagram's length, UDP_PROTO_HEADER_LEN +
 * body_len, or -1 with errno EMSGSIZE when that is more than out_cap or
 * more than UDP_MAX_PAYLOAD (out is then left unchanged).
 */
ssize_t udp_proto_encode(uint32_t seq, const void *body, size_t body_len,
			 void *out, size_t out_cap);

/*
 * Reads the header of a datagram of len bytes. Returns 0 and sets *seq,
 * and *body and *body_len to the bytes after the header (*body points into
 * dgram; *body_len may be 0). Returns -1 with errno EBADMSG when the
 * datagram is shorter than the header (nothing is set then).
 */
int udp_proto_decode(const void *dgram, size_t len, uint32_t *seq,
		     const void **body, size_t *body_len);

/*
 * Parses a whole decimal number between min and max (for -t and -r):
 * digits only, no sign, no spaces, no trailing text. Returns 0 and sets
 * *value, or -1 with errno EINVAL (not a number) or ERANGE (a number
 * outside min..max); *value is then left unchanged.
 */
int udp_parse_count(const char *text, long min, long max, long *value);

#endif /* UDP_PROTO_H */
