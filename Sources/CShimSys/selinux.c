#include "cshimsys_selinux.h"

#include <stddef.h>

#ifdef OCISHIM_STATIC_LIBSELINUX

#include <selinux/selinux.h>

int ocishim_selinux_is_linked(void) { return 1; }

int ocishim_selinux_functions(const char *soname, struct ocishim_selinux_functions *out) {
    (void)soname;
    out->is_selinux_enabled = is_selinux_enabled;
    out->getcon = getcon;
    out->freecon = freecon;
    out->setexeccon = setexeccon;
    out->setsockcreatecon = setsockcreatecon;
    return 1;
}

#else

#include <dlfcn.h>

int ocishim_selinux_is_linked(void) { return 0; }

int ocishim_selinux_functions(const char *soname, struct ocishim_selinux_functions *out) {
    // RTLD_LOCAL: its symbols stay out of the global namespace. The handle
    // is never closed: the pointers live as long as the process.
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) return 0;
    struct ocishim_selinux_functions found = {
        .is_selinux_enabled = (int (*)(void))dlsym(handle, "is_selinux_enabled"),
        .getcon = (int (*)(char **))dlsym(handle, "getcon"),
        .freecon = (void (*)(char *))dlsym(handle, "freecon"),
        .setexeccon = (int (*)(const char *))dlsym(handle, "setexeccon"),
        .setsockcreatecon = (int (*)(const char *))dlsym(handle, "setsockcreatecon"),
    };
    // A partial libselinux is no libselinux.
    if (!found.is_selinux_enabled || !found.getcon || !found.freecon ||
        !found.setexeccon || !found.setsockcreatecon) {
        dlclose(handle);
        return 0;
    }
    *out = found;
    return 1;
}

#endif
