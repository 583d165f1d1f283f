/*
 * ocishim_spawn.c - getting a connection to a shim: start one, or connect to
 * the unix socket of one that is already running.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocishim_internal.h"

/* How long the launched process may take to fork the real shim and exit. */
#define LAUNCHER_EXIT_TIMEOUT_MS 10000

/* Hands a malloc'd message to the caller's *err (if it wants one). */
static void out_error(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_error(char **err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char buf[OCC_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *err = strdup(buf);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* --- spawning ------------------------------------------------------------- */

/* The shim's pipes and the exec-error pipe, as [0] read end / [1] write end. */
typedef struct {
    int to_shim[2];   /* shim's stdin */
    int from_shim[2]; /* shim's stdout */
    int exec_err[2];  /* the child writes errno here when exec fails */
} spawn_pipes;

static void pipes_close(spawn_pipes *p)
{
    for (int i = 0; i < 2; i++) {
        close_fd(&p->to_shim[i]);
        close_fd(&p->from_shim[i]);
        close_fd(&p->exec_err[i]);
    }
}

/*
 * If the engine runs with fd 0, 1 or 2 closed, pipe2() may hand those numbers
 * out, and the child's dup2() onto 0 and 1 would then clobber its own pipe
 * ends. Moving every pipe fd to 3 or above makes the child's job order-free.
 */
static int above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0)
        return -1;
    close(*fd);
    *fd = moved;
    return 0;
}

static int pipes_open(spawn_pipes *p)
{
    int *pairs[3] = {p->to_shim, p->from_shim, p->exec_err};
    for (int i = 0; i < 3; i++) {
        /* Close-on-exec from birth: no other child of the engine inherits them. */
        if (pipe2(pairs[i], O_CLOEXEC) < 0)
            return -1;
        if (above_stdio(&pairs[i][0]) < 0 || above_stdio(&pairs[i][1]) < 0)
            return -1;
    }
    return 0;
}

/* argv = shim_path, "serve", argv_extra..., NULL; built before fork because
 * the child may only make async-signal-safe calls. */
static char **build_argv(const char *shim_path, char *const argv_extra[])
{
    size_t n_extra = 0;
    while (argv_extra != NULL && argv_extra[n_extra] != NULL)
        n_extra++;
    char **argv = calloc(n_extra + 3, sizeof *argv);
    if (argv == NULL)
        return NULL;
    argv[0] = (char *)shim_path;
    argv[1] = (char *)"serve";
    for (size_t i = 0; i < n_extra; i++)
        argv[2 + i] = argv_extra[i];
    return argv;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
__attribute__((noreturn)) static void child_exec(const spawn_pipes *p, const char *path, char **argv)
{
    /* The shim must not inherit the engine's blocked or ignored signals (an
     * ignored SIGCHLD would stop it from reaping the container). Handlers are
     * reset by exec anyway. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* fails harmlessly for reserved signals */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* dup2() clears close-on-exec on the copies: these two survive exec. */
    if (dup2(p->to_shim[0], STDIN_FILENO) >= 0 && dup2(p->from_shim[1], STDOUT_FILENO) >= 0)
        execv(path, argv);

    int e = errno;
    ssize_t ignored = write(p->exec_err[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* Reads the child's exec errno. 0: exec succeeded (the pipe closed empty). */
static int read_exec_error(int fd)
{
    int e = 0;
    ssize_t r;
    do
        r = read(fd, &e, sizeof e);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof e ? e : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/*
 * Waits for the launched process to exit and reaps it. 0 when it exited with
 * status 0 (or was reaped by someone else), -1 with *err set otherwise. A
 * launcher that never exits is killed: it is not daemonizing as the shim
 * should, and leaving it would leave a zombie later.
 */
static int reap_launcher(pid_t pid, const char *path, char **err)
{
    long waited = 0, step = 1;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno == ECHILD)
            return 0; /* SIGCHLD ignored or reaped elsewhere: nothing left to reap */
        if (r < 0 && errno != EINTR) {
            out_error(err, "waitpid(%d): %s", (int)pid, strerror(errno));
            return -1;
        }
        if (waited >= LAUNCHER_EXIT_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            out_error(err, "%s serve did not exit within %d ms (it should daemonize); killed it",
                      path, LAUNCHER_EXIT_TIMEOUT_MS);
            return -1;
        }
        /* Short first sleeps: the launcher normally exits within milliseconds. */
        sleep_ms(step);
        waited += step;
        step = step < 50 ? step * 2 : 50;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        out_error(err, "%s serve exited with status %d", path, WEXITSTATUS(st));
    else
        out_error(err, "%s serve was killed by signal %d", path, WTERMSIG(st));
    return -1;
}

ocishim_client *ocishim_client_spawn(const char *shim_path, char *const argv_extra[], char **err)
{
    if (err != NULL)
        *err = NULL;
    if (shim_path == NULL) {
        out_error(err, "no shim path given");
        return NULL;
    }
    spawn_pipes p = {{-1, -1}, {-1, -1}, {-1, -1}};
    char **argv = build_argv(shim_path, argv_extra);
    if (argv == NULL) {
        out_error(err, "out of memory");
        return NULL;
    }
    if (pipes_open(&p) < 0) {
        out_error(err, "creating pipes: %s", strerror(errno));
        goto fail;
    }

    pid_t pid = fork();
    if (pid < 0) {
        out_error(err, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0)
        child_exec(&p, shim_path, argv);

    /* Our copies of the child's ends must go, or we would never see EOF. */
    close_fd(&p.to_shim[0]);
    close_fd(&p.from_shim[1]);
    close_fd(&p.exec_err[1]);
    int exec_errno = read_exec_error(p.exec_err[0]);
    close_fd(&p.exec_err[0]);
    if (exec_errno != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        out_error(err, "exec %s: %s", shim_path, strerror(exec_errno));
        goto fail;
    }
    if (reap_launcher(pid, shim_path, err) < 0)
        goto fail;

    ocishim_client *c = ocishim_client_connect_fds(p.from_shim[0], p.to_shim[1]);
    if (c == NULL) {
        out_error(err, "out of memory");
        goto fail;
    }
    free(argv);
    return c;

fail:
    pipes_close(&p);
    free(argv);
    return NULL;
}

/* --- the unix socket ------------------------------------------------------ */

/* connect(2) interrupted by a signal goes on in the background; wait for it
 * and collect its result instead of calling connect again. */
static int finish_interrupted_connect(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do
        n = poll(&pfd, 1, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    int so_err = 0;
    socklen_t len = sizeof so_err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
        return -1;
    if (so_err != 0) {
        errno = so_err;
        return -1;
    }
    return 0;
}

ocishim_client *ocishim_client_connect_unix(const char *socket_path, char **err)
{
    if (err != NULL)
        *err = NULL;
    if (socket_path == NULL) {
        out_error(err, "no socket path given");
        return NULL;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(socket_path);
    if (len == 0 || len >= sizeof addr.sun_path) {
        out_error(err, "socket path %s is %zu bytes; a unix socket path has 1 to %zu", socket_path,
                  len, sizeof addr.sun_path - 1);
        return NULL;
    }
    memcpy(addr.sun_path, socket_path, len + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        out_error(err, "socket: %s", strerror(errno));
        return NULL;
    }
    int r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (r < 0 && errno == EINTR)
        r = finish_interrupted_connect(fd);
    if (r < 0) {
        out_error(err, "connect %s: %s", socket_path, strerror(errno));
        close(fd);
        return NULL;
    }
    ocishim_client *c = ocishim_client_connect_fds(fd, fd);
    if (c == NULL) {
        out_error(err, "out of memory");
        close(fd);
        return NULL;
    }
    return c;
}
