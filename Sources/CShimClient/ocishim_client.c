/*
 * ocishim_client.c - calls and streams over one connection to a shim.
 *
 * The connection is a single ordered byte stream shared by all stream ids, so
 * whoever reads it may meet frames meant for someone else: a call waiting for
 * its Response may read Events data first. Frames of streams the client has
 * open are queued for their reader; frames of streams nobody opened (or has
 * given up) are dropped, so an engine that ignores them cannot run out of
 * memory.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocishim_internal.h"

/* --- lifecycle ------------------------------------------------------------ */

ocishim_client *ocishim_client_connect_fds(int read_fd, int write_fd)
{
    if (read_fd < 0 || write_fd < 0) {
        errno = EBADF;
        return NULL;
    }
    ocishim_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->rfd = read_fd;
    c->wfd = write_fd;
    c->next_id = 1;
    struct stat st;
    c->wfd_is_socket = fstat(write_fd, &st) == 0 && S_ISSOCK(st.st_mode);
    return c;
}

static void queue_free_all(ocishim_client *c)
{
    occ_frame *f = c->q_head;
    while (f != NULL) {
        occ_frame *next = f->next;
        free(f->payload);
        free(f);
        f = next;
    }
    c->q_head = c->q_tail = NULL;
    c->q_bytes = c->q_frames = 0;
}

void ocishim_client_close(ocishim_client *c)
{
    if (c == NULL)
        return;
    /* close() is not retried on EINTR: on Linux the fd is gone either way. */
    if (c->wfd >= 0 && c->wfd != c->rfd)
        close(c->wfd);
    if (c->rfd >= 0)
        close(c->rfd);
    queue_free_all(c);
    free(c->streams);
    free(c);
}

int ocishim_client_close_write(ocishim_client *c)
{
    if (c->wfd < 0)
        return 0;
    if (c->wfd == c->rfd) {
        /* One fd for both directions: only a socket can be half-closed. */
        if (shutdown(c->wfd, SHUT_WR) < 0) {
            occ_set_error(c, "shutdown(SHUT_WR): %s", strerror(errno));
            return -1;
        }
    } else {
        close(c->wfd);
    }
    c->wfd = -1;
    return 0;
}

const char *ocishim_client_error(const ocishim_client *c)
{
    return c->err;
}

void ocishim_client_set_timeout(ocishim_client *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

/* --- open streams --------------------------------------------------------- */

static occ_stream *stream_find(ocishim_client *c, uint32_t id)
{
    for (size_t i = 0; i < c->n_streams; i++)
        if (c->streams[i].id == id)
            return &c->streams[i];
    return NULL;
}

static int stream_add(ocishim_client *c, uint32_t id)
{
    if (stream_find(c, id) != NULL)
        return 0;
    if (c->n_streams == c->cap_streams) {
        size_t cap = c->cap_streams ? c->cap_streams * 2 : 4;
        occ_stream *s = realloc(c->streams, cap * sizeof *s);
        if (s == NULL) {
            occ_set_error(c, "out of memory tracking stream %u", id);
            return -1;
        }
        c->streams = s;
        c->cap_streams = cap;
    }
    c->streams[c->n_streams++] = (occ_stream){.id = id, .ended = false};
    return 0;
}

static void stream_remove(ocishim_client *c, uint32_t id)
{
    occ_stream *s = stream_find(c, id);
    if (s != NULL)
        *s = c->streams[--c->n_streams];
}

/* A stream's last frame: a Response, or data the server closed its side with. */
static bool frame_is_last(const ocishim_frame_header *h)
{
    return h->type == OCISHIM_FRAME_RESPONSE ||
           (h->type == OCISHIM_FRAME_DATA && (h->flags & OCISHIM_FLAG_REMOTE_CLOSED));
}

/* The frame has reached its reader: a finished stream is forgotten. */
static void frame_delivered(ocishim_client *c, const occ_frame *f)
{
    if (frame_is_last(&f->h))
        stream_remove(c, f->h.stream_id);
}

/* --- the queue ------------------------------------------------------------ */

static void frame_free(occ_frame *f)
{
    free(f->payload);
    f->payload = NULL;
}

/* Keeps a frame read off the wire for another reader, or drops it. -1 only
 * when the queue is over its bounds (the client is then broken). */
static int queue_or_drop(ocishim_client *c, occ_frame *f)
{
    occ_stream *s = stream_find(c, f->h.stream_id);
    if (s == NULL || s->ended) {
        frame_free(f);
        return 0;
    }
    if (c->q_bytes + f->h.length > OCC_QUEUE_MAX_BYTES || c->q_frames + 1 > OCC_QUEUE_MAX_FRAMES) {
        occ_set_broken(c, "%zu frames (%zu bytes) queued for open streams nobody reads; giving up",
                       c->q_frames, c->q_bytes);
        frame_free(f);
        return -1;
    }
    occ_frame *q = malloc(sizeof *q);
    if (q == NULL) {
        occ_set_broken(c, "out of memory queuing a frame of stream %u", f->h.stream_id);
        frame_free(f);
        return -1;
    }
    *q = *f;
    q->next = NULL;
    if (c->q_tail != NULL)
        c->q_tail->next = q;
    else
        c->q_head = q;
    c->q_tail = q;
    c->q_bytes += q->h.length;
    c->q_frames++;
    if (frame_is_last(&q->h))
        s->ended = true;
    return 0;
}

/* Takes the oldest queued frame: of `stream_id`, or of any stream if `any`. */
static bool queue_take(ocishim_client *c, bool any, uint32_t stream_id, occ_frame *out)
{
    occ_frame **link = &c->q_head;
    occ_frame *prev = NULL;
    while (*link != NULL && !any && (*link)->h.stream_id != stream_id) {
        prev = *link;
        link = &(*link)->next;
    }
    occ_frame *f = *link;
    if (f == NULL)
        return false;
    *link = f->next;
    if (c->q_tail == f)
        c->q_tail = prev;
    c->q_bytes -= f->h.length;
    c->q_frames--;
    *out = *f;
    out->next = NULL;
    free(f);
    return true;
}

/* Reads wire frames until one of `stream_id` arrives, queuing or dropping the
 * others. 0: *f is it; OCISHIM_EOF; -1: error. */
static int wire_read_for(ocishim_client *c, uint32_t stream_id, int64_t deadline, occ_frame *f)
{
    for (;;) {
        int r = occ_wire_read(c, deadline, f);
        if (r != 0)
            return r;
        if (f->h.stream_id == stream_id)
            return 0;
        if (queue_or_drop(c, f) < 0)
            return -1;
    }
}

/* --- requests ------------------------------------------------------------- */

/* Sends the Request frame of a new stream. 0 with *id set, or -1. */
static int send_request(ocishim_client *c, const char *method, const ProtobufCMessage *request,
                        uint8_t flags, uint32_t *id)
{
    if (occ_usable(c) < 0)
        return -1;
    if (method == NULL) {
        occ_set_error(c, "no method given");
        return -1;
    }
    if (c->next_id > UINT32_MAX) {
        occ_set_error(c, "all odd stream ids are used; reconnect");
        return -1;
    }
    size_t len;
    uint8_t *payload = ocishim_request_encode(method, request, &len);
    if (payload == NULL) {
        occ_set_error(c, "out of memory encoding a %s request", method);
        return -1;
    }
    *id = (uint32_t)c->next_id;
    int r = occ_wire_write(c, *id, OCISHIM_FRAME_REQUEST, flags, payload, len);
    free(payload);
    if (r < 0)
        return -1;
    /* Spent even if the shim never answers: ids must strictly increase. */
    c->next_id += 2;
    return 0;
}

/* Fills the status of an operation that failed on the client's side. */
static int client_failure(ocishim_status *status)
{
    if (status != NULL)
        occ_status_set(status, OCISHIM_CODE_CLIENT_ERROR, NULL);
    return -1;
}

/* Decodes a Response frame's payload into status and message. */
static int take_response(ocishim_client *c, const occ_frame *f, const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **msg, ocishim_status *status)
{
    ocishim_status st;
    ProtobufCMessage *m = NULL;
    int r = ocishim_response_decode(f->payload, f->h.length, desc, &m, &st);
    if (r == -1) {
        occ_set_error(c, "the Response on stream %u (%u bytes) does not decode", f->h.stream_id,
                      f->h.length);
        ocishim_status_clear(&st);
        return client_failure(status);
    }
    if (r == -2) {
        occ_set_error(c, "the payload of the Response on stream %u does not decode as %s",
                      f->h.stream_id, desc->name);
        ocishim_status_clear(&st);
        return client_failure(status);
    }
    if (status != NULL)
        *status = st;
    else
        ocishim_status_clear(&st);
    if (msg != NULL)
        *msg = m;
    else
        ocishim_message_free(m);
    return 0;
}

int ocishim_client_call(ocishim_client *c, const char *method, const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_desc,
                        ProtobufCMessage **response, ocishim_status *status)
{
    if (response != NULL)
        *response = NULL;
    int64_t deadline = occ_deadline(c);
    uint32_t id;
    if (send_request(c, method, request, 0, &id) < 0)
        return client_failure(status);

    occ_frame f;
    int r = wire_read_for(c, id, deadline, &f);
    if (r == OCISHIM_EOF)
        occ_set_error(c, "the shim closed the connection before answering %s", method);
    if (r != 0)
        return client_failure(status);
    if (f.h.type != OCISHIM_FRAME_RESPONSE) {
        occ_set_error(c, "%s: expected a Response frame on stream %u, got type %u", method, id,
                      f.h.type);
        frame_free(&f);
        return client_failure(status);
    }
    r = take_response(c, &f, response_desc, response, status);
    frame_free(&f);
    return r;
}

/* --- streams -------------------------------------------------------------- */

uint32_t ocishim_client_open_stream(ocishim_client *c, const char *method,
                                    const ProtobufCMessage *request, uint8_t flags)
{
    uint32_t id;
    if (send_request(c, method, request, flags, &id) < 0)
        return 0;
    if (stream_add(c, id) < 0) {
        /* The request is out; without bookkeeping its frames would be lost. */
        occ_set_broken(c, "out of memory tracking stream %u", id);
        return 0;
    }
    return id;
}

void ocishim_client_forget_stream(ocishim_client *c, uint32_t stream_id)
{
    occ_frame f;
    while (queue_take(c, false, stream_id, &f))
        frame_free(&f);
    stream_remove(c, stream_id);
}

int ocishim_client_send_stream(ocishim_client *c, uint32_t stream_id, const ProtobufCMessage *msg,
                               uint8_t flags)
{
    size_t len;
    uint8_t *buf = occ_pack(msg, &len);
    if (buf == NULL) {
        occ_set_error(c, "out of memory encoding a message for stream %u", stream_id);
        return -1;
    }
    int r = occ_wire_write(c, stream_id, OCISHIM_FRAME_DATA, flags, buf, len);
    free(buf);
    return r;
}

/* The next frame of a stream that carries something for the caller: queued
 * frames first, and data frames that carry nothing and end nothing skipped.
 * 0: *f is it; OCISHIM_EOF or -1 (error set). */
static int next_stream_frame(ocishim_client *c, uint32_t id, int64_t deadline, occ_frame *f)
{
    for (;;) {
        if (!queue_take(c, false, id, f)) {
            int r = wire_read_for(c, id, deadline, f);
            if (r == OCISHIM_EOF)
                occ_set_error(c, "the shim closed the connection inside stream %u", id);
            if (r != 0)
                return r;
        }
        bool empty = f->h.type == OCISHIM_FRAME_DATA && (f->h.flags & OCISHIM_FLAG_NO_DATA);
        if (!empty || frame_is_last(&f->h))
            return 0;
        frame_free(f);
    }
}

/* Handles one Data frame of a stream. */
static int take_data(ocishim_client *c, const occ_frame *f, const ProtobufCMessageDescriptor *desc,
                     ProtobufCMessage **msg, ocishim_status *status)
{
    if (status != NULL)
        occ_status_set(status, OCISHIM_CODE_OK, NULL);
    if (desc == NULL || msg == NULL || (f->h.flags & OCISHIM_FLAG_NO_DATA))
        return 0;
    if (occ_unpack(c, desc, f->payload, f->h.length, msg) < 0)
        return client_failure(status);
    return 0;
}

int ocishim_client_read_stream(ocishim_client *c, uint32_t stream_id,
                               const ProtobufCMessageDescriptor *response_desc,
                               ProtobufCMessage **msg, ocishim_status *status, int *done)
{
    if (msg != NULL)
        *msg = NULL;
    if (done != NULL)
        *done = 0;
    if (occ_usable(c) < 0)
        return client_failure(status);
    if (stream_find(c, stream_id) == NULL) {
        occ_set_error(c, "stream %u is not open", stream_id);
        if (done != NULL)
            *done = 1;
        return client_failure(status);
    }

    occ_frame f;
    int got = next_stream_frame(c, stream_id, occ_deadline(c), &f);
    if (got == OCISHIM_EOF) {
        /* Nothing more can come on any stream. */
        stream_remove(c, stream_id);
        if (done != NULL)
            *done = 1;
    }
    if (got != 0)
        return client_failure(status);
    frame_delivered(c, &f);
    bool last = frame_is_last(&f.h);
    int r;
    if (f.h.type == OCISHIM_FRAME_DATA) {
        r = take_data(c, &f, response_desc, msg, status);
    } else if (f.h.type == OCISHIM_FRAME_RESPONSE) {
        r = take_response(c, &f, response_desc, msg, status);
    } else {
        /* A server never sends requests: the stream cannot make sense now. */
        occ_set_error(c, "unexpected frame type %u on stream %u", f.h.type, stream_id);
        stream_remove(c, stream_id);
        last = true;
        r = client_failure(status);
    }
    frame_free(&f);
    if (done != NULL && last)
        *done = 1;
    return r;
}

/* --- raw frames ----------------------------------------------------------- */

int ocishim_client_write_frame(ocishim_client *c, uint32_t stream_id, uint8_t type, uint8_t flags,
                               const void *data, size_t len)
{
    if (len > 0 && data == NULL) {
        occ_set_error(c, "no data for a %zu-byte frame", len);
        return -1;
    }
    if (occ_wire_write(c, stream_id, type, flags, data, len) < 0)
        return -1;
    if (type == OCISHIM_FRAME_REQUEST) {
        if ((stream_id & 1) && stream_id >= c->next_id)
            c->next_id = (uint64_t)stream_id + 2;
        if (stream_add(c, stream_id) < 0)
            return -1;
    }
    return 0;
}

int ocishim_client_read_frame(ocishim_client *c, ocishim_frame_header *header, uint8_t **payload,
                              size_t *len)
{
    *payload = NULL;
    *len = 0;
    occ_frame f;
    if (!queue_take(c, true, 0, &f)) {
        int r = occ_wire_read(c, occ_deadline(c), &f);
        if (r != 0)
            return r;
    }
    frame_delivered(c, &f);
    *header = f.h;
    *payload = f.payload;
    *len = f.h.length;
    return 0;
}
