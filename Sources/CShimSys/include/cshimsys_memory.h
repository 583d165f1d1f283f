#ifndef CSHIMSYS_MEMORY_H
#define CSHIMSYS_MEMORY_H

#include <stddef.h>

// What an idle shim gives back to the kernel (IdleMemory.swift). Neither
// touches memory anything still uses; both cost a syscall or two.

// malloc_trim(0): free heap pages (not only the top of the heap) go back.
// Returns 1 if memory was released.
int ocishim_trim_heap(void);

// The stack pages below the caller's frame, less `keep` bytes, are dropped:
// start-up runs deep call chains once, and their pages would otherwise stay
// dirty for the life of the shim. Returns 0, or -1 with errno.
int ocishim_release_unused_stack(size_t keep);

// The page-table entries of every loaded object's executable, never-written
// segments (the shim's own text above all) are dropped. The pages stay in
// the page cache, shared with every other shim; an idle shim just stops
// counting them as its own (RSS, PSS), and a wake-up maps back only the code
// it runs. Returns the bytes covered.
size_t ocishim_release_text(void);

#endif
