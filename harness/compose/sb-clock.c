/* sb-clock: a wall-clock offset for one process (LD_PRELOAD), read from a file, for the
 * servers libfaketime cannot run.
 *
 * Why not libfaketime there: its set-up calls dlsym and allocates; a jemalloc-linked server
 * (trixie's Redis 8.0 and Valkey 8.1) asks for the time while jemalloc initialises, which
 * re-enters that set-up and deadlocks (libfaketime issue #130). Putting glibc's malloc first,
 * the cure on bookworm's Redis 7.0, crashes these servers: they call jemalloc's own API
 * (dallocx, sdallocx, mallctl) on memory glibc gave out.
 *
 * So this library never allocates, never calls dlsym and needs no set-up: it asks the
 * kernel for the time itself (the clock_gettime system call) and reads the offset file
 * with raw system calls at most every 100 ms. Only CLOCK_REALTIME (and its coarse form),
 * gettimeofday and time move: the monotonic clocks stay real, as an NTP step would leave
 * them. The file holds what `sb-node clock` writes: "+30s", "-1.5s", "+0s".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define RECHECK_NS (NS / 10)

static _Atomic int64_t offset_ns;
static _Atomic int64_t next_check_ns;

static int64_t kernel_ns(clockid_t id) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, id, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* "+30s", "-1.5s", "+0.114s" -> nanoseconds; 0 and *ok = 0 if it is none of those. */
static int64_t parse_offset(const char *s, long n, int *ok) {
  long i = 0;
  int64_t sign = 1, whole = 0, frac = 0, scale = NS;
  *ok = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  if (i >= n || s[i] < '0' || s[i] > '9') return 0;
  while (i < n && s[i] >= '0' && s[i] <= '9' && whole < 100000000000LL) whole = whole * 10 + (s[i++] - '0');
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      if (scale >= 10) { scale /= 10; frac += (s[i] - '0') * scale; }
  }
  if (i < n && s[i] == 's') i++;
  while (i < n && (s[i] == '\n' || s[i] == ' ')) i++;
  if (i != n) return 0;
  *ok = 1;
  return sign * (whole * NS + frac);
}

static void refresh(void) {
  int64_t now = kernel_ns(CLOCK_MONOTONIC);
  int64_t due = atomic_load(&next_check_ns);
  /* one thread re-reads; the others use the offset they have */
  if (now < due || !atomic_compare_exchange_strong(&next_check_ns, &due, now + RECHECK_NS)) return;
  const char *path = getenv("SB_CLOCK_FILE");
  if (!path) return;
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[64];
  long n = syscall(SYS_read, fd, buf, sizeof buf);
  syscall(SYS_close, fd);
  int ok;
  int64_t v = n > 0 ? parse_offset(buf, n, &ok) : (ok = 0);
  if (ok) atomic_store(&offset_ns, v);
}

static int64_t wall_ns(void) {
  refresh();
  return kernel_ns(CLOCK_REALTIME) + atomic_load(&offset_ns);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  long r = syscall(SYS_clock_gettime, id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    refresh();
    int64_t t = (int64_t)ts->tv_sec * NS + ts->tv_nsec + atomic_load(&offset_ns);
    ts->tv_sec = t / NS;
    ts->tv_nsec = t % NS;
    if (ts->tv_nsec < 0) { ts->tv_nsec += NS; ts->tv_sec -= 1; }
  }
  return (int)r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;   /* obsolete; glibc ignores it too */
  int64_t t = wall_ns();
  tv->tv_sec = t / NS;
  tv->tv_usec = (t % NS) / 1000;
  if (tv->tv_usec < 0) { tv->tv_usec += 1000000; tv->tv_sec -= 1; }
  return 0;
}

time_t time(time_t *out) {
  int64_t t = wall_ns();
  time_t s = (time_t)(t / NS - (t % NS < 0));
  if (out) *out = s;
  return s;
}
