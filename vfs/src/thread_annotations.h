// Clang thread-safety annotations (leveldb's port/thread_annotations.h shape). They check,
// at compile time, that shared state is touched only with its mutex held; the
// `thread-safety` preset builds with clang -Wthread-safety -Werror. Other compilers see
// nothing.
#pragma once

#if defined(__clang__)
#define LITEVFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LITEVFS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) LITEVFS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY LITEVFS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) LITEVFS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) LITEVFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) LITEVFS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) LITEVFS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define REQUIRES(...) LITEVFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) LITEVFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) LITEVFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) LITEVFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) LITEVFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) LITEVFS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) LITEVFS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS LITEVFS_THREAD_ANNOTATION(no_thread_safety_analysis)
