// Gives memory the process freed back to the system, where the allocator can (glibc:
// malloc_trim also releases free pages inside the heap, not only at its top). For the few
// places that free a large batch amid memory that stays (the interior pages of a cold open
// next to the b-tree shape kept from them): without it the freed batch stays in the RSS.
#pragma once

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace litevfs {

inline void ReleaseFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace litevfs
