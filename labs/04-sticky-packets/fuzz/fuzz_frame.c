/*
 * fuzz_frame.c - a libFuzzer target for the lab 04 decoder.
 *
 * The first two bytes of each input choose the framing, the payload limit
 * (0..63) and how the rest is cut into feeds; the rest is the stream.
 * The stream is decoded twice: by frame.c, fed piece by piece through a
 * buffer of exactly FRAME_BUFFER_SIZE(limit) bytes (so AddressSanitizer
 * sees any access past it), and by the simple model below, which looks
 * at the whole stream at once. Any difference in the messages, the
 * error, or the bytes left pending aborts the run.
 *
 * Build and run it with fuzz/run.sh (see there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define LIMIT_MASK 0x3f
#define PIECE_MASK 0x1f

/* What the model expects at offset *pos: 1 message, 0 incomplete, -1 error. */
static int model_next(enum frame_mode mode, size_t max, const uint8_t *s,
		      size_t len, size_t *pos, size_t *msg_at, size_t *msg_len)
{
	size_t left = len - *pos;
	const uint8_t *p = s + *pos;

	if (mode == FRAME_MODE_LEN) {
		if (left < FRAME_LEN_HEADER_SIZE)
			return 0;
		size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
			   (size_t)p[2] << 8 | p[3];
		if (n > max)
			return -1;
		if (left - FRAME_LEN_HEADER_SIZE < n)
			return 0;
		*msg_at = *pos + FRAME_LEN_HEADER_SIZE;
		*msg_len = n;
		*pos += FRAME_LEN_HEADER_SIZE + n;
		return 1;
	}
	const uint8_t *nl = memchr(p, FRAME_DELIMITER, left);
	if (nl == NULL)
		return left > max ? -1 : 0;
	size_t n = (size_t)(nl - p);
	if (n > max)
		return -1;
	*msg_at = *pos;
	*msg_len = n;
	*pos += n + 1;
	return 1;
}

/* Checks one message from frame.c against the model; aborts on a mismatch. */
static void check_message(enum frame_mode mode, size_t max, const uint8_t *s,
			  size_t len, size_t *pos, const struct frame_msg *m,
			  const struct frame_decoder *d)
{
	size_t at = 0, n = 0;

	if (model_next(mode, max, s, len, pos, &at, &n) != 1 || m->len != n ||
	    (n > 0 && memcmp(m->data, s + at, n) != 0))
		abort();
	if (n > 0 && (m->data < d->buf || m->data + n > d->buf + d->cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum frame_mode mode =
		(data[0] & 0x80) ? FRAME_MODE_LINE : FRAME_MODE_LEN;
	size_t max = data[0] & LIMIT_MASK;
	unsigned piece_seed = data[1];
	const uint8_t *s = data + 2;
	size_t len = size - 2;
	size_t cap = FRAME_BUFFER_SIZE(max);
	unsigned char *buf = malloc(cap);
	struct frame_decoder d;
	struct frame_msg m;
	size_t fed = 0, pos = 0;
	int rc = 0;

	if (buf == NULL || frame_decoder_init(&d, mode, max, buf, cap) != 0)
		abort();
	while (fed < len && rc >= 0) {
		size_t piece = 1 + ((piece_seed * 31u + fed) & PIECE_MASK);
		if (piece > len - fed)
			piece = len - fed;
		size_t took = frame_decoder_feed(&d, s + fed, piece);
		/* Room must exist once messages are taken out. */
		if (took == 0)
			abort();
		fed += took;
		while ((rc = frame_decoder_next(&d, &m)) == 1)
			check_message(mode, max, s, len, &pos, &m, &d);
	}
	size_t at, n;
	int expected = model_next(mode, max, s, fed, &pos, &at, &n);
	if (rc < 0 ? expected != -1 : expected != 0)
		abort();
	if (rc >= 0 && frame_decoder_pending(&d) != fed - pos)
		abort();
	if (rc < 0 && frame_decoder_error(&d)[0] == '\0')
		abort();
	free(buf);
	return 0;
}
