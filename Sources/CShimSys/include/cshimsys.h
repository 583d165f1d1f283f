// C glue for the few syscalls Swift cannot express well. Everything else goes
// through Glibc and swift-system directly from ShimSystem.
#ifndef CSHIMSYS_H
#define CSHIMSYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/vfs.h>

// --- process spawning --------------------------------------------------------

// One fd of the child: `dst` in the child is a copy of the parent's `src`.
typedef struct {
    int src;
    int dst;
} ocishim_fd_map;

typedef struct {
    const char *path;          // executable, absolute or relative to cwd
    char *const *argv;         // NULL-terminated
    char *const *envp;         // NULL-terminated
    const char *cwd;           // NULL: inherit
    const ocishim_fd_map *fds; // the child's fds; every other fd is closed
    int nfds;
    int new_session;           // setsid() in the child
    int new_pgroup;            // setpgid(0, 0) in the child (ignored with new_session)
    // Create the child in a private mount namespace with /sys made a slave and
    // the /sys/kernel mounts removed, as podman does for non-privileged
    // containers whose user namespace does not map the engine's uid.
    int unshare_sys_kernel;
    // Socket activation: set LISTEN_PID to the child's own pid (it is only
    // known after fork), as sd_listen_fds() in the runtime checks it.
    int listen_pid_env;
    // SELinux: label for the exec (setexeccon); NULL or no setter: untouched.
    const char *exec_label;
    int (*setexeccon)(const char *label);
} ocishim_spawn_attr;

// Forks and execs. Returns the pid, or -1 with *err set to the errno of the
// step that failed (fork, fd setup, chdir, unshare, label or execve). Signal
// mask and dispositions are reset to the defaults in the child.
pid_t ocishim_spawn(const ocishim_spawn_attr *attr, int *err, const char **failed_step);

// pipe2(), which Glibc's Swift module hides behind _GNU_SOURCE.
int ocishim_pipe2(int fds[2], int flags);

// fcntl(F_SETPIPE_SZ): returns the new capacity or -1.
int ocishim_set_pipe_size(int fd, int size);

// open(path, O_PATH | O_DIRECTORY | O_CLOEXEC): a handle naming a directory.
int ocishim_open_dir_path(const char *path);

// openat2(dirfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
// opens `path` as if `dirfd` were the root directory, so that no symlink or
// ".." in the path can reach outside it, atomically (no window between
// resolving and opening). Returns -1 with errno ENOSYS on kernels before 5.6.
int ocishim_open_in_root(int dirfd, const char *path, int flags);

// mkostemp(), hidden behind _GNU_SOURCE: creates `template` (ending in
// XXXXXX, replaced) exclusively, mode 0600, with `flags` (O_CLOEXEC, O_APPEND).
int ocishim_mkostemp(char *template_, int flags);

// accept4(), also hidden behind _GNU_SOURCE.
int ocishim_accept4(int fd, int flags);

// renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE): swaps the two names
// atomically, both of which must exist. The syscall itself (glibc's wrapper
// is hidden behind _GNU_SOURCE and newer than some libcs): -1 with errno
// EINVAL on a file system that cannot exchange, ENOSYS before Linux 3.15.
int ocishim_rename_exchange(const char *a, const char *b);

// fork() for daemonizing before any thread exists.
pid_t ocishim_fork(void);

// --- fds over unix sockets (SCM_RIGHTS) --------------------------------------

// Sends `len` bytes (at least 1) with `nfds` fds attached.
ssize_t ocishim_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds);
// Receives up to `len` bytes and at most one fd (-1 when none came). Extra fds
// are closed. The fd is close-on-exec.
ssize_t ocishim_recv_fd(int sock, void *buf, size_t len, int *fd_out);

// --- terminals and process attributes ----------------------------------------

int ocishim_set_winsize(int fd, unsigned short rows, unsigned short cols);
int ocishim_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
int ocishim_set_child_subreaper(void);
int ocishim_set_pdeathsig(int sig);

// --- epoll (epoll_event is packed on x86_64; keep it on the C side) ----------

typedef struct {
    uint64_t data;
    uint32_t events;
} ocishim_epoll_event;

int ocishim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int ocishim_epoll_wait(int epfd, ocishim_epoll_event *out, int max, int timeout_ms);

// --- peer credentials ---------------------------------------------------------

int ocishim_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);

// --- memory an idle shim gives back (memory.c) ------------------------------

#include "cshimsys_memory.h"
#include "cshimsys_selinux.h"

#endif
