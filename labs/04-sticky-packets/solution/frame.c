/*
 * frame.c - message framing over a TCP byte stream (lab 04, reference).
 * Contracts are in frame.h.
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
	if (max_payload > FRAME_MAX_LIMIT ||
	    cap < FRAME_BUFFER_SIZE(max_payload) || buf == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->max_payload = max_payload;
	d->buf = buf;
	d->cap = cap;
	return 0;
}

/* The 4-byte big-endian length at p. */
static uint32_t read_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * Bytes the message at d->start needs in all (header included), or 0
 * while that is not known yet (an incomplete header, or line mode).
 */
static size_t known_frame_size(const struct frame_decoder *d)
{
	if (d->mode != FRAME_MODE_LEN ||
	    d->end - d->start < FRAME_LEN_HEADER_SIZE)
		return 0;
	size_t len = read_be32(d->buf + d->start);
	if (len > d->max_payload)
		return 0; /* frame_decoder_next reports it */
	return FRAME_LEN_HEADER_SIZE + len;
}

unsigned char *frame_decoder_space(struct frame_decoder *d, size_t *room)
{
	if (d->start == d->end) {
		/* Nothing held: start again at the front, no copy needed. */
		d->start = d->end = d->scanned = 0;
	} else if (d->start > 0) {
		/*
		 * Move the partial message to the front only when the rest
		 * of it cannot fit behind it; once moved it starts at 0, so
		 * no byte is ever moved twice.
		 */
		size_t held = d->end - d->start;
		size_t need = known_frame_size(d);
		int stuck =
			need > 0 ? d->start + need > d->cap : d->end == d->cap;
		if (stuck) {
			memmove(d->buf, d->buf + d->start, held);
			d->start = 0;
			d->end = held;
		}
	}
	*room = d->broken ? 0 : d->cap - d->end;
	return d->buf + d->end;
}

void frame_decoder_commit(struct frame_decoder *d, size_t n)
{
	d->end += n;
}

size_t frame_decoder_feed(struct frame_decoder *d, const void *data, size_t len)
{
	size_t room;
	unsigned char *space = frame_decoder_space(d, &room);
	size_t n = len < room ? len : room;

	if (n > 0)
		memcpy(space, data, n);
	frame_decoder_commit(d, n);
	return n;
}

/* Marks the stream broken (d->error says why); returns -1, errno EPROTO. */
static int set_broken(struct frame_decoder *d)
{
	d->broken = 1;
	errno = EPROTO;
	return -1;
}

static int line_too_long(struct frame_decoder *d)
{
	snprintf(d->error, sizeof(d->error), "line longer than %zu bytes",
		 d->max_payload);
	return set_broken(d);
}

static int next_len(struct frame_decoder *d, struct frame_msg *msg)
{
	size_t held = d->end - d->start;

	if (held < FRAME_LEN_HEADER_SIZE)
		return 0;
	size_t len = read_be32(d->buf + d->start);
	if (len > d->max_payload) {
		snprintf(d->error, sizeof(d->error),
			 "length %zu is over the limit of %zu bytes", len,
			 d->max_payload);
		return set_broken(d);
	}
	if (held - FRAME_LEN_HEADER_SIZE < len)
		return 0;
	msg->data = d->buf + d->start + FRAME_LEN_HEADER_SIZE;
	msg->len = len;
	d->start += FRAME_LEN_HEADER_SIZE + len;
	return 1;
}

static int next_line(struct frame_decoder *d, struct frame_msg *msg)
{
	const unsigned char *from = d->buf + d->start;
	size_t held = d->end - d->start;
	/* Search only the bytes not searched before: lines arriving in
	 * many pieces must not cost a rescan per piece. */
	const unsigned char *nl =
		memchr(from + d->scanned, FRAME_DELIMITER, held - d->scanned);

	if (nl == NULL) {
		d->scanned = held;
		if (held > d->max_payload)
			return line_too_long(d);
		return 0;
	}
	size_t len = (size_t)(nl - from);
	if (len > d->max_payload)
		return line_too_long(d);
	msg->data = from;
	msg->len = len;
	d->start += len + 1;
	d->scanned = 0;
	return 1;
}

int frame_decoder_next(struct frame_decoder *d, struct frame_msg *msg)
{
	if (d->broken) {
		errno = EPROTO;
		return -1;
	}
	return d->mode == FRAME_MODE_LEN ? next_len(d, msg) : next_line(d, msg);
}

size_t frame_decoder_pending(const struct frame_decoder *d)
{
	return d->end - d->start;
}

const char *frame_decoder_error(const struct frame_decoder *d)
{
	return d->error;
}

int frame_wrap(enum frame_mode mode, size_t len, struct frame_wrap *w)
{
	memset(w, 0, sizeof(*w));
	if (mode == FRAME_MODE_LINE) {
		w->tail[0] = FRAME_DELIMITER;
		w->tail_len = 1;
		return 0;
	}
	if (len > FRAME_MAX_LIMIT) {
		errno = EMSGSIZE;
		return -1;
	}
	w->head[0] = (unsigned char)(len >> 24);
	w->head[1] = (unsigned char)(len >> 16);
	w->head[2] = (unsigned char)(len >> 8);
	w->head[3] = (unsigned char)len;
	w->head_len = FRAME_LEN_HEADER_SIZE;
	return 0;
}
