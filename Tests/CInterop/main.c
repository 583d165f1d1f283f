/*
 * cshim-interop - a C engine in miniature: drives `ocishim serve` through the
 * CShimClient library and checks the answers.
 *
 *   cshim-interop OCISHIM [RUNTIME] [-- EXTRA-SHIM-ARGS...]
 *
 * OCISHIM is the shim binary. RUNTIME, when given, is passed as
 * `--runtime RUNTIME`; arguments after `--` are passed to `ocishim serve` as
 * they are. Prints one "ok - ..." / "not ok - ..." line per check and exits 0
 * when all passed, 1 when one failed, 2 on a usage error.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocishim_client.h"

/* Generous: RuntimeInfo and Capabilities run the OCI runtime. */
#define CALL_TIMEOUT_MS 30000
#define EXIT_WAIT_MS 5000
#define MAX_ARGS 64

typedef struct {
    ocishim_client *client;
    char dir[64];
    char id[64];
    pid_t shim_pid;    /* from Hello; 0 until then */
    bool shim_stopped; /* Shutdown answered, or the process is gone */
    int checks;
    int failures;
} test_ctx;

/* --- reporting ------------------------------------------------------------ */

static bool check(test_ctx *t, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool check(test_ctx *t, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "not ok");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    t->checks++;
    if (!ok)
        t->failures++;
    return ok;
}

/* Checks that a call got through and was answered OK; says why not. */
static bool check_call(test_ctx *t, const char *what, int rc, const ocishim_status *st)
{
    if (rc != 0)
        return check(t, false, "%s: %s", what, ocishim_client_error(t->client));
    return check(t, st->code == OCISHIM_CODE_OK, "%s answered with status %d%s%s", what, st->code,
                 st->message[0] ? ": " : "", st->message);
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* --- the checks ----------------------------------------------------------- */

static bool has_method(const Ocishim__V1__HelloResponse *h, const char *name)
{
    for (size_t i = 0; i < h->n_methods; i++)
        if (strcmp(h->methods[i], name) == 0)
            return true;
    return false;
}

/* Hello; the first one also learns the shim's pid. */
static bool test_hello(test_ctx *t, const char *label)
{
    Ocishim__V1__HelloRequest req = OCISHIM__V1__HELLO_REQUEST__INIT;
    req.client = (char *)"cshim-interop";
    ProtobufCMessage *msg = NULL;
    ocishim_status st = OCISHIM_STATUS_INIT;
    int rc = ocishim_client_call(t->client, "Hello", &req.base,
                                 &ocishim__v1__hello_response__descriptor, &msg, &st);
    bool ok = check_call(t, label, rc, &st);
    ocishim_status_clear(&st);
    if (!ok || t->shim_pid != 0) {
        ocishim_message_free(msg);
        return ok;
    }

    const Ocishim__V1__HelloResponse *h = (const Ocishim__V1__HelloResponse *)msg;
    printf("# shim_version=%s shim_pid=%d protocol_version=%u framing=%s state_dir=%s methods=%zu\n",
           h->shim_version, h->shim_pid, h->protocol_version, h->framing, h->state_dir,
           h->n_methods);
    check(t, strcmp(h->container_id, t->id) == 0, "Hello.container_id is %s (got \"%s\")", t->id,
          h->container_id);
    if (check(t, h->shim_pid > 0, "Hello.shim_pid > 0 (got %d)", h->shim_pid)) {
        int alive = kill(h->shim_pid, 0);
        check(t, alive == 0, "kill(shim_pid %d, 0) succeeds%s%s", h->shim_pid,
              alive ? ": " : "", alive ? strerror(errno) : "");
        t->shim_pid = h->shim_pid;
    }
    check(t, h->protocol_version == 1, "Hello.protocol_version == 1 (got %u)", h->protocol_version);
    check(t, strcmp(h->framing, "ttrpc/1.2") == 0, "Hello.framing is ttrpc/1.2 (got \"%s\")",
          h->framing);
    check(t, nonempty(h->shim_version), "Hello.shim_version is not empty");
    check(t, has_method(h, "Hello"), "Hello.methods contains Hello");
    ocishim_message_free(msg);
    return ok;
}

static bool is_executable_file(const char *path)
{
    struct stat sb;
    return path != NULL && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

static void test_runtime_info(test_ctx *t)
{
    Ocishim__V1__RuntimeInfoRequest req = OCISHIM__V1__RUNTIME_INFO_REQUEST__INIT;
    ProtobufCMessage *msg = NULL;
    ocishim_status st = OCISHIM_STATUS_INIT;
    int rc = ocishim_client_call(t->client, "RuntimeInfo", &req.base,
                                 &ocishim__v1__runtime_info_response__descriptor, &msg, &st);
    bool ok = check_call(t, "RuntimeInfo", rc, &st);
    ocishim_status_clear(&st);
    if (!ok)
        return;
    const Ocishim__V1__RuntimeInfoResponse *r = (const Ocishim__V1__RuntimeInfoResponse *)msg;
    const Ocishim__V1__ComponentInfo *rt = r->runtime;
    check(t, rt != NULL, "RuntimeInfo.runtime is set");
    if (rt != NULL) {
        /* `runc --version` has several lines; the first one names the version. */
        printf("# runtime name=%s path=%s package=%s version=%.*s\n", rt->name, rt->path,
               rt->package, (int)strcspn(rt->version, "\n"), rt->version);
        check(t, nonempty(rt->name), "RuntimeInfo.runtime.name is not empty");
        check(t, is_executable_file(rt->path), "RuntimeInfo.runtime.path \"%s\" is an executable file",
              rt->path);
        check(t, nonempty(rt->version), "RuntimeInfo.runtime.version is not empty");
    }
    ocishim_message_free(msg);
}

static void test_capabilities(test_ctx *t)
{
    Ocishim__V1__CapabilitiesRequest req = OCISHIM__V1__CAPABILITIES_REQUEST__INIT;
    ProtobufCMessage *msg = NULL;
    ocishim_status st = OCISHIM_STATUS_INIT;
    int rc = ocishim_client_call(t->client, "Capabilities", &req.base,
                                 &ocishim__v1__capabilities_response__descriptor, &msg, &st);
    bool ok = check_call(t, "Capabilities", rc, &st);
    ocishim_status_clear(&st);
    if (ok) {
        const Ocishim__V1__CapabilitiesResponse *r = (const Ocishim__V1__CapabilitiesResponse *)msg;
        printf("# capabilities checkpoint=%d json_errors=%d no_cgroups=%d kvm=%d runtime_name=%s\n",
               r->checkpoint, r->json_errors, r->no_cgroups, r->kvm, r->runtime_name);
    }
    ocishim_message_free(msg);
}

/* Reads frames until one of `stream_id` arrives (others are reported and
 * skipped). 0 with the frame, or -1 (after reporting a failed check). */
static int read_frame_of(test_ctx *t, uint32_t stream_id, ocishim_frame_header *h, uint8_t **payload,
                         size_t *len)
{
    for (int skipped = 0; skipped < 1000; skipped++) {
        int r = ocishim_client_read_frame(t->client, h, payload, len);
        if (r == OCISHIM_EOF) {
            check(t, false, "a frame on stream %u: the shim closed the connection", stream_id);
            return -1;
        }
        if (r < 0) {
            check(t, false, "a frame on stream %u: %s", stream_id, ocishim_client_error(t->client));
            return -1;
        }
        if (h->stream_id == stream_id)
            return 0;
        printf("# skipped a type %u frame on stream %u\n", h->type, h->stream_id);
        free(*payload);
    }
    check(t, false, "a frame on stream %u: 1000 other frames came first", stream_id);
    return -1;
}

/* Clients must use odd stream ids: a request on an even one is refused with
 * INVALID_ARGUMENT, and the connection stays usable. */
static void test_even_stream_id(test_ctx *t)
{
    const uint32_t even_id = 2;
    Ocishim__V1__HelloRequest req = OCISHIM__V1__HELLO_REQUEST__INIT;
    req.client = (char *)"cshim-interop";
    size_t len;
    uint8_t *buf = ocishim_request_encode("Hello", &req.base, &len);
    if (!check(t, buf != NULL, "encoding a raw Hello request"))
        return;
    int rc = ocishim_client_write_frame(t->client, even_id, OCISHIM_FRAME_REQUEST, 0, buf, len);
    free(buf);
    if (!check(t, rc == 0, "sending a request on even stream id %u%s%s", even_id, rc ? ": " : "",
               rc ? ocishim_client_error(t->client) : ""))
        return;

    ocishim_frame_header h;
    uint8_t *payload;
    if (read_frame_of(t, even_id, &h, &payload, &len) < 0)
        return;
    ocishim_status st = OCISHIM_STATUS_INIT;
    int dec = h.type == OCISHIM_FRAME_RESPONSE
                  ? ocishim_response_decode(payload, len, NULL, NULL, &st)
                  : -1;
    free(payload);
    if (check(t, dec == 0, "even stream id %u answered with a Response (type %u, decode %d)", even_id,
              h.type, dec))
        check(t, st.code == OCISHIM_CODE_INVALID_ARGUMENT,
              "even stream id answered INVALID_ARGUMENT (3), got %d: %s", st.code, st.message);
    ocishim_status_clear(&st);
    test_hello(t, "Hello after the even stream id");
}

static void test_unknown_method(test_ctx *t)
{
    ocishim_status st = OCISHIM_STATUS_INIT;
    int rc = ocishim_client_call(t->client, "NoSuchMethod", NULL, NULL, NULL, &st);
    if (rc != 0)
        check(t, false, "NoSuchMethod: %s", ocishim_client_error(t->client));
    else
        check(t, st.code == OCISHIM_CODE_UNIMPLEMENTED,
              "NoSuchMethod answered UNIMPLEMENTED (12), got %d: %s", st.code, st.message);
    ocishim_status_clear(&st);
}

/* After Shutdown the shim closes its stdout: nothing but EOF may follow
 * (frames of other streams are tolerated and reported). */
static void expect_eof(test_ctx *t)
{
    for (int frames = 0; frames < 1000; frames++) {
        ocishim_frame_header h;
        uint8_t *payload;
        size_t len;
        int r = ocishim_client_read_frame(t->client, &h, &payload, &len);
        if (r == OCISHIM_EOF) {
            check(t, true, "EOF on the shim's stdout after Shutdown");
            return;
        }
        if (r < 0) {
            check(t, false, "EOF on the shim's stdout after Shutdown: %s",
                  ocishim_client_error(t->client));
            return;
        }
        printf("# after Shutdown: a type %u frame on stream %u\n", h.type, h.stream_id);
        free(payload);
    }
    check(t, false, "EOF on the shim's stdout after Shutdown: 1000 frames came instead");
}

/* 'Z' when pid is a zombie: exited, but its parent (init or a subreaper,
 * since the shim daemonized) has not reaped it yet. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the command name may hold spaces */
    return paren != NULL && paren[1] == ' ' ? paren[2] : '?';
}

static void expect_gone(test_ctx *t)
{
    pid_t pid = t->shim_pid;
    for (int waited = 0; waited <= EXIT_WAIT_MS; waited += 20) {
        if (kill(pid, 0) < 0 && errno == ESRCH) {
            check(t, true, "shim pid %d is gone (ESRCH) within %d ms", (int)pid, EXIT_WAIT_MS);
            t->shim_stopped = true;
            return;
        }
        sleep_ms(20);
    }
    if (proc_state(pid) == 'Z') {
        /* Exited: only reaping is up to someone else (PID 1 of this machine). */
        check(t, true, "shim pid %d exited (a zombie nobody reaped yet, so no ESRCH)", (int)pid);
        t->shim_stopped = true;
        return;
    }
    check(t, false, "shim pid %d is gone within %d ms: still running (state %c)", (int)pid,
          EXIT_WAIT_MS, proc_state(pid));
}

static void test_shutdown(test_ctx *t)
{
    Ocishim__V1__ShutdownRequest req = OCISHIM__V1__SHUTDOWN_REQUEST__INIT;
    req.force = 1;
    ProtobufCMessage *msg = NULL;
    ocishim_status st = OCISHIM_STATUS_INIT;
    int rc = ocishim_client_call(t->client, "Shutdown", &req.base,
                                 &ocishim__v1__shutdown_response__descriptor, &msg, &st);
    bool ok = check_call(t, "Shutdown{force=true}", rc, &st);
    ocishim_status_clear(&st);
    ocishim_message_free(msg);
    if (!ok)
        return;
    expect_eof(t);
    if (t->shim_pid > 0)
        expect_gone(t);
}

/* --- setup and cleanup ---------------------------------------------------- */

/* A failed run must not leave a shim behind. */
static void stop_leftover_shim(test_ctx *t)
{
    if (t->shim_pid <= 0 || t->shim_stopped)
        return;
    printf("# stopping the leftover shim %d\n", (int)t->shim_pid);
    kill(t->shim_pid, SIGTERM);
    for (int waited = 0; waited < 2000; waited += 20) {
        if (kill(t->shim_pid, 0) < 0)
            return;
        sleep_ms(20);
    }
    kill(t->shim_pid, SIGKILL);
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

static void remove_dir(test_ctx *t)
{
    int r = nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    check(t, r == 0, "removed %s%s%s", t->dir, r ? ": " : "", r ? strerror(errno) : "");
}

/* Builds `serve`'s arguments; NULL on a usage error. */
static char **shim_args(test_ctx *t, int argc, char **argv, char **out, size_t cap)
{
    size_t n = 0;
    out[n++] = (char *)"--id";
    out[n++] = t->id;
    out[n++] = (char *)"--state-dir";
    out[n++] = t->dir;
    int i = 2;
    if (i < argc && strcmp(argv[i], "--") != 0) {
        out[n++] = (char *)"--runtime";
        out[n++] = argv[i++];
    }
    if (i < argc && strcmp(argv[i], "--") != 0)
        return NULL;
    for (i++; i < argc; i++) {
        if (n + 1 >= cap)
            return NULL;
        out[n++] = argv[i];
    }
    out[n] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_ctx t = {0};
    char *args[MAX_ARGS];
    snprintf(t.id, sizeof t.id, "cinterop-%d", (int)getpid());
    snprintf(t.dir, sizeof t.dir, "/tmp/cshim-interop-XXXXXX");
    if (argc < 2 || shim_args(&t, argc, argv, args, MAX_ARGS) == NULL) {
        fprintf(stderr, "usage: %s OCISHIM [RUNTIME] [-- EXTRA-SHIM-ARGS...]\n", argv[0]);
        return 2;
    }
    if (mkdtemp(t.dir) == NULL) {
        printf("not ok - mkdtemp %s: %s\n", t.dir, strerror(errno));
        return 1;
    }

    char *err = NULL;
    t.client = ocishim_client_spawn(argv[1], args, &err);
    if (check(&t, t.client != NULL, "spawned %s serve --id %s --state-dir %s%s%s", argv[1], t.id,
              t.dir, err ? ": " : "", err ? err : "")) {
        ocishim_client_set_timeout(t.client, CALL_TIMEOUT_MS);
        test_hello(&t, "Hello");
        test_runtime_info(&t);
        test_capabilities(&t);
        test_even_stream_id(&t);
        test_unknown_method(&t);
        test_shutdown(&t);
    }
    free(err);

    stop_leftover_shim(&t);
    ocishim_client_close(t.client);
    remove_dir(&t);
    printf("# %d checks, %d failed\n", t.checks, t.failures);
    return t.failures == 0 ? 0 : 1;
}
