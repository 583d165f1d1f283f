/*
 * ocishim_client.h - the C client of the ocishim per-container shim.
 *
 * A C engine talks to one `ocishim serve` process per container. The wire is
 * ttrpc v1.2: every frame is a 10-byte header (uint32 BE payload length,
 * uint32 BE stream id, uint8 type, uint8 flags) followed by at most 4 MiB of
 * payload. A call is a Request frame (an encoded ttrpc.Request naming the
 * service "ocishim.v1.Shim" and the method) answered by a Response frame on the
 * same stream id; server streams (Events) answer with Data frames instead.
 *
 * Messages are protobuf-c messages generated from proto/ (this header pulls in
 * ocishim/v1/shim.pb-c.h), passed to the client as `ProtobufCMessage *` with
 * the descriptor of the expected answer, for example
 * `&ocishim__v1__hello_response__descriptor`.
 *
 * Conventions:
 * - Functions returning int return 0 on success and -1 on an I/O, framing or
 *   decoding failure; ocishim_client_error() then says what went wrong.
 *   ocishim_client_read_frame() also returns OCISHIM_EOF.
 * - A failure that leaves the byte stream out of step (a frame over 4 MiB, EOF
 *   or a timeout in the middle of a frame, a short write) makes the client
 *   unusable: every later operation fails with the first error. Close it.
 * - A client is not thread-safe: use it from one thread at a time.
 * - The library keeps no global state and installs no signal handlers. Writes
 *   to a shim that went away fail with EPIPE instead of raising SIGPIPE.
 */
#ifndef OCISHIM_CLIENT_H
#define OCISHIM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Relative on purpose: engines (and the Swift package's dependents) then need
 * no include path for the generated code besides this directory. */
#include "../generated/ocishim/v1/shim.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- protocol constants ------------------------------------------------- */

#define OCISHIM_SERVICE "ocishim.v1.Shim"
#define OCISHIM_FRAME_HEADER_SIZE 10
/* Largest payload either side sends or accepts (ttrpc's limit). */
#define OCISHIM_MAX_PAYLOAD (4u << 20)

/* Frame types. */
#define OCISHIM_FRAME_REQUEST 1
#define OCISHIM_FRAME_RESPONSE 2
#define OCISHIM_FRAME_DATA 3

/* Frame flags. */
#define OCISHIM_FLAG_REMOTE_CLOSED 0x01 /* the sender sends nothing more */
#define OCISHIM_FLAG_REMOTE_OPEN 0x02   /* request of a bidirectional stream */
#define OCISHIM_FLAG_NO_DATA 0x04       /* the payload carries no message */

/* google.rpc.Code values the shim uses most. */
#define OCISHIM_CODE_OK 0
#define OCISHIM_CODE_INVALID_ARGUMENT 3
#define OCISHIM_CODE_NOT_FOUND 5
#define OCISHIM_CODE_FAILED_PRECONDITION 9
#define OCISHIM_CODE_UNIMPLEMENTED 12
#define OCISHIM_CODE_INTERNAL 13
/* Not a google.rpc code: the status of an operation that returned -1. */
#define OCISHIM_CODE_CLIENT_ERROR (-1)

/* ocishim_client_read_frame(): the peer closed the connection cleanly. */
#define OCISHIM_EOF 1

/* --- types -------------------------------------------------------------- */

typedef struct ocishim_client ocishim_client;

typedef struct ocishim_frame_header {
    uint32_t length;    /* payload bytes */
    uint32_t stream_id;
    uint8_t type;       /* OCISHIM_FRAME_* */
    uint8_t flags;      /* OCISHIM_FLAG_* */
} ocishim_frame_header;

/*
 * The status of an answered call. `message` is never NULL once a function has
 * filled the status: it is "" or a string the caller owns. Functions fill a
 * status without reading it, so call ocishim_status_clear() before reusing one
 * or the previous message leaks.
 */
typedef struct ocishim_status {
    int32_t code;  /* google.rpc.Code; OCISHIM_CODE_OK = 0 */
    char *message; /* for a person; "" when the shim sent none */
} ocishim_status;

#define OCISHIM_STATUS_INIT {0, NULL}

/* --- connecting ----------------------------------------------------------- */

/*
 * Starts `<shim_path> serve <argv_extra...>` (argv_extra is NULL-terminated,
 * may be NULL) with its stdin and stdout connected to pipes owned by the
 * returned client; stderr is inherited. shim_path is executed as given, not
 * searched in PATH.
 *
 * The shim daemonizes: the process started here forks the real shim and exits.
 * This function waits (up to 10 s) for that exit and reaps it, so no zombie is
 * left; a non-zero exit, a failed exec or a launcher that does not exit is an
 * error. The real shim's pid comes from HelloResponse.shim_pid.
 *
 * If the engine ignores SIGCHLD or reaps children elsewhere, the launcher may
 * already be reaped; that is accepted as success.
 *
 * Returns NULL on failure with *err (if err is not NULL) set to a message the
 * caller frees with free().
 */
ocishim_client *ocishim_client_spawn(const char *shim_path, char *const argv_extra[], char **err);

/*
 * Wraps an existing connection: frames are read from read_fd and written to
 * write_fd (the same fd for a socket). The client owns the fds from then on and
 * closes them in ocishim_client_close(). Returns NULL (errno set, fds left
 * open) on a negative fd or when out of memory.
 */
ocishim_client *ocishim_client_connect_fds(int read_fd, int write_fd);

/*
 * Connects to the shim's unix socket (<state-dir>/shim.sock), which speaks the
 * same framing; used by an engine that restarted while its shims kept running.
 * Returns NULL on failure with *err (if not NULL) to free() by the caller.
 */
ocishim_client *ocishim_client_connect_unix(const char *socket_path, char **err);

/* Closes the fds and frees the client with everything it still queues.
 * NULL is ignored. Closing the shim's stdin does not stop the shim: it takes
 * it as "engine gone" and keeps the container; use the Shutdown RPC. */
void ocishim_client_close(ocishim_client *c);

/* Closes only the sending direction (the shim sees EOF on its stdin). */
int ocishim_client_close_write(ocishim_client *c);

/* The last error as text; "" when there was none. Valid until the next call
 * on the client. */
const char *ocishim_client_error(const ocishim_client *c);

/*
 * Bounds how long one operation waits for the shim's frames, in milliseconds;
 * 0 (the default) waits forever, which blocking RPCs such as Wait need. A
 * timeout before a frame has started leaves the client usable; one in the
 * middle of a frame makes it unusable. Writes are not bounded.
 */
void ocishim_client_set_timeout(ocishim_client *c, int timeout_ms);

/* --- unary calls -------------------------------------------------------- */

/*
 * Calls `method` of ocishim.v1.Shim with `request` (NULL: an empty payload) on
 * the next odd stream id and waits for its Response. Frames of other streams
 * that arrive meanwhile are queued for streams the client has open
 * (ocishim_client_open_stream) and dropped otherwise.
 *
 * Returns 0 when a Response arrived, whatever its status: `*status` (if not
 * NULL) holds it, and when the code is OK and response_desc is not NULL,
 * `*response` is the decoded answer, to free with ocishim_message_free().
 * On a non-OK status *response is NULL. Returns -1 on an I/O, framing or
 * decoding error; *status is then {OCISHIM_CODE_CLIENT_ERROR, ""}.
 */
int ocishim_client_call(ocishim_client *c, const char *method, const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_desc,
                        ProtobufCMessage **response, ocishim_status *status);

/* --- streams ------------------------------------------------------------ */

/*
 * Sends the Request frame of a streaming method and returns its stream id, or
 * 0 on error. flags: OCISHIM_FLAG_REMOTE_CLOSED for a server stream (Events),
 * OCISHIM_FLAG_REMOTE_OPEN for a bidirectional one (Attach). The stream stays
 * open in the client, and its frames are queued while other calls run, until
 * its last frame has been read or ocishim_client_forget_stream() is called.
 */
uint32_t ocishim_client_open_stream(ocishim_client *c, const char *method,
                                    const ProtobufCMessage *request, uint8_t flags);

/*
 * Reads the next frame of an open stream: a queued one first, else from the
 * connection (queuing frames of the other open streams).
 * - a Data frame: *msg is the decoded message (NULL when the frame carries no
 *   data, or when response_desc is NULL), *status is OK;
 * - the last Data frame (flag REMOTE_CLOSED) or a Response frame: *done is set
 *   to 1, and a Response's status (for example an error) is in *status.
 * Returns 0, or -1 on an error (then *done is 1 when the stream is over). msg,
 * status and done may each be NULL.
 */
int ocishim_client_read_stream(ocishim_client *c, uint32_t stream_id,
                               const ProtobufCMessageDescriptor *response_desc,
                               ProtobufCMessage **msg, ocishim_status *status, int *done);

/* Sends one message (NULL: empty) on a client stream as a Data frame; flags
 * OCISHIM_FLAG_REMOTE_CLOSED ends the client's side of the stream. */
int ocishim_client_send_stream(ocishim_client *c, uint32_t stream_id, const ProtobufCMessage *msg,
                               uint8_t flags);

/* Stops tracking a stream: its queued frames are freed, later ones dropped. */
void ocishim_client_forget_stream(ocishim_client *c, uint32_t stream_id);

/* --- raw frames (tests, tools) ------------------------------------------ */

/*
 * Writes one frame as given (any stream id, type and flags; len at most
 * OCISHIM_MAX_PAYLOAD). A Request frame opens its stream in the client's
 * bookkeeping (so its answer is queued, not dropped, while a call runs), and an
 * odd id at or above the next one moves the client's next stream id past it.
 */
int ocishim_client_write_frame(ocishim_client *c, uint32_t stream_id, uint8_t type, uint8_t flags,
                               const void *data, size_t len);

/*
 * Reads the next frame, queued frames first. Returns 0 with *header filled and
 * *payload a malloc'd buffer of *len bytes (free() it; never NULL on success,
 * even when *len is 0), OCISHIM_EOF when the connection ended at a frame
 * boundary, or -1 on error.
 */
int ocishim_client_read_frame(ocishim_client *c, ocishim_frame_header *header, uint8_t **payload,
                              size_t *len);

/* --- codec (for raw frames) --------------------------------------------- */

/* Encodes the ttrpc.Request payload calling `method` with `request` (NULL:
 * empty). Returns a malloc'd buffer of *len bytes, or NULL when out of memory
 * or method is NULL. */
uint8_t *ocishim_request_encode(const char *method, const ProtobufCMessage *request, size_t *len);

/*
 * Decodes the payload of a Response frame into *status and, when the status is
 * OK and desc is not NULL, into *msg (free with ocishim_message_free()).
 * Returns 0, -1 when the Response itself does not decode, -2 when its payload
 * does not decode as desc. status and msg may be NULL.
 */
int ocishim_response_decode(const uint8_t *payload, size_t len, const ProtobufCMessageDescriptor *desc,
                            ProtobufCMessage **msg, ocishim_status *status);

/* --- freeing ------------------------------------------------------------ */

/* Frees a message this library decoded. NULL is ignored. */
void ocishim_message_free(ProtobufCMessage *msg);

/* Frees the status message and resets the status to OCISHIM_STATUS_INIT. */
void ocishim_status_clear(ocishim_status *status);

#ifdef __cplusplus
}
#endif

#endif /* OCISHIM_CLIENT_H */
