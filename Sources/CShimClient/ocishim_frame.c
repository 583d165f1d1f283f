/*
 * ocishim_frame.c - ttrpc frames on the client's fds.
 *
 * Everything that touches the fds for frames is here, so that EINTR, short
 * reads and writes, non-blocking fds, timeouts and SIGPIPE are handled once.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ocishim_internal.h"

/* --- errors --------------------------------------------------------------- */

static void vset_error(ocishim_client *c, const char *fmt, va_list ap)
{
    vsnprintf(c->err, sizeof c->err, fmt, ap);
}

void occ_set_error(ocishim_client *c, const char *fmt, ...)
{
    /* Once broken, the first error is the one that explains everything. */
    if (c->broken)
        return;
    va_list ap;
    va_start(ap, fmt);
    vset_error(c, fmt, ap);
    va_end(ap);
}

void occ_set_broken(ocishim_client *c, const char *fmt, ...)
{
    if (c->broken)
        return;
    va_list ap;
    va_start(ap, fmt);
    vset_error(c, fmt, ap);
    va_end(ap);
    c->broken = true;
}

int occ_usable(ocishim_client *c)
{
    return c->broken ? -1 : 0;
}

/* --- time ----------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t occ_deadline(const ocishim_client *c)
{
    return c->timeout_ms > 0 ? now_ms() + c->timeout_ms : -1;
}

/* Waits until fd is ready for `events` or the deadline passes. 0: ready (or
 * hung up: the read/write that follows reports it); -1 with errno ETIMEDOUT or
 * the poll error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            wait = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, wait);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
        /* n == 0 with a long deadline, or EINTR: recompute what is left. */
    }
}

/* --- reading -------------------------------------------------------------- */

/* One read(2) of at most n bytes, honouring the deadline; retries EINTR and
 * waits out EAGAIN (the engine may have handed us a non-blocking fd). */
static ssize_t read_some(int fd, void *buf, size_t n, int64_t deadline)
{
    for (;;) {
        /* Only poll when a deadline needs it: a blocking read is one syscall. */
        if (deadline >= 0 && wait_fd(fd, POLLIN, deadline) < 0)
            return -1;
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) < 0)
                return -1;
            continue;
        }
        return -1;
    }
}

/* Reads exactly n bytes. 0: done; OCISHIM_EOF: the fd ended before the first
 * byte; -1: error or EOF after some bytes, with errno (0 for that EOF) and
 * *got telling how far it came. */
static int read_exact(int fd, uint8_t *buf, size_t n, int64_t deadline, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = read_some(fd, buf + *got, n - *got, deadline);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (*got == 0)
                return OCISHIM_EOF;
            errno = 0;
            return -1;
        }
        *got += (size_t)r;
    }
    return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void header_decode(const uint8_t *b, ocishim_frame_header *h)
{
    h->length = get_be32(b);
    h->stream_id = get_be32(b + 4);
    h->type = b[8];
    h->flags = b[9];
}

static void report_read_error(ocishim_client *c, const char *what, size_t got, size_t want)
{
    int e = errno;
    /* Nothing consumed: the next frame still starts at the next byte. */
    void (*report)(ocishim_client *, const char *, ...) = got > 0 ? occ_set_broken : occ_set_error;
    if (e == 0)
        report(c, "connection closed inside a frame %s (%zu of %zu bytes)", what, got, want);
    else if (e == ETIMEDOUT)
        report(c, "timed out after %d ms waiting for a frame %s (%zu of %zu bytes)", c->timeout_ms,
               what, got, want);
    else
        report(c, "reading a frame %s: %s", what, strerror(e));
}

int occ_wire_read(ocishim_client *c, int64_t deadline, occ_frame *f)
{
    if (occ_usable(c) < 0)
        return -1;
    uint8_t hb[OCISHIM_FRAME_HEADER_SIZE];
    size_t got;
    int r = read_exact(c->rfd, hb, sizeof hb, deadline, &got);
    if (r == OCISHIM_EOF)
        return OCISHIM_EOF;
    if (r < 0) {
        report_read_error(c, "header", got, sizeof hb);
        return -1;
    }
    header_decode(hb, &f->h);
    f->next = NULL;
    if (f->h.length > OCISHIM_MAX_PAYLOAD) {
        /* Reading on would mean trusting a length that is either hostile or
         * the sign of a stream already out of step. */
        occ_set_broken(c, "frame on stream %u announces %u bytes, over the %u-byte limit",
                       f->h.stream_id, f->h.length, OCISHIM_MAX_PAYLOAD);
        return -1;
    }
    /* Never NULL, so callers can hand out empty payloads uniformly. */
    f->payload = malloc(f->h.length ? f->h.length : 1);
    if (f->payload == NULL) {
        occ_set_broken(c, "out of memory for a %u-byte frame", f->h.length);
        return -1;
    }
    r = read_exact(c->rfd, f->payload, f->h.length, deadline, &got);
    if (r != 0) {
        if (r == OCISHIM_EOF)
            errno = 0;
        /* The header is consumed: any failure now leaves us out of step. */
        report_read_error(c, "payload", got, f->h.length);
        c->broken = true;
        free(f->payload);
        f->payload = NULL;
        return -1;
    }
    return 0;
}

/* --- writing -------------------------------------------------------------- */

/*
 * A write to a pipe whose reader is gone raises SIGPIPE, which would kill an
 * engine that has not ignored it. Sockets avoid it with MSG_NOSIGNAL; for pipes
 * the signal is blocked in this thread for the duration of the write and a
 * SIGPIPE the write itself caused is consumed before unblocking. (SIGPIPE is
 * sent to the writing thread, so a thread mask is enough.)
 */
typedef struct {
    sigset_t old_mask;
    bool was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old_mask);
}

static void sigpipe_restore(sigpipe_guard *g, bool got_epipe)
{
    if (got_epipe && !g->was_pending) {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}

static ssize_t write_iov(const ocishim_client *c, struct iovec *iov, int n)
{
    if (c->wfd_is_socket) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        return sendmsg(c->wfd, &m, MSG_NOSIGNAL);
    }
    return writev(c->wfd, iov, n);
}

/* Drops `done` bytes from the front of the iovec array. */
static void iov_advance(struct iovec **iov, int *n, size_t done)
{
    while (*n > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

/* Writes all of iov. Returns 0, or -1 with errno and *sent bytes written. */
static int write_all(const ocishim_client *c, struct iovec *iov, int n, size_t *sent)
{
    *sent = 0;
    while (n > 0) {
        ssize_t w = write_iov(c, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_fd(c->wfd, POLLOUT, -1) < 0)
                    return -1;
                continue;
            }
            return -1;
        }
        *sent += (size_t)w;
        iov_advance(&iov, &n, (size_t)w);
    }
    return 0;
}

int occ_wire_write(ocishim_client *c, uint32_t stream_id, uint8_t type, uint8_t flags,
                   const void *data, size_t len)
{
    if (occ_usable(c) < 0)
        return -1;
    if (c->wfd < 0) {
        occ_set_error(c, "the sending side of the connection is closed");
        return -1;
    }
    if (len > OCISHIM_MAX_PAYLOAD) {
        occ_set_error(c, "refusing to send a %zu-byte frame: over the %u-byte limit", len,
                      OCISHIM_MAX_PAYLOAD);
        return -1;
    }
    uint8_t hb[OCISHIM_FRAME_HEADER_SIZE];
    put_be32(hb, (uint32_t)len);
    put_be32(hb + 4, stream_id);
    hb[8] = type;
    hb[9] = flags;
    struct iovec iov[2] = {
        {.iov_base = hb, .iov_len = sizeof hb},
        {.iov_base = (void *)data, .iov_len = len},
    };

    sigpipe_guard guard;
    if (!c->wfd_is_socket)
        sigpipe_block(&guard);
    size_t sent;
    int r = write_all(c, iov, len > 0 ? 2 : 1, &sent);
    int e = errno;
    if (!c->wfd_is_socket)
        sigpipe_restore(&guard, r < 0 && e == EPIPE);

    if (r < 0) {
        if (sent > 0)
            occ_set_broken(c, "writing a frame (%zu of %zu bytes sent): %s", sent,
                           sizeof hb + len, strerror(e));
        else
            occ_set_error(c, "writing a frame: %s", strerror(e));
        return -1;
    }
    return 0;
}
