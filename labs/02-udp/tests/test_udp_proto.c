/*
 * test_udp_proto.c - unit tests for udp_proto.c (lab 02).
 *
 * Run all groups:   build/lab02/tests/test_udp_proto
 * Run one group:    build/lab02/tests/test_udp_proto encode
 *
 * Groups: encode (udp_proto_encode), decode (udp_proto_decode),
 * parse_count (udp_parse_count).
 */
#include "unit_cases.h" /* cmocka, and groups of table-driven cases */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "udp_proto.h"

#define GUARD 0xA5 /* fills buffers: bytes a helper must not touch */

/* Fails with a sentence unless a call returned -1 with errno `err`. */
static void expect_failure(const char *call, long rc, int err)
{
	if (rc != -1 || errno != err)
		fail_msg("%s should return -1 with errno %s, but it returned "
			 "%ld with errno %s",
			 call, strerror(err), rc, strerror(errno));
}

/* Fails unless got[0..len) equals want, naming the first difference. */
static void expect_bytes_equal(const char *what, const unsigned char *want,
			       const unsigned char *got, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (want[i] != got[i])
			fail_msg("%s: byte %zu should be 0x%02x, but it is "
				 "0x%02x",
				 what, i, want[i], got[i]);
}

/* ---- udp_proto_encode ------------------------------------------------ */

static void test_encode_header_is_big_endian(void **state)
{
	(void)state;
	unsigned char out[16];
	const unsigned char want[] = {0x12, 0x34, 0x56, 0x78, 'h', 'i'};

	memset(out, GUARD, sizeof(out));
	ssize_t n = udp_proto_encode(0x12345678u, "hi", 2, out, sizeof(out));
	if (n != (ssize_t)sizeof(want))
		fail_msg("udp_proto_encode(0x12345678, \"hi\") should return "
			 "%zu (4 header bytes + 2), but it returned %zd",
			 sizeof(want), n);
	expect_bytes_equal("udp_proto_encode(0x12345678, \"hi\"): the "
			   "sequence number goes first, most significant "
			   "byte first (network byte order)",
			   want, out, sizeof(want));
	if (out[sizeof(want)] != GUARD)
		fail_msg("udp_proto_encode wrote past the end of the datagram");
}

static void test_encode_small_and_large_numbers(void **state)
{
	(void)state;
	unsigned char out[UDP_PROTO_HEADER_LEN];
	const unsigned char one[] = {0, 0, 0, 1};
	const unsigned char max[] = {0xff, 0xff, 0xff, 0xff};

	assert_int_equal(udp_proto_encode(1, NULL, 0, out, sizeof(out)),
			 UDP_PROTO_HEADER_LEN);
	expect_bytes_equal("sequence number 1", one, out, sizeof(one));
	assert_int_equal(
		udp_proto_encode(UINT32_MAX, NULL, 0, out, sizeof(out)),
		UDP_PROTO_HEADER_LEN);
	expect_bytes_equal("sequence number 4294967295", max, out, sizeof(max));
}

static void test_encode_binary_body(void **state)
{
	(void)state;
	unsigned char body[256];
	unsigned char out[UDP_PROTO_HEADER_LEN + sizeof(body)];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)i; /* NUL bytes included */
	ssize_t n = udp_proto_encode(7, body, sizeof(body), out, sizeof(out));
	if (n >= 0 && n != (ssize_t)sizeof(out))
		fail_msg("udp_proto_encode of a 256-byte body holding every "
			 "byte value (NUL too) should return %zu, but it "
			 "returned %zd: is the body treated as a C string?",
			 sizeof(out), n);
	if (n < 0)
		fail_msg("udp_proto_encode of a 256-byte body should return "
			 "%zu, but it returned -1 (errno %s)",
			 sizeof(out), strerror(errno));
	expect_bytes_equal("the body after the header", body,
			   out + UDP_PROTO_HEADER_LEN, sizeof(body));
}

static void test_encode_too_big(void **state)
{
	(void)state;
	static unsigned char body[UDP_MAX_PAYLOAD];
	static unsigned char out[UDP_MAX_PAYLOAD + UDP_PROTO_HEADER_LEN];

	assert_int_equal(
		udp_proto_encode(1, body, UDP_PROTO_MAX_BODY, out, sizeof(out)),
		UDP_MAX_PAYLOAD);
	errno = 0;
	expect_failure("udp_proto_encode of a body of UDP_PROTO_MAX_BODY + 1 "
		       "bytes (the datagram would pass 65507)",
		       udp_proto_encode(1, body, UDP_PROTO_MAX_BODY + 1, out,
					sizeof(out)),
		       EMSGSIZE);

	unsigned char small[8];
	memset(small, GUARD, sizeof(small));
	errno = 0;
	expect_failure("udp_proto_encode of 5 body bytes into an 8-byte "
		       "buffer",
		       udp_proto_encode(1, "hello", 5, small, sizeof(small)),
		       EMSGSIZE);
	for (size_t i = 0; i < sizeof(small); i++)
		if (small[i] != GUARD)
			fail_msg("udp_proto_encode changed the buffer although "
				 "the datagram did not fit");
	assert_int_equal(udp_proto_encode(1, "hell", 4, small, sizeof(small)),
			 sizeof(small));
}

/* ---- udp_proto_decode ------------------------------------------------ */

static void test_decode_header_and_body(void **state)
{
	(void)state;
	const unsigned char dgram[] = {0x00, 0x01, 0x02, 0x03, 'a', 0, 'b'};
	uint32_t seq = 0;
	const void *body = NULL;
	size_t body_len = 0;

	int rc = udp_proto_decode(dgram, sizeof(dgram), &seq, &body, &body_len);
	if (rc != 0)
		fail_msg("udp_proto_decode of a 7-byte datagram should return "
			 "0, but it returned %d",
			 rc);
	if (seq != 0x00010203u)
		fail_msg("udp_proto_decode of 00 01 02 03 ... should give "
			 "sequence number 0x00010203 (network byte order), but "
			 "it gave 0x%08x",
			 (unsigned)seq);
	if (body != dgram + UDP_PROTO_HEADER_LEN || body_len != 3)
		fail_msg("udp_proto_decode should point body at the 3 bytes "
			 "after the header (a, NUL, b), but body is at offset "
			 "%td with length %zu",
			 (const unsigned char *)body - dgram, body_len);
}

static void test_decode_empty_body(void **state)
{
	(void)state;
	const unsigned char dgram[] = {0xff, 0xff, 0xff, 0xfe};
	uint32_t seq = 0;
	const void *body = NULL;
	size_t body_len = 99;

	assert_int_equal(
		udp_proto_decode(dgram, sizeof(dgram), &seq, &body, &body_len),
		0);
	if (seq != 0xfffffffeu || body_len != 0)
		fail_msg("udp_proto_decode of ff ff ff fe should give sequence "
			 "number 0xfffffffe and an empty body, but it gave "
			 "0x%08x and %zu bytes",
			 (unsigned)seq, body_len);
}

static const size_t short_lengths[] = {0, 1, 2, 3};

static void test_decode_too_short_row(void **state)
{
	const size_t len = *(const size_t *)*state;
	const unsigned char dgram[] = {0x00, 0x00, 0x01};
	uint32_t seq = 42;
	const void *body = NULL;
	size_t body_len = 42;
	char call[64];

	snprintf(call, sizeof(call), "udp_proto_decode of a %zu-byte datagram",
		 len);
	errno = 0;
	expect_failure(call,
		       udp_proto_decode(dgram, len, &seq, &body, &body_len),
		       EBADMSG);
	if (seq != 42 || body_len != 42)
		fail_msg("%s changed its outputs although it failed", call);
	/* A function that rejects everything earns nothing here. */
	test_decode_empty_body(NULL);
}

static const char *const round_trip_lines[] = {"", "x", "hello, udp",
					       "\xe4\xbd\xa0\xe5\xa5\xbd"};

static void test_round_trip_row(void **state)
{
	const char *line = *state;
	uint32_t seq_in = (uint32_t)(strlen(line) * 1000003u + 1);
	uint32_t seq_out = 0;
	const void *body;
	size_t body_len;
	size_t len = strlen(line);
	unsigned char out[64];

	ssize_t n = udp_proto_encode(seq_in, line, len, out, sizeof(out));
	assert_int_equal(n, UDP_PROTO_HEADER_LEN + len);
	assert_int_equal(
		udp_proto_decode(out, (size_t)n, &seq_out, &body, &body_len),
		0);
	if (seq_out != seq_in || body_len != len ||
	    memcmp(body, line, len) != 0)
		fail_msg(
			"decode(encode(%u, \"%s\")) gave back %u and %zu bytes",
			(unsigned)seq_in, line, (unsigned)seq_out, body_len);
}

/* ---- udp_parse_count ------------------------------------------------- */

struct count_case {
	const char *text;
	long min, max;
	int ok; /* 1: expect success with `value`; 0: expect -1 with err */
	long value;
	int err;
};

static const struct count_case count_cases[] = {
	{"500", 1, 60000, 1, 500, 0},
	{"1", 1, 60000, 1, 1, 0},
	{"60000", 1, 60000, 1, 60000, 0},
	{"0", 0, 100, 1, 0, 0},
	{"007", 0, 100, 1, 7, 0},
	{"0", 1, 60000, 0, 0, ERANGE},
	{"60001", 1, 60000, 0, 0, ERANGE},
	{"101", 0, 100, 0, 0, ERANGE},
	{"99999999999999999999999999", 0, 100, 0, 0, ERANGE},
	{"", 0, 100, 0, 0, EINVAL},
	{"-1", 0, 100, 0, 0, EINVAL},
	{"+5", 0, 100, 0, 0, EINVAL},
	{" 5", 0, 100, 0, 0, EINVAL},
	{"5 ", 0, 100, 0, 0, EINVAL},
	{"5ms", 0, 100, 0, 0, EINVAL},
	{"abc", 0, 100, 0, 0, EINVAL},
	{"1e3", 1, 60000, 0, 0, EINVAL},
	{"99999999999999999999999x", 0, 100, 0, 0, EINVAL},
};

#define VALUE_UNTOUCHED 4242 /* *value must keep this when parsing fails */

static void expect_count(const char *text, long min, long max, long want)
{
	long value = VALUE_UNTOUCHED;

	errno = 0;
	int rc = udp_parse_count(text, min, max, &value);
	if (rc != 0 || value != want)
		fail_msg(
			"udp_parse_count(\"%s\", %ld, %ld) should return 0 and "
			"give %ld, but it returned %d and gave %ld",
			text, min, max, want, rc, value);
}

static void test_parse_count_row(void **state)
{
	const struct count_case *c = *state;
	long value = VALUE_UNTOUCHED;
	char call[96];

	if (c->ok) {
		expect_count(c->text, c->min, c->max, c->value);
		return;
	}
	snprintf(call, sizeof(call), "udp_parse_count(\"%s\", %ld, %ld)",
		 c->text, c->min, c->max);
	errno = 0;
	int rc = udp_parse_count(c->text, c->min, c->max, &value);
	expect_failure(call, rc, c->err);
	if (value != VALUE_UNTOUCHED)
		fail_msg("%s failed but changed *value to %ld", call, value);
	/* A function that rejects everything earns nothing here. */
	expect_count("7", 0, 100, 7);
}

static void test_parse_count_null(void **state)
{
	long value = VALUE_UNTOUCHED;
	(void)state;

	errno = 0;
	expect_failure("udp_parse_count(NULL, 0, 100)",
		       udp_parse_count(NULL, 0, 100, &value), EINVAL);
	expect_count("7", 0, 100, 7);
}

/* ---- groups ---------------------------------------------------------- */

static void add_encode_cases(struct case_list *list)
{
	add_plain_case(list, "udp_proto_encode: the header is big-endian",
		       test_encode_header_is_big_endian);
	add_plain_case(list, "udp_proto_encode: sequence numbers 1 and 2^32-1",
		       test_encode_small_and_large_numbers);
	add_plain_case(list, "udp_proto_encode: a binary body",
		       test_encode_binary_body);
	add_plain_case(list, "udp_proto_encode: a datagram too big",
		       test_encode_too_big);
}

static void add_decode_cases(struct case_list *list)
{
	add_plain_case(list, "udp_proto_decode: header and body",
		       test_decode_header_and_body);
	add_plain_case(list, "udp_proto_decode: an empty body",
		       test_decode_empty_body);
	for (size_t i = 0; i < sizeof(short_lengths) / sizeof(short_lengths[0]);
	     i++)
		snprintf(add_case(list, test_decode_too_short_row,
				  &short_lengths[i]),
			 CASE_NAME_MAX,
			 "udp_proto_decode of a %zu-byte datagram",
			 short_lengths[i]);
	for (size_t i = 0;
	     i < sizeof(round_trip_lines) / sizeof(round_trip_lines[0]); i++)
		snprintf(add_case(list, test_round_trip_row,
				  round_trip_lines[i]),
			 CASE_NAME_MAX, "decode(encode(a %zu-byte line))",
			 strlen(round_trip_lines[i]));
}

static void add_parse_count_cases(struct case_list *list)
{
	for (size_t i = 0; i < sizeof(count_cases) / sizeof(count_cases[0]);
	     i++) {
		const struct count_case *c = &count_cases[i];
		snprintf(add_case(list, test_parse_count_row, c), CASE_NAME_MAX,
			 "udp_parse_count(\"%s\", %ld, %ld)", c->text, c->min,
			 c->max);
	}
	add_plain_case(list, "udp_parse_count(NULL, 0, 100)",
		       test_parse_count_null);
}

int main(int argc, char **argv)
{
	static const struct case_group groups[] = {
		{"encode", add_encode_cases},
		{"decode", add_decode_cases},
		{"parse_count", add_parse_count_cases},
	};

	return run_case_groups(groups, sizeof(groups) / sizeof(groups[0]), argc,
			       argv);
}
