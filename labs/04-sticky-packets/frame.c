/*
 * frame.c - message framing over a TCP byte stream (lab 04).
 *
 * Steps 1 and 2 of the handout: write the functions marked TODO. Their
 * contracts are in frame.h; tests/test_frame.c checks them (make grade
 * runs those tests first). None of them allocates, prints or exits.
 */
#include "frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int frame_parse_mode(const char *text, enum frame_mode *mode)
{
	if (text != NULL && strcmp(text, "len") == 0) {
		*mode = FRAME_MODE_LEN;
		return 0;
	}
	if (text != NULL && strcmp(text, "line") == 0) {
		*mode = FRAME_MODE_LINE;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

size_t frame_default_max(enum frame_mode mode)
{
	return mode == FRAME_MODE_LEN ? FRAME_LEN_DEFAULT_MAX
				      : FRAME_LINE_DEFAULT_MAX;
}

int frame_decoder_init(struct frame_decoder *d, enum frame_mode mode,
		       size_t max_payload, void *buf, size_t cap)
{
	/*
	 * TODO (step 1): refuse (EINVAL) a max_payload above
	 * FRAME_MAX_LIMIT, a NULL buf, or cap < FRAME_BUFFER_SIZE(max);
	 * otherwise zero *d (memset) and store mode, max_payload, buf, cap.
	 */
	(void)d;
	(void)mode;
	(void)max_payload;
	(void)buf;
	(void)cap;
	errno = ENOSYS;
	return -1;
}

unsigned char *frame_decoder_space(struct frame_decoder *d, size_t *room)
{
	/*
	 * TODO (step 1): return d->buf + d->end and set *room to
	 * d->cap - d->end (0 if d->broken). Before that, make room:
	 * - nothing held (start == end): start = end = scanned = 0;
	 * - a partial message that cannot fit behind start: memmove it to
	 *   the front (start = 0). In len mode, once the header is in, you
	 *   know the size of the whole frame: move only if start + frame
	 *   size > cap. Otherwise move only when end == cap. Moving less
	 *   often costs nothing and copies each byte at most once more.
	 * See docs/04-sticky-packets.md, "Keeping memory bounded".
	 */
	(void)d;
	*room = 0;
	return NULL;
}

void frame_decoder_commit(struct frame_decoder *d, size_t n)
{
	/* TODO (step 1): n more bytes are in the buffer, after d->end. */
	(void)d;
	(void)n;
}

size_t frame_decoder_feed(struct frame_decoder *d, const void *data, size_t len)
{
	/*
	 * TODO (step 1): frame_decoder_space, copy min(len, room) bytes
	 * there, frame_decoder_commit; return how many were taken.
	 */
	(void)d;
	(void)data;
	(void)len;
	return 0;
}

int frame_decoder_next(struct frame_decoder *d, struct frame_msg *msg)
{
	/*
	 * TODO (steps 1 and 2): if d->broken, return -1 (errno EPROTO).
	 * len mode (step 1): fewer than 4 bytes held -> 0. Read the length
	 *   big-endian: p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3], with
	 *   each byte cast to uint32_t first. Over d->max_payload -> a
	 *   protocol error at once (do not wait for the payload). Payload
	 *   not all here -> 0. Otherwise msg = the payload (a view into the
	 *   buffer, no copy), move start past the frame, return 1.
	 * line mode (step 2): memchr for '\n' in the bytes not searched yet
	 *   (d->scanned says how many were); none -> remember how far you
	 *   searched; more than max_payload bytes held -> protocol error;
	 *   else 0. Found -> msg = the bytes before it (over the limit ->
	 *   error), start past the '\n', scanned = 0, return 1.
	 * A protocol error: d->broken = 1, a reason in d->error (snprintf,
	 * e.g. "length 2000000 is over the limit of 1048576 bytes"), errno
	 * EPROTO, return -1.
	 * See docs/04-sticky-packets.md, "A decoder as a state machine".
	 */
	(void)d;
	(void)msg;
	errno = ENOSYS;
	return -1;
}

size_t frame_decoder_pending(const struct frame_decoder *d)
{
	/* TODO (step 1): the bytes held that are not yet a whole message. */
	(void)d;
	return 0;
}

const char *frame_decoder_error(const struct frame_decoder *d)
{
	/* TODO (step 1): the reason stored when the stream broke. */
	(void)d;
	return "frame_decoder_error (TODO in frame.c)";
}

int frame_wrap(enum frame_mode mode, size_t len, struct frame_wrap *w)
{
	/*
	 * TODO (step 1): zero *w. Line mode: tail = "\n" (tail_len 1).
	 * Len mode: len above FRAME_MAX_LIMIT -> EMSGSIZE; otherwise the 4
	 * bytes of len, most significant first (big-endian, network byte
	 * order), in head (head_len 4).
	 */
	(void)mode;
	(void)len;
	(void)w;
	errno = ENOSYS;
	return -1;
}
