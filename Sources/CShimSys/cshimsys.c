#define _GNU_SOURCE
#include "cshimsys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// --- process spawning --------------------------------------------------------

// What the child reports through the close-on-exec error pipe.
typedef struct {
    int err;
    int step;
} spawn_failure;

static const char *const spawn_steps[] = {
    "fork", "fd setup", "setsid", "chdir", "unshare", "label", "execve",
};

enum { STEP_FORK, STEP_FDS, STEP_SESSION, STEP_CHDIR, STEP_UNSHARE, STEP_LABEL, STEP_EXEC };

// Unmounts every /sys/kernel mount, deepest first, reading /proc/self/mountinfo
// with raw syscalls only (we are in a forked child of a single-threaded parent,
// but keep it simple and allocation-free anyway).
static int unmount_sys_kernel(void) {
    if (unshare(CLONE_NEWNS) != 0) return -1;
    if (mount("/sys", "/sys", "none", MS_REC | MS_SLAVE, NULL) != 0) return -1;
    // Repeat until no /sys/kernel mount is left: nested mounts come off first
    // because umount of a parent with children fails with EBUSY.
    for (int round = 0; round < 16; round++) {
        int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        static char buf[1 << 16];
        ssize_t n, total = 0;
        while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0) total += n;
        close(fd);
        buf[total] = 0;
        int found = 0, progress = 0;
        for (char *line = buf; line && *line;) {
            char *next = strchr(line, '\n');
            if (next) *next++ = 0;
            // fields: id parent major:minor root mountpoint ...
            char *p = line;
            for (int field = 0; field < 4 && p; field++) {
                p = strchr(p, ' ');
                if (p) p++;
            }
            if (p) {
                char *end = strchr(p, ' ');
                if (end) *end = 0;
                if (strncmp(p, "/sys/kernel", 11) == 0 && (p[11] == 0 || p[11] == '/')) {
                    found = 1;
                    if (umount2(p, MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT) progress = 1;
                }
            }
            line = next;
        }
        if (!found) return 0;
        if (!progress) return -1;
    }
    return 0;
}

// Every signal back to SIG_DFL through the raw syscall: glibc's sigaction
// refuses its reserved real-time signals (32, 33), and an ignored one would
// survive exec into the runtime and the container.
static void reset_signal_dispositions(void) {
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
    }
}

// A copy of envp with LISTEN_PID=<own pid> (allocating is fine: the parent
// is single-threaded, so no lock can be held across the fork).
static char *const *with_listen_pid(char *const *envp) {
    size_t n = 0;
    while (envp[n]) n++;
    char **out = calloc(n + 2, sizeof(char *));
    static char entry[32];
    if (!out) return envp;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "LISTEN_PID=", 11) != 0) out[j++] = envp[i];
    snprintf(entry, sizeof(entry), "LISTEN_PID=%d", (int)getpid());
    out[j++] = entry;
    out[j] = NULL;
    return out;
}

static void child_fail(int pipe_fd, int step) {
    spawn_failure f = {errno, step};
    ssize_t unused = write(pipe_fd, &f, sizeof(f));
    (void)unused;
    _exit(127);
}

// The thread's signal mask through the raw syscall: glibc's sigprocmask
// leaves its reserved real-time signals (SIGCANCEL, SIGSETXID) out of any
// set it is given, so they could not be blocked around the clone (glibc's
// own posix_spawn blocks them the same way).
static void set_signal_mask(const sigset_t *mask, sigset_t *old) {
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, old, NSIG / 8);
}

// The child's part, from the signals to execve; never returns. `ep_in` is
// the write end of the close-on-exec error pipe. In a child that shares the
// parent's memory (start_shared_child) everything here runs on the borrowed
// stack and only makes system calls: no allocation, no lock, no static
// buffer (can_share_memory keeps the steps that would out of it).
static void spawn_child(const ocishim_spawn_attr *a, int ep_in) {
    // Defaults for every signal first, then the empty mask: the shim blocks
    // SIGCHLD & co for its signalfd and ignores SIGPIPE, neither of which a
    // runtime should inherit (and a child sharing the parent's memory must
    // not run a parent's handler).
    reset_signal_dispositions();
    sigset_t none;
    sigemptyset(&none);
    set_signal_mask(&none, NULL);

    if (a->new_session) {
        if (setsid() < 0) child_fail(ep_in, STEP_SESSION);
    } else if (a->new_pgroup) {
        if (setpgid(0, 0) < 0) child_fail(ep_in, STEP_SESSION);
    }

    // Move every source above all destinations (and the error pipe) first,
    // so that a source that is also some other mapping's destination is
    // not overwritten before it is copied.
    int maxdst = ep_in;
    for (int i = 0; i < a->nfds; i++)
        if (a->fds[i].dst > maxdst) maxdst = a->fds[i].dst;
    int high[a->nfds > 0 ? a->nfds : 1];
    for (int i = 0; i < a->nfds; i++) {
        high[i] = fcntl(a->fds[i].src, F_DUPFD_CLOEXEC, maxdst + 1);
        if (high[i] < 0) child_fail(ep_in, STEP_FDS);
    }
    // The error pipe must survive at a number no destination uses.
    int ep = fcntl(ep_in, F_DUPFD_CLOEXEC, maxdst + 1 + a->nfds);
    if (ep < 0) child_fail(ep_in, STEP_FDS);
    for (int i = 0; i < a->nfds; i++) {
        if (dup2(high[i], a->fds[i].dst) < 0) child_fail(ep, STEP_FDS);
    }
    // Close everything that is not a destination, except the error pipe
    // which closes itself on exec.
    for (int fd = 0; fd <= maxdst; fd++) {
        int keep = 0;
        for (int i = 0; i < a->nfds; i++)
            if (a->fds[i].dst == fd) keep = 1;
        if (!keep) close(fd);
    }
    for (int i = 0; i < a->nfds; i++) close(high[i]);
    if (ep > maxdst + 1) close_range((unsigned)maxdst + 1, (unsigned)ep - 1, 0);
    close_range((unsigned)ep + 1, ~0U, 0);

    if (a->cwd && chdir(a->cwd) != 0) child_fail(ep, STEP_CHDIR);
    if (a->unshare_sys_kernel && unmount_sys_kernel() != 0) child_fail(ep, STEP_UNSHARE);
    if (a->exec_label && a->setexeccon && a->setexeccon(a->exec_label) != 0)
        child_fail(ep, STEP_LABEL);
    char *const *envp = a->envp;
    if (a->listen_pid_env) envp = with_listen_pid(a->envp);
    execve(a->path, a->argv, envp);
    child_fail(ep, STEP_EXEC);
}

typedef struct {
    const ocishim_spawn_attr *attr;
    int errpipe;
} shared_child;

static int shared_child_main(void *arg) {
    const shared_child *c = arg;
    spawn_child(c->attr, c->errpipe);
    return 127;
}

// Whether the child may share the parent's memory until it execs
// (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does): only when it
// allocates nothing and touches no static buffer (LISTEN_PID's copy of the
// environment, /sys/kernel's mount table, libselinux), since the parent may
// have other threads (the engine-side tools do). A forked shim copies its
// page tables and then faults on every page it writes until the child has
// exec'd: a shared child costs neither, on the path of every runtime call.
static int can_share_memory(const ocishim_spawn_attr *a) {
    return !a->listen_pid_env && !a->unshare_sys_kernel && !a->exec_label;
}

// The shared child's stack: a region of the caller's, which is suspended
// until the child has exec'd (CLONE_VFORK), so nothing else uses it.
#define SHARED_CHILD_STACK (32 * 1024)

static pid_t start_shared_child(const ocishim_spawn_attr *a, int errpipe) {
    _Alignas(16) char stack[SHARED_CHILD_STACK];
    shared_child c = {a, errpipe};
    // No signal handler may run in the child before it has set every
    // disposition back to the default: block them all around the clone.
    sigset_t all, old;
    memset(&all, 0xff, sizeof(all));
    set_signal_mask(&all, &old);
    pid_t pid = clone(shared_child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    int saved = errno;
    set_signal_mask(&old, NULL);
    errno = saved;
    return pid;
}

pid_t ocishim_spawn(const ocishim_spawn_attr *a, int *err, const char **failed_step) {
    int errpipe[2];
    *err = 0;
    *failed_step = NULL;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        *err = errno;
        *failed_step = "pipe";
        return -1;
    }
    pid_t pid;
    if (can_share_memory(a)) {
        pid = start_shared_child(a, errpipe[1]);
    } else {
        pid = fork();
        if (pid == 0) spawn_child(a, errpipe[1]);
    }
    if (pid < 0) {
        *err = errno;
        *failed_step = spawn_steps[STEP_FORK];
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    close(errpipe[1]);
    spawn_failure f;
    ssize_t n;
    do {
        n = read(errpipe[0], &f, sizeof(f));
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(f)) {
        // The child failed before exec and exits 127; reap it here so that no
        // caller ever sees this pid.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *err = f.err;
        *failed_step = (f.step >= 0 && f.step <= STEP_EXEC) ? spawn_steps[f.step] : "spawn";
        return -1;
    }
    return pid;
}

pid_t ocishim_fork(void) { return fork(); }

int ocishim_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int ocishim_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int ocishim_open_dir_path(const char *path) { return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); }

int ocishim_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }

int ocishim_mkostemp(char *template_, int flags) { return mkostemp(template_, flags); }

int ocishim_rename_exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 1 << 1 /* RENAME_EXCHANGE */);
}

// struct open_how and the RESOLVE_* flags of <linux/openat2.h>, spelled out so
// that the build does not depend on the kernel headers' version.
struct ocishim_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define OCISHIM_RESOLVE_NO_MAGICLINKS 0x02
#define OCISHIM_RESOLVE_IN_ROOT 0x10
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int ocishim_open_in_root(int dirfd, const char *path, int flags) {
    struct ocishim_open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = 0,
        .resolve = OCISHIM_RESOLVE_IN_ROOT | OCISHIM_RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// --- SCM_RIGHTS ----------------------------------------------------------------

ssize_t ocishim_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds) {
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    char control[CMSG_SPACE(sizeof(int) * 16)];
    if (nfds < 0 || nfds > 16) {
        errno = EINVAL;
        return -1;
    }
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(control, 0, sizeof(control));
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t ocishim_recv_fd(int sock, void *buf, size_t len, int *fd_out) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    char control[CMSG_SPACE(sizeof(int) * 16)];
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    *fd_out = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *got = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            if (*fd_out < 0)
                *fd_out = got[i];
            else
                close(got[i]);
        }
    }
    return n;
}

// --- terminals and process attributes ----------------------------------------

int ocishim_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &ws);
}

int ocishim_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

int ocishim_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int ocishim_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

// --- epoll -------------------------------------------------------------------

int ocishim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, op, fd, &ev);
}

int ocishim_epoll_wait(int epfd, ocishim_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n;
    do {
        n = epoll_wait(epfd, evs, max, timeout_ms);
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        out[i].data = evs[i].data.u64;
        out[i].events = evs[i].events;
    }
    return n;
}

// --- peer credentials ---------------------------------------------------------

int ocishim_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}
