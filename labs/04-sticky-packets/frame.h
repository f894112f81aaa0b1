/*
 * frame.h - message framing over a TCP byte stream (lab 04, provided).
 *
 * TCP delivers bytes, not messages: one recv() may return several
 * messages ("sticky packets") or a piece of one ("half packet"). A
 * framing puts the boundaries back. This lab has two:
 *
 *   FRAME_MODE_LEN   a 4-byte big-endian unsigned length, then exactly
 *                    that many payload bytes (any bytes, NUL included);
 *   FRAME_MODE_LINE  the payload, then '\n' (the payload holds no '\n';
 *                    a '\r' before the '\n' is kept as part of it).
 *
 * The decoder is fed arbitrary chunks of the stream and hands back whole
 * messages. It never allocates: it works in a buffer the caller gives it,
 * of FRAME_BUFFER_SIZE(max_payload) bytes, so its memory is bounded by
 * the limit, whatever the peer sends. Bytes are received straight into
 * that buffer (frame_decoder_space + frame_decoder_commit) and messages
 * are handed back as views into it, so a byte is copied at most once
 * more, when a partial message is moved to the front of the buffer.
 *
 * Convention of the course: functions return >= 0 on success, -1 with
 * errno set on failure; they never print and never exit.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Size of the length header of FRAME_MODE_LEN. */
#define FRAME_LEN_HEADER_SIZE 4

/* The byte that ends a message in FRAME_MODE_LINE. */
#define FRAME_DELIMITER '\n'

/* Default payload limits: 1 MiB for length-prefixed, 64 KiB for lines. */
#define FRAME_LEN_DEFAULT_MAX ((size_t)1 << 20)
#define FRAME_LINE_DEFAULT_MAX ((size_t)64 << 10)

/* Largest limit a decoder accepts: what 4 bytes of length can say. */
#define FRAME_MAX_LIMIT ((size_t)UINT32_MAX)

/*
 * Bytes of buffer a decoder needs for payloads of up to max bytes, in
 * either mode: a header and a payload, or a payload and its '\n'.
 */
#define FRAME_BUFFER_SIZE(max) ((size_t)(max) + FRAME_LEN_HEADER_SIZE)

/* Longest reason text a decoder keeps for a protocol error, with NUL. */
#define FRAME_ERROR_TEXT_MAX 96

enum frame_mode { FRAME_MODE_LEN, FRAME_MODE_LINE };

/* One decoded message: a view into the decoder's buffer. */
struct frame_msg {
	const unsigned char *data;
	size_t len;
};

/*
 * The decoder's state. Bytes buf[start..end) have been received and not
 * yet handed out; in line mode buf[start..start+scanned) are known to
 * hold no '\n'. Read the fields if you like; change them only through
 * the functions below.
 */
struct frame_decoder {
	enum frame_mode mode;
	size_t max_payload;
	unsigned char *buf;
	size_t cap;
	size_t start;
	size_t end;
	size_t scanned;
	int broken; /* 1 once a protocol error was found: no more messages */
	char error[FRAME_ERROR_TEXT_MAX];
};

/* What goes around a payload on the wire: a header, a trailer or both. */
struct frame_wrap {
	unsigned char head[FRAME_LEN_HEADER_SIZE];
	size_t head_len;
	unsigned char tail[1];
	size_t tail_len;
};

/*
 * Parses "len" or "line". Returns 0 and sets *mode, or -1 with errno
 * EINVAL for anything else.
 */
int frame_parse_mode(const char *text, enum frame_mode *mode);

/* The default payload limit of a mode (FRAME_*_DEFAULT_MAX). */
size_t frame_default_max(enum frame_mode mode);

/*
 * Prepares d to decode a stream in the given mode, with payloads of at
 * most max_payload bytes, working in buf (cap bytes, not freed by the
 * decoder). Returns 0, or -1 with errno EINVAL when max_payload is above
 * FRAME_MAX_LIMIT or cap is below FRAME_BUFFER_SIZE(max_payload).
 */
int frame_decoder_init(struct frame_decoder *d, enum frame_mode mode,
		       size_t max_payload, void *buf, size_t cap);

/*
 * Where the next bytes of the stream go: returns a pointer into the
 * buffer and sets *room to how many bytes fit there (at least 1, unless
 * the decoder is broken). Call it only after frame_decoder_next() has
 * returned 0 (no whole message left); it may move a partial message to
 * the front of the buffer, which ends the life of earlier views.
 */
unsigned char *frame_decoder_space(struct frame_decoder *d, size_t *room);

/* Records that n bytes (n <= room) were written at frame_decoder_space. */
void frame_decoder_commit(struct frame_decoder *d, size_t n);

/*
 * Copies up to len bytes of data into the decoder, as space allows.
 * Returns how many bytes were taken (0 when the buffer is full of whole
 * messages not yet taken out: call frame_decoder_next() first).
 */
size_t frame_decoder_feed(struct frame_decoder *d, const void *data,
			  size_t len);

/*
 * Takes the next whole message out. Returns 1 and sets *msg (valid until
 * the next call to any frame_decoder_ function), 0 when more bytes are
 * needed, or -1 with errno EPROTO when the stream breaks the framing
 * (frame_decoder_error() says why); once broken, it always returns -1.
 */
int frame_decoder_next(struct frame_decoder *d, struct frame_msg *msg);

/* Bytes of an incomplete message held (non-zero at end of stream: a
 * message was cut short). */
size_t frame_decoder_pending(const struct frame_decoder *d);

/* Why the stream is broken ("" while it is not), for an "ERR" reply. */
const char *frame_decoder_error(const struct frame_decoder *d);

/*
 * Fills *w with the bytes to send before and after a payload of len
 * bytes: the big-endian length (FRAME_MODE_LEN) or the '\n' (line mode).
 * Returns 0, or -1 with errno EMSGSIZE when len does not fit in 4 bytes.
 */
int frame_wrap(enum frame_mode mode, size_t len, struct frame_wrap *w);

#endif /* FRAME_H */
