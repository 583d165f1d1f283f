#ifndef CSHIMSYS_SELINUX_H
#define CSHIMSYS_SELINUX_H

// The few libselinux functions the shim calls (SELinuxLibrary.swift).
struct ocishim_selinux_functions {
    int (*is_selinux_enabled)(void);
    int (*getcon)(char **context);
    void (*freecon)(char *context);
    int (*setexeccon)(const char *context);
    int (*setsockcreatecon)(const char *context);
};

// Fills `out` with libselinux's functions. Returns 1 on success, 0 when the
// library (or one of the functions) is missing.
//
// How it gets them depends on the build. A dynamically linked shim dlopens
// `soname` (see SELinuxLibrary.swift for why it is not linked). The fully
// static shim (Scripts/build-static, which defines
// OCISHIM_STATIC_LIBSELINUX and links libselinux.a) has them linked in: a
// static glibc's dlopen would need the very glibc it was built with at run
// time, and would map a second libc into the process. `soname` is then
// ignored.
int ocishim_selinux_functions(const char *soname, struct ocishim_selinux_functions *out);

// Whether libselinux is linked into this executable (the static build).
int ocishim_selinux_is_linked(void);

#endif
