/*
 * test_frame.c - unit tests for frame.c (lab 04).
 *
 * Run all groups:   build/lab04/tests/test_frame
 * Run one group:    build/lab04/tests/test_frame len
 *
 * Groups: len (length-prefixed decoding), line (line decoding), limits
 * (over-limit messages and other protocol errors), buffer (frame_wrap,
 * frame_decoder_space/commit, long streams through a minimal buffer).
 * Each test builds a stream, feeds it to a decoder in chosen pieces and
 * compares the messages that come out with the ones that went in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h> /* before cmocka.h, which redefines malloc and free */
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "frame.h"

#define STREAM_MAX (256 * 1024)
#define MSGS_MAX 4096
#define SMALL_MAX 64   /* payload limit of the small decoders */
#define RANDOM_SEED 4u /* fixed: a failure always reproduces */

/* A test message: its payload (len bytes of text, NULs allowed). */
struct msg {
	const char *text;
	size_t len;
};

#define MSG(s)                                                                 \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}

/* What came out of a decoder: payloads stored back to back. */
struct result {
	unsigned char data[STREAM_MAX];
	size_t used;
	size_t offset[MSGS_MAX];
	size_t len[MSGS_MAX];
	size_t count;
	int broken;	/* frame_decoder_next returned -1 */
	int bad_view;	/* a message did not point into the buffer */
	size_t pending; /* frame_decoder_pending at the end */
	char error[FRAME_ERROR_TEXT_MAX];
};

static struct result result;
static unsigned char stream[STREAM_MAX];

/* A small deterministic generator (xorshift32), the same on every run. */
static uint32_t rng_state = RANDOM_SEED;

static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

#define SHOWN_MAX 48 /* payload bytes quoted in a failure message */
#define SHOWN_SIZE (4 * SHOWN_MAX + 8)

/*
 * Writes data as text into out (SHOWN_SIZE bytes): printable bytes as
 * they are, \r \n \t \\ \" as escapes, others as \xNN, so that a
 * message quoting a payload shows every byte, NULs included; more than
 * SHOWN_MAX bytes end in "...". Returns out.
 */
static const char *show(const void *data, size_t len, char *out)
{
	const unsigned char *p = data;
	size_t at = 0;

	for (size_t i = 0; i < len && i < SHOWN_MAX; i++) {
		unsigned char c = p[i];
		const char *esc = c == '\r'   ? "\\r"
				  : c == '\n' ? "\\n"
				  : c == '\t' ? "\\t"
				  : c == '\\' ? "\\\\"
				  : c == '"'  ? "\\\""
					      : NULL;
		if (esc != NULL)
			at += (size_t)snprintf(out + at, SHOWN_SIZE - at, "%s",
					       esc);
		else if (c >= 0x20 && c < 0x7f)
			out[at++] = (char)c;
		else
			at += (size_t)snprintf(out + at, SHOWN_SIZE - at,
					       "\\x%02x", c);
	}
	snprintf(out + at, SHOWN_SIZE - at, "%s", len > SHOWN_MAX ? "..." : "");
	return out;
}

/* Appends payload as one frame of the mode to stream; returns new size. */
static size_t put_frame(enum frame_mode mode, size_t at, const void *payload,
			size_t len)
{
	if (at + len + FRAME_LEN_HEADER_SIZE > STREAM_MAX)
		fail_msg("the test's own stream buffer is too small for this "
			 "case: a bug in the test, not in frame.c");
	if (mode == FRAME_MODE_LEN) {
		stream[at++] = (unsigned char)(len >> 24);
		stream[at++] = (unsigned char)(len >> 16);
		stream[at++] = (unsigned char)(len >> 8);
		stream[at++] = (unsigned char)len;
	}
	memcpy(stream + at, payload, len);
	at += len;
	if (mode == FRAME_MODE_LINE)
		stream[at++] = '\n';
	return at;
}

static size_t build_stream(enum frame_mode mode, const struct msg *msgs,
			   size_t n)
{
	size_t at = 0;

	for (size_t i = 0; i < n; i++)
		at = put_frame(mode, at, msgs[i].text, msgs[i].len);
	return at;
}

/* Takes out every whole message; records them in result. */
static void drain(struct frame_decoder *d)
{
	struct frame_msg m;
	int rc;

	while ((rc = frame_decoder_next(d, &m)) == 1) {
		if (m.len > 0 &&
		    (m.data < d->buf || m.data + m.len > d->buf + d->cap))
			result.bad_view = 1;
		if (result.count == MSGS_MAX ||
		    result.used + m.len > STREAM_MAX)
			fail_msg("the decoder gave more messages than were "
				 "sent");
		memcpy(result.data + result.used, m.data, m.len);
		result.offset[result.count] = result.used;
		result.len[result.count] = m.len;
		result.used += m.len;
		result.count++;
	}
	if (rc < 0 && !result.broken) {
		result.broken = 1;
		snprintf(result.error, sizeof(result.error), "%s",
			 frame_decoder_error(d));
		if (errno != EPROTO)
			fail_msg(
				"frame_decoder_next returned -1 with errno %s, "
				"expected EPROTO",
				strerror(errno));
	}
}

/*
 * Feeds stream[0..len) to a fresh decoder with a buffer of exactly
 * FRAME_BUFFER_SIZE(max) bytes, in pieces of the given sizes (the last
 * size repeats), taking messages out after each piece.
 */
static void decode(enum frame_mode mode, size_t max, size_t len,
		   const size_t *sizes, size_t nsizes)
{
	size_t cap = FRAME_BUFFER_SIZE(max);
	unsigned char *buf = malloc(cap);
	struct frame_decoder d;
	size_t at = 0, k = 0;

	if (buf == NULL)
		fail_msg("the test could not allocate the decoder's %zu-byte "
			 "buffer",
			 cap);
	memset(&result, 0, sizeof(result));
	if (frame_decoder_init(&d, mode, max, buf, cap) != 0)
		fail_msg("frame_decoder_init(max %zu, cap %zu) failed: %s", max,
			 cap, strerror(errno));
	while (at < len && !result.broken) {
		size_t piece = sizes[k < nsizes ? k : nsizes - 1];
		k++;
		if (piece > len - at)
			piece = len - at;
		while (piece > 0 && !result.broken) {
			size_t took =
				frame_decoder_feed(&d, stream + at, piece);
			if (took == 0)
				fail_msg("frame_decoder_feed took no byte at "
					 "offset %zu although every whole "
					 "message had been taken out",
					 at);
			at += took;
			piece -= took;
			drain(&d);
		}
	}
	drain(&d);
	result.pending = frame_decoder_pending(&d);
	free(buf);
}

/* Fails unless result holds exactly msgs, with nothing left over. */
static void expect_messages(const struct msg *msgs, size_t n, const char *how)
{
	if (result.broken)
		fail_msg("%s: the decoder reported a protocol error (\"%s\") "
			 "on a valid stream",
			 how, result.error);
	if (result.count != n)
		fail_msg("%s: expected %zu messages, the decoder gave %zu", how,
			 n, result.count);
	for (size_t i = 0; i < n; i++) {
		char want[SHOWN_SIZE], got[SHOWN_SIZE];

		if (result.len[i] != msgs[i].len ||
		    memcmp(result.data + result.offset[i], msgs[i].text,
			   msgs[i].len) != 0)
			fail_msg("%s: message %zu should be %zu bytes \"%s\", "
				 "but it was %zu bytes \"%s\"",
				 how, i + 1, msgs[i].len,
				 show(msgs[i].text, msgs[i].len, want),
				 result.len[i],
				 show(result.data + result.offset[i],
				      result.len[i], got));
	}
	if (result.bad_view)
		fail_msg(
			"%s: a message did not point into the decoder's buffer "
			"(hand back views, do not copy)",
			how);
	if (result.pending != 0)
		fail_msg("%s: frame_decoder_pending should be 0 after whole "
			 "messages, it was %zu",
			 how, result.pending);
}

/* Feeds the stream split in two at every point, and split in three. */
static void check_every_split(enum frame_mode mode, const struct msg *msgs,
			      size_t n)
{
	size_t len = build_stream(mode, msgs, n);
	char how[96];

	for (size_t i = 0; i <= len; i++) {
		size_t sizes[] = {i, len};
		snprintf(how, sizeof(how), "stream of %zu bytes split at %zu",
			 len, i);
		decode(mode, SMALL_MAX, len, sizes, 2);
		expect_messages(msgs, n, how);
		for (size_t j = 1; j + i <= len; j += 3) {
			size_t three[] = {i, j, len};
			snprintf(how, sizeof(how),
				 "stream of %zu bytes cut at %zu and %zu", len,
				 i, i + j);
			decode(mode, SMALL_MAX, len, three, 3);
			expect_messages(msgs, n, how);
		}
	}
	size_t one = 1;
	decode(mode, SMALL_MAX, len, &one, 1);
	expect_messages(msgs, n, "the stream fed one byte at a time");
}

/* ---- length-prefixed ------------------------------------------------- */

static const struct msg len_msgs[] = {
	MSG("hello"),
	MSG(""),
	MSG("a\0b\nc\r\n"),
	MSG("x"),
	MSG("\xff\xfe\x00\x01"),
	MSG(""),
};
#define N_LEN_MSGS (sizeof(len_msgs) / sizeof(len_msgs[0]))

static void test_len_one_message(void **state)
{
	(void)state;
	size_t len = build_stream(FRAME_MODE_LEN, len_msgs, 1);
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &len, 1);
	expect_messages(len_msgs, 1, "one message \"hello\" in one feed");
}

static void test_len_many_in_one_feed(void **state)
{
	(void)state;
	size_t len = build_stream(FRAME_MODE_LEN, len_msgs, N_LEN_MSGS);
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &len, 1);
	expect_messages(len_msgs, N_LEN_MSGS,
			"six messages (two empty, one with NULs) in one feed");
}

static void test_len_every_split_point(void **state)
{
	(void)state;
	check_every_split(FRAME_MODE_LEN, len_msgs, N_LEN_MSGS);
}

static void test_len_zero_length_only(void **state)
{
	(void)state;
	static const struct msg empties[] = {MSG(""), MSG(""), MSG("")};
	size_t len = build_stream(FRAME_MODE_LEN, empties, 3);
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &len, 1);
	expect_messages(empties, 3, "three zero-length messages");
	size_t one = 1;
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &one, 1);
	expect_messages(empties, 3, "three zero-length messages, bytewise");
}

static void test_len_header_is_big_endian(void **state)
{
	(void)state;
	/* 00 00 01 00 is 256 in network byte order (65536 read backwards). */
	static char payload[256];
	memset(payload, 'b', sizeof(payload));
	struct msg m = {payload, sizeof(payload)};
	size_t len = build_stream(FRAME_MODE_LEN, &m, 1);
	size_t max = 1024;
	decode(FRAME_MODE_LEN, max, len, &len, 1);
	expect_messages(&m, 1, "a 256-byte message (header 00 00 01 00)");
}

static void test_len_straddles_many_feeds(void **state)
{
	(void)state;
	static char payload[10000];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	struct msg m[] = {{payload, sizeof(payload)}, MSG("after")};
	size_t len = build_stream(FRAME_MODE_LEN, m, 2);
	size_t seven = 7;
	decode(FRAME_MODE_LEN, sizeof(payload), len, &seven, 1);
	expect_messages(m, 2, "a 10000-byte message fed 7 bytes at a time");
}

/* ---- line-delimited -------------------------------------------------- */

static const struct msg line_msgs[] = {
	MSG("hello"),	     MSG(""), MSG("with\rcr\r"), MSG("a\0b"),
	MSG("\xe4\xbd\xa0"), MSG(""),
};
#define N_LINE_MSGS (sizeof(line_msgs) / sizeof(line_msgs[0]))

static void test_line_one_message(void **state)
{
	(void)state;
	size_t len = build_stream(FRAME_MODE_LINE, line_msgs, 1);
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	expect_messages(line_msgs, 1, "one line \"hello\\n\" in one feed");
}

static void test_line_many_in_one_feed(void **state)
{
	(void)state;
	size_t len = build_stream(FRAME_MODE_LINE, line_msgs, N_LINE_MSGS);
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	expect_messages(line_msgs, N_LINE_MSGS,
			"six lines (two empty, \\r kept) in one feed");
}

static void test_line_every_split_point(void **state)
{
	(void)state;
	check_every_split(FRAME_MODE_LINE, line_msgs, N_LINE_MSGS);
}

static void test_line_incomplete_is_pending(void **state)
{
	(void)state;
	memcpy(stream, "one\ntwo", 7);
	size_t len = 7;
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	if (result.count != 1 || result.broken || result.pending != 3)
		fail_msg("after \"one\\ntwo\" the decoder should give 1 line "
			 "and hold 3 pending bytes; it gave %zu lines, %zu "
			 "pending%s",
			 result.count, result.pending,
			 result.broken ? ", and a protocol error" : "");
}

static void test_line_straddles_many_feeds(void **state)
{
	(void)state;
	static char payload[20000];
	memset(payload, 'z', sizeof(payload));
	struct msg m[] = {{payload, sizeof(payload)}, MSG("next")};
	size_t len = build_stream(FRAME_MODE_LINE, m, 2);
	size_t eleven = 11;
	decode(FRAME_MODE_LINE, sizeof(payload), len, &eleven, 1);
	expect_messages(m, 2, "a 20000-byte line fed 11 bytes at a time");
}

/* ---- limits and errors ----------------------------------------------- */

/* Fails unless the last decode found a protocol error after `good` msgs. */
static void expect_error(size_t good, const char *how)
{
	if (!result.broken)
		fail_msg("%s: expected a protocol error, but the decoder "
			 "gave %zu messages and no error",
			 how, result.count);
	if (result.count != good)
		fail_msg("%s: the %zu valid messages before the error should "
			 "come out first; %zu did",
			 how, good, result.count);
	if (result.error[0] == '\0')
		fail_msg("%s: frame_decoder_error() should say why (it is the "
			 "text of the ERR reply), but it is empty",
			 how);
}

static void test_len_limit(void **state)
{
	(void)state;
	static char payload[SMALL_MAX + 1];
	memset(payload, 'm', sizeof(payload));
	struct msg at_max = {payload, SMALL_MAX};
	size_t len = build_stream(FRAME_MODE_LEN, &at_max, 1);
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &len, 1);
	expect_messages(&at_max, 1, "a message of exactly the limit");

	size_t at = put_frame(FRAME_MODE_LEN, 0, "ok", 2);
	/* Only the header of the too-long message: no need to wait. */
	at = put_frame(FRAME_MODE_LEN, at, payload, SMALL_MAX + 1);
	len = at - (SMALL_MAX + 1);
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &len, 1);
	expect_error(1, "a header announcing the limit + 1 (error as soon as "
			"the header is in)");
}

static void test_len_huge_header(void **state)
{
	(void)state;
	memcpy(stream, "\xff\xff\xff\xff", 4);
	size_t len = 4;
	size_t one = 1;
	decode(FRAME_MODE_LEN, SMALL_MAX, len, &one, 1);
	expect_error(0, "header ff ff ff ff, fed bytewise");
}

static void test_line_limit(void **state)
{
	(void)state;
	static char payload[SMALL_MAX + 10];
	memset(payload, 'l', sizeof(payload));
	struct msg at_max = {payload, SMALL_MAX};
	size_t len = build_stream(FRAME_MODE_LINE, &at_max, 1);
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	expect_messages(&at_max, 1, "a line of exactly the limit");

	/* limit + 1 bytes and no '\n' yet: already an error. */
	size_t at = put_frame(FRAME_MODE_LINE, 0, "ok", 2);
	memcpy(stream + at, payload, SMALL_MAX + 1);
	len = at + SMALL_MAX + 1;
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	expect_error(1, "a line of limit + 1 bytes with no '\\n' yet");

	size_t one = 1;
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &one, 1);
	expect_error(1, "the same, fed one byte at a time");

	len = put_frame(FRAME_MODE_LINE, 0, payload, SMALL_MAX + 1);
	decode(FRAME_MODE_LINE, SMALL_MAX, len, &len, 1);
	expect_error(0, "a line of limit + 1 bytes and its '\\n' in one feed");
}

static void test_error_is_final(void **state)
{
	(void)state;
	unsigned char buf[FRAME_BUFFER_SIZE(SMALL_MAX)];
	struct frame_decoder d;
	struct frame_msg m;
	size_t room = 1;

	if (frame_decoder_init(&d, FRAME_MODE_LEN, SMALL_MAX, buf,
			       sizeof(buf)) != 0)
		fail_msg("frame_decoder_init with FRAME_BUFFER_SIZE(%d) bytes "
			 "should return 0; it failed: %s",
			 SMALL_MAX, strerror(errno));
	frame_decoder_feed(&d, "\x7f\0\0\0", 4);
	if (frame_decoder_next(&d, &m) != -1)
		fail_msg("a header of 0x7f000000 with limit %d should be an "
			 "error",
			 SMALL_MAX);
	if (frame_decoder_next(&d, &m) != -1)
		fail_msg("after a protocol error, frame_decoder_next must keep "
			 "returning -1: the stream cannot be trusted any more");
	frame_decoder_space(&d, &room);
	if (room != 0)
		fail_msg("after a protocol error, frame_decoder_space should "
			 "offer no room, but it offered %zu bytes",
			 room);
}

static void test_init_checks(void **state)
{
	(void)state;
	unsigned char buf[FRAME_BUFFER_SIZE(SMALL_MAX)];
	struct frame_decoder d;

	errno = 0;
	if (frame_decoder_init(&d, FRAME_MODE_LEN, SMALL_MAX, buf,
			       sizeof(buf) - 1) != -1 ||
	    errno != EINVAL)
		fail_msg("frame_decoder_init with a buffer one byte smaller "
			 "than FRAME_BUFFER_SIZE(max) should fail with EINVAL");
	if (frame_decoder_init(&d, FRAME_MODE_LINE, SMALL_MAX, buf,
			       sizeof(buf)) != 0)
		fail_msg("frame_decoder_init with FRAME_BUFFER_SIZE(max) bytes "
			 "should succeed");
	enum frame_mode mode = FRAME_MODE_LINE;
	if (frame_parse_mode("len", &mode) != 0 || mode != FRAME_MODE_LEN ||
	    frame_parse_mode("line", &mode) != 0 || mode != FRAME_MODE_LINE)
		fail_msg("frame_parse_mode should accept \"len\" and \"line\"");
	errno = 0;
	if (frame_parse_mode("lines", &mode) != -1 || errno != EINVAL ||
	    frame_parse_mode("", &mode) != -1)
		fail_msg("frame_parse_mode should refuse anything but \"len\" "
			 "and \"line\" with EINVAL");
}

/* ---- buffer: wrap, space/commit, long streams ------------------------ */

static void test_wrap(void **state)
{
	(void)state;
	struct frame_wrap w;

	if (frame_wrap(FRAME_MODE_LEN, 0x01020304, &w) != 0)
		fail_msg("frame_wrap(len, 0x01020304) should return 0: the "
			 "length is under 2^32");
	if (w.head_len != 4 || memcmp(w.head, "\x01\x02\x03\x04", 4) != 0 ||
	    w.tail_len != 0)
		fail_msg("frame_wrap(len, 0x01020304) should give the header "
			 "01 02 03 04 (big-endian) and no trailer");
	if (frame_wrap(FRAME_MODE_LEN, 0, &w) != 0)
		fail_msg("frame_wrap(len, 0) should return 0: a zero-length "
			 "message is a message");
	if (w.head_len != 4 || memcmp(w.head, "\0\0\0\0", 4) != 0)
		fail_msg("frame_wrap(len, 0) should give the header 00 00 00 "
			 "00");
	if (frame_wrap(FRAME_MODE_LINE, 5, &w) != 0)
		fail_msg("frame_wrap(line, 5) should return 0");
	if (w.head_len != 0 || w.tail_len != 1 || w.tail[0] != '\n')
		fail_msg("frame_wrap(line, 5) should give no header and the "
			 "trailer \"\\n\"");
#if SIZE_MAX > UINT32_MAX
	errno = 0;
	if (frame_wrap(FRAME_MODE_LEN, (size_t)UINT32_MAX + 1, &w) != -1 ||
	    errno != EMSGSIZE)
		fail_msg("frame_wrap(len, 2^32) should fail with EMSGSIZE: the "
			 "length does not fit in 4 bytes");
#endif
}

/* Writes stream through frame_decoder_space/commit, as recv() would. */
static void test_space_and_commit(void **state)
{
	(void)state;
	unsigned char buf[FRAME_BUFFER_SIZE(SMALL_MAX)];
	struct frame_decoder d;
	size_t len = build_stream(FRAME_MODE_LEN, len_msgs, N_LEN_MSGS);
	size_t at = 0;

	memset(&result, 0, sizeof(result));
	if (frame_decoder_init(&d, FRAME_MODE_LEN, SMALL_MAX, buf,
			       sizeof(buf)) != 0)
		fail_msg("frame_decoder_init with FRAME_BUFFER_SIZE(%d) bytes "
			 "should return 0; it failed: %s",
			 SMALL_MAX, strerror(errno));
	while (at < len) {
		size_t room;
		unsigned char *space = frame_decoder_space(&d, &room);
		if (room == 0 || space < buf ||
		    space + room > buf + sizeof(buf))
			fail_msg(
				"frame_decoder_space gave %zu bytes of room at "
				"offset %td of a %zu-byte buffer",
				room, space - buf, sizeof(buf));
		size_t n = room < 3 ? room : 3;
		/* cppcheck takes fail_msg() for a return, and room for 0. */
		/* cppcheck-suppress knownConditionTrueFalse */
		if (n > len - at)
			n = len - at;
		memcpy(space, stream + at, n);
		frame_decoder_commit(&d, n);
		at += n;
		drain(&d);
	}
	result.pending = frame_decoder_pending(&d);
	expect_messages(len_msgs, N_LEN_MSGS,
			"writing 3 bytes at a time "
			"through frame_decoder_space");
}

/*
 * Thousands of random messages (0..max bytes) in random pieces through a
 * buffer of exactly FRAME_BUFFER_SIZE(max): whole messages near the end
 * of the buffer must make room by moving the partial one to the front.
 */
static void random_stream(enum frame_mode mode)
{
	static struct msg msgs[MSGS_MAX];
	static char texts[STREAM_MAX];
	static size_t sizes[STREAM_MAX];
	size_t n = 0, used = 0, at = 0;

	rng_state = RANDOM_SEED;
	while (n < 3000) {
		size_t len = rng_next() % (SMALL_MAX + 1);
		if (used + len > STREAM_MAX ||
		    at + len + FRAME_LEN_HEADER_SIZE > STREAM_MAX)
			break;
		for (size_t i = 0; i < len; i++)
			texts[used + i] =
				(char)(mode == FRAME_MODE_LINE
					       ? 'a' + rng_next() % 26
					       : (int)(rng_next() & 0xff));
		msgs[n].text = texts + used;
		msgs[n].len = len;
		at = put_frame(mode, at, msgs[n].text, len);
		used += len;
		n++;
	}
	for (size_t i = 0; i < at; i++)
		sizes[i] = 1 + rng_next() % (3 * SMALL_MAX);
	decode(mode, SMALL_MAX, at, sizes, at);
	expect_messages(msgs, n,
			"thousands of random messages in random "
			"pieces through a minimal buffer (seed 4)");
}

static void test_random_len(void **state)
{
	(void)state;
	random_stream(FRAME_MODE_LEN);
}

static void test_random_line(void **state)
{
	(void)state;
	random_stream(FRAME_MODE_LINE);
}

/* ---- groups ---------------------------------------------------------- */

int main(int argc, char **argv)
{
	/* One group per step of the handout: len, limits and buffer are
	 * step 1's (the length-prefixed decoder), line is step 2's. */
	const struct CMUnitTest len_tests[] = {
		cmocka_unit_test(test_len_one_message),
		cmocka_unit_test(test_len_many_in_one_feed),
		cmocka_unit_test(test_len_every_split_point),
		cmocka_unit_test(test_len_zero_length_only),
		cmocka_unit_test(test_len_header_is_big_endian),
		cmocka_unit_test(test_len_straddles_many_feeds),
	};
	const struct CMUnitTest line_tests[] = {
		cmocka_unit_test(test_line_one_message),
		cmocka_unit_test(test_line_many_in_one_feed),
		cmocka_unit_test(test_line_every_split_point),
		cmocka_unit_test(test_line_incomplete_is_pending),
		cmocka_unit_test(test_line_straddles_many_feeds),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_random_line),
	};
	const struct CMUnitTest limit_tests[] = {
		cmocka_unit_test(test_len_limit),
		cmocka_unit_test(test_len_huge_header),
		cmocka_unit_test(test_error_is_final),
		cmocka_unit_test(test_init_checks),
	};
	const struct CMUnitTest buffer_tests[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_space_and_commit),
		cmocka_unit_test(test_random_len),
	};
	static const char *const groups[] = {"len", "line", "limits", "buffer"};
	const char *only = argc > 1 ? argv[1] : NULL;
	int known = only == NULL;
	int failed = 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		known |= only != NULL && strcmp(only, groups[i]) == 0;
	if (!known) {
		fprintf(stderr, "usage: %s [len|line|limits|buffer]\n",
			argv[0]);
		return 2;
	}
	if (only == NULL || strcmp(only, "len") == 0)
		failed += cmocka_run_group_tests_name("len", len_tests, NULL,
						      NULL);
	if (only == NULL || strcmp(only, "line") == 0)
		failed += cmocka_run_group_tests_name("line", line_tests, NULL,
						      NULL);
	if (only == NULL || strcmp(only, "limits") == 0)
		failed += cmocka_run_group_tests_name("limits", limit_tests,
						      NULL, NULL);
	if (only == NULL || strcmp(only, "buffer") == 0)
		failed += cmocka_run_group_tests_name("buffer", buffer_tests,
						      NULL, NULL);
	return failed == 0 ? 0 : 1;
}
