#define _GNU_SOURCE
#include "cshimsys_memory.h"

#include <errno.h>
#include <link.h>
#include <sys/auxv.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// How far below the releasing frame the main thread's stack is searched for
// its start (ocishim_release_unused_stack).
#define STACK_SCAN (1u << 20)

int ocishim_trim_heap(void) {
    return malloc_trim(0);
}

// Where the run of mapped pages that ends at `top` starts, no lower than
// `floor`: the lowest page-aligned L >= floor such that every page of
// [L, top) is mapped. mincore fails with ENOMEM as soon as its range reaches
// an unmapped page, so whether [L, top) is all mapped is monotone in L and a
// binary search finds it in a few calls.
static uintptr_t mapped_down_to(uintptr_t floor, uintptr_t top, uintptr_t page) {
    // One byte per page of the range; Linux pages are 4 KiB or larger.
    unsigned char vec[STACK_SCAN / 4096 + 1];
    uintptr_t mapped = top, unmapped = floor;  // [mapped, top) is all mapped
    if (mincore((void *)floor, top - floor, vec) == 0) return floor;
    while (mapped - unmapped > page) {
        // At least two pages apart: mid lies strictly between them.
        uintptr_t mid = (unmapped + (mapped - unmapped) / 2) & ~(page - 1);
        if (mincore((void *)mid, top - mid, vec) == 0) mapped = mid;
        else unmapped = mid;
    }
    return mapped;
}

// Where the main thread's stack mapping starts, cached: the mapping only ever
// grows down, so a cached start below which nothing is mapped is still it.
// pthread_getattr_np would give it too, but reads /proc/self/maps for it
// (0.11-0.14 ms of a 0.4 ms release, measured with uprobes on a shim).
static uintptr_t main_stack_start(uintptr_t top, uintptr_t page) {
    static uintptr_t cached;
    unsigned char vec[1];
    uintptr_t floor = top > STACK_SCAN ? (top - STACK_SCAN) & ~(page - 1) : 0;
    if (cached != 0 && cached >= floor
        && mincore((void *)(cached - page), page, vec) != 0 && errno == ENOMEM)
        return cached;
    cached = mapped_down_to(floor, top, page);
    return cached;
}

int ocishim_release_unused_stack(size_t keep) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (frame < keep + page) return 0;
    uintptr_t end = (frame - keep) & ~(page - 1);
    uintptr_t start;
    if (getpid() == (pid_t)syscall(SYS_gettid)) {
        // The main thread: its stack is a grows-down mapping, and the kernel
        // keeps a guard gap of unmapped pages (stack_guard_gap, 1 MiB) below
        // it, so the mapped run below the frame ends where the stack does.
        // Only STACK_SCAN bytes below the frame are searched: pages deeper
        // than that (a shim's frames never reach them) would stay.
        start = main_stack_start(end, page);
    } else {
        // Another thread's stack lies next to its guard page and other
        // threads' stacks (all mapped): only its attributes say where it ends.
        pthread_attr_t attr;
        void *low;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) != 0) return -1;
        int rc = pthread_attr_getstack(&attr, &low, &size);
        pthread_attr_destroy(&attr);
        if (rc != 0) return -1;
        start = ((uintptr_t)low + page - 1) & ~(page - 1);
    }
    if (end <= start) return 0;
    // ENOMEM: part of the range was not mapped (a thread's attributes can
    // reach below what its stack has mapped); the mapped part is done.
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
