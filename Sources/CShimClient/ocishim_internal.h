/*
 * ocishim_internal.h - what the client's source files share; not installed.
 *
 * ocishim_frame.c   bytes on the fds: headers, EINTR, short I/O, SIGPIPE, timeouts
 * ocishim_codec.c   ttrpc.Request / ttrpc.Response envelopes, statuses
 * ocishim_client.c  calls, streams and the queue of frames nobody asked for yet
 * ocishim_spawn.c   starting the shim, connecting to its socket
 */
#ifndef OCISHIM_INTERNAL_H
#define OCISHIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocishim_client.h"

/* Bounds on frames received for open streams while nobody reads them; beyond
 * them the engine is not keeping up and the connection is given up rather than
 * growing without limit. */
#define OCC_QUEUE_MAX_BYTES (64u << 20)
#define OCC_QUEUE_MAX_FRAMES 65536u

#define OCC_ERR_SIZE 512

/* One received frame. */
typedef struct occ_frame {
    ocishim_frame_header h;
    uint8_t *payload; /* malloc'd, never NULL for a frame that was read */
    struct occ_frame *next;
} occ_frame;

/* A stream the client started and has not seen the end of. */
typedef struct occ_stream {
    uint32_t id;
    bool ended; /* its last frame is queued: drop anything after it */
} occ_stream;

struct ocishim_client {
    int rfd;
    int wfd;              /* == rfd for a socket; -1 after close_write */
    bool wfd_is_socket;   /* send(MSG_NOSIGNAL) instead of blocking SIGPIPE */
    bool broken;          /* stream out of step: every operation fails */
    int timeout_ms;       /* 0: wait forever */
    uint64_t next_id;     /* next odd stream id; 64 bits to see exhaustion */

    occ_frame *q_head, *q_tail;
    size_t q_bytes, q_frames;

    occ_stream *streams;
    size_t n_streams, cap_streams;

    char err[OCC_ERR_SIZE];
};

/* --- errors (ocishim_frame.c) --- */
void occ_set_error(ocishim_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the error and marks the client unusable. */
void occ_set_broken(ocishim_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when the client may be used; -1 (error kept) when it is broken. */
int occ_usable(ocishim_client *c);

/* --- frames on the wire (ocishim_frame.c) --- */
/* A CLOCK_MONOTONIC deadline in ms for the client's timeout; -1: none. */
int64_t occ_deadline(const ocishim_client *c);
/* 0: *f filled; OCISHIM_EOF: clean end; -1: error. */
int occ_wire_read(ocishim_client *c, int64_t deadline, occ_frame *f);
int occ_wire_write(ocishim_client *c, uint32_t stream_id, uint8_t type, uint8_t flags,
                   const void *data, size_t len);

/* --- envelopes (ocishim_codec.c) --- */
/* Fills *status from a google.rpc code and message (NULL: ""). */
void occ_status_set(ocishim_status *status, int32_t code, const char *message);
/* Encodes msg (NULL: empty) into a malloc'd buffer; NULL when out of memory. */
uint8_t *occ_pack(const ProtobufCMessage *msg, size_t *len);
/* Decodes a message, with a client error when it does not decode. */
int occ_unpack(ocishim_client *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
               size_t len, ProtobufCMessage **msg);

#endif /* OCISHIM_INTERNAL_H */
