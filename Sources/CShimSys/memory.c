#define _GNU_SOURCE
#include "cshimsys_memory.h"

#include <errno.h>
#include <link.h>
#include <sys/auxv.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int ocishim_trim_heap(void) {
    return malloc_trim(0);
}

int ocishim_release_unused_stack(size_t keep) {
    pthread_attr_t attr;
    void *low;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return -1;
    int rc = pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0) return -1;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (frame < (uintptr_t)low + keep) return 0;
    uintptr_t end = (frame - keep) & ~(page - 1);
    uintptr_t start = ((uintptr_t)low + page - 1) & ~(page - 1);
    if (end <= start) return 0;
    // For the main thread the range reaches down to the stack rlimit, below
    // what is mapped yet: ENOMEM only says so, the mapped part is done.
    if (madvise((void *)start, end - start, MADV_DONTNEED) != 0 && errno != ENOMEM) return -1;
    return 0;
}

// One object's executable, never-written segments: dropping their page-table
// entries is safe because their contents are exactly the file's (no dirty
// copy can be lost), and the next instruction fetch maps them again from the
// page cache. An object with text relocations has written its text: skipped.
static int has_text_relocations(const struct dl_phdr_info *info) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
        const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        for (; dyn->d_tag != DT_NULL; dyn++) {
            if (dyn->d_tag == DT_TEXTREL) return 1;
            if (dyn->d_tag == DT_FLAGS && (dyn->d_un.d_val & DF_TEXTREL)) return 1;
        }
    }
    return 0;
}

static int release_object_text(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    size_t *released = data;
    // The vDSO is the kernel's own special mapping, not a file's.
    // Its program headers follow its ELF header at AT_SYSINFO_EHDR.
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (vdso != 0 && (uintptr_t)info->dlpi_phdr >= vdso && (uintptr_t)info->dlpi_phdr < vdso + 4096)
        return 0;
    if (has_text_relocations(info)) return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || (ph->p_flags & PF_W)) continue;
        // Whole pages inside the segment only: a page shared with a writable
        // neighbour (possible without separate-code layout) stays.
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz) & ~(page - 1);
        if (end <= start) continue;
        if (madvise((void *)start, end - start, MADV_DONTNEED) == 0) *released += end - start;
    }
    return 0;
}

size_t ocishim_release_text(void) {
    size_t released = 0;
    dl_iterate_phdr(release_object_text, &released);
    return released;
}
