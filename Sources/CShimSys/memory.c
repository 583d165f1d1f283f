#define _GNU_SOURCE
#include "cshimsys_memory.h"

#include <errno.h>
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
