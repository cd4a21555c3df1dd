// Lets the wheel's _core module run on glibc 2.17 (manylinux_2_17) although it
// is built on Debian 12 (glibc 2.36) with the C++ runtime linked statically.
// Compiled and used only when building wheels (OME_WRITERS_GLIBC_COMPAT, x86_64).
//
// The linker sends every reference to a symbol listed in
// python/bindings/CMakeLists.txt to __wrap_<symbol> (ld --wrap), here:
//  - functions glibc 2.34 moved into libc (pthread_*) and the libm functions
//    glibc 2.29 versioned anew (exp, log, pow) jump to the older versions that
//    the same libc/libm still carry (GLIBC_2.2.5): same code, older name;
//  - fstat/stat/lstat (real functions only since glibc 2.33) call the kernel;
//  - pthread_cond_clockwait (2.30) waits with pthread_cond_timedwait against
//    the real-time clock, for the same remaining time (its callers, the C++
//    condition variables, check their own clock and predicate on return);
//  - arc4random (2.36) and getentropy (2.25) read getrandom(2);
//  - __cxa_thread_atexit_impl (2.18), which the C++ runtime calls to destroy
//    thread_local objects when their thread ends, keeps a list per thread
//    under a pthread key whose destructor runs it, newest first. (glibc also
//    runs the main thread's list at exit(); here the process exit reclaims
//    those objects instead. None of this library's thread_local objects does
//    more in its destructor than free memory.)
// __libc_single_threaded (2.32) is defined here as 0: "not known to be single
// threaded", so the C++ runtime always takes the thread-safe path.
#if defined(__x86_64__) && defined(__linux__)

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cstdint>

#include <cstddef>
#include <cstdlib>

#define OW_HIDDEN __attribute__((visibility("hidden")))

// __wrap_<name>: a tail jump to <name>@<version> (arguments untouched, so one
// trampoline serves every signature).
#define OW_OLD_VERSION(name, version)                    \
  __asm__(".symver ow_old_" #name ", " #name "@" version \
          "\n"                                           \
          ".text\n"                                      \
          ".globl __wrap_" #name                         \
          "\n"                                           \
          ".hidden __wrap_" #name                        \
          "\n"                                           \
          ".type __wrap_" #name                          \
          ", @function\n"                                \
          "__wrap_" #name                                \
          ":\n"                                          \
          "  jmp ow_old_" #name                          \
          "@PLT\n"                                       \
          ".size __wrap_" #name ", .-__wrap_" #name "\n")

OW_OLD_VERSION(pthread_create, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_join, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_detach, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_once, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_key_create, "GLIBC_2.2.5");
OW_OLD_VERSION(__pthread_key_create, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_key_delete, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_getspecific, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_setspecific, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_rwlock_rdlock, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_rwlock_wrlock, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_rwlock_unlock, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_barrier_init, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_barrier_wait, "GLIBC_2.2.5");
OW_OLD_VERSION(pthread_barrier_destroy, "GLIBC_2.2.5");
OW_OLD_VERSION(exp, "GLIBC_2.2.5");
OW_OLD_VERSION(log, "GLIBC_2.2.5");
OW_OLD_VERSION(pow, "GLIBC_2.2.5");

extern "C" {

OW_HIDDEN char __libc_single_threaded = 0;

OW_HIDDEN int __wrap_fstat(int fd, struct stat* st) {
  return static_cast<int>(syscall(SYS_fstat, fd, st));
}
OW_HIDDEN int __wrap_fstat64(int fd, struct stat* st) {
  return static_cast<int>(syscall(SYS_fstat, fd, st));
}
OW_HIDDEN int __wrap_stat(const char* path, struct stat* st) {
  return static_cast<int>(syscall(SYS_stat, path, st));
}
OW_HIDDEN int __wrap_stat64(const char* path, struct stat* st) {
  return static_cast<int>(syscall(SYS_stat, path, st));
}
OW_HIDDEN int __wrap_lstat(const char* path, struct stat* st) {
  return static_cast<int>(syscall(SYS_lstat, path, st));
}
OW_HIDDEN int __wrap_lstat64(const char* path, struct stat* st) {
  return static_cast<int>(syscall(SYS_lstat, path, st));
}
OW_HIDDEN int __wrap_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(syscall(SYS_newfstatat, dirfd, path, st, flags));
}
OW_HIDDEN int __wrap_fstatat64(int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(syscall(SYS_newfstatat, dirfd, path, st, flags));
}

OW_HIDDEN int __wrap_pthread_cond_clockwait(pthread_cond_t* cond, pthread_mutex_t* mutex,
                                            clockid_t clock, const struct timespec* abstime) {
  if (clock == CLOCK_REALTIME) return pthread_cond_timedwait(cond, mutex, abstime);
  if (clock != CLOCK_MONOTONIC) return EINVAL;
  timespec now_clock{}, now_real{};
  clock_gettime(clock, &now_clock);
  clock_gettime(CLOCK_REALTIME, &now_real);
  std::int64_t left =
      (abstime->tv_sec - now_clock.tv_sec) * 1000000000LL + (abstime->tv_nsec - now_clock.tv_nsec);
  if (left < 0) left = 0;
  const std::int64_t due = now_real.tv_sec * 1000000000LL + now_real.tv_nsec + left;
  timespec until{};
  until.tv_sec = due / 1000000000LL;
  until.tv_nsec = due % 1000000000LL;
  return pthread_cond_timedwait(cond, mutex, &until);
}

// getrandom(2) (Linux 3.17); /dev/urandom where the kernel lacks it.
static int ow_random_bytes(void* out, std::size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    const long got = syscall(SYS_getrandom, p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != ENOSYS) return -1;
      const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      while (n > 0) {
        const ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          close(fd);
          return -1;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
      }
      close(fd);
      return 0;
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return 0;
}

OW_HIDDEN int __wrap_getentropy(void* buffer, std::size_t length) {
  if (length > 256) {
    errno = EIO;
    return -1;
  }
  return ow_random_bytes(buffer, length);
}

OW_HIDDEN std::uint32_t __wrap_arc4random(void) {
  std::uint32_t value = 0;
  while (ow_random_bytes(&value, sizeof value) != 0) {
  }
  return value;
}

namespace {
struct ThreadDtor {
  void (*fn)(void*);
  void* obj;
  ThreadDtor* next;
};
pthread_key_t dtor_key;
pthread_once_t dtor_key_once = PTHREAD_ONCE_INIT;

void run_thread_dtors(void* head) {
  // The key's value is already cleared; a destructor that registers another
  // object sets it again, and the key destructor then runs once more.
  for (auto* d = static_cast<ThreadDtor*>(head); d != nullptr;) {
    ThreadDtor* next = d->next;
    d->fn(d->obj);
    free(d);
    d = next;
  }
}

void make_dtor_key() { pthread_key_create(&dtor_key, run_thread_dtors); }
}  // namespace

OW_HIDDEN int __wrap___cxa_thread_atexit_impl(void (*fn)(void*), void* obj, void* /*dso*/) {
  pthread_once(&dtor_key_once, make_dtor_key);
  auto* d = static_cast<ThreadDtor*>(malloc(sizeof(ThreadDtor)));
  if (d == nullptr) return -1;
  d->fn = fn;
  d->obj = obj;
  d->next = static_cast<ThreadDtor*>(pthread_getspecific(dtor_key));
  if (pthread_setspecific(dtor_key, d) != 0) {
    free(d);
    return -1;
  }
  return 0;
}

}  // extern "C"

#endif
