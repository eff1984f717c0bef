// Names the calling thread (at most 15 bytes), as top -H, ps -L and /proc/<pid>/task/*/comm
// show it. docs/ARCHITECTURE.md lists every thread by these names.
#ifndef PORTSYNCD_CORE_THREAD_NAME_H_
#define PORTSYNCD_CORE_THREAD_NAME_H_

#include <pthread.h>

namespace portsyncd {

inline void SetThreadName(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_THREAD_NAME_H_
