/* C floor for scenario 10: how many scheduling calls per second can one thread make on another
 * thread of its process that sleeps? Creates a thread parked in pause(), then calls, back to back
 * for MS milliseconds:
 *   affinity  sched_setaffinity(tid) alternating between {CPU_A} and {CPU_B}
 *   sched     sched_setscheduler(tid, SCHED_OTHER, 0)
 * Prints {"calls":N,"elapsedNs":T}.
 *   sched_calls affinity|sched MS CPU_A CPU_B */
#define _GNU_SOURCE  // before any libc header: sched_setaffinity, CPU_SET

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static volatile pid_t target_tid;

static void *sleeper(void *arg) {
  (void)arg;
  target_tid = (pid_t)syscall(SYS_gettid);
  for (;;) pause();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: sched_calls affinity|sched MS CPU_A CPU_B\n");
    return 1;
  }
  int affinity = strcmp(argv[1], "affinity") == 0;
  if (!affinity && strcmp(argv[1], "sched") != 0) die("mode", EINVAL);
  uint64_t budget = (uint64_t)atoll(argv[2]) * 1000000ull;
  cpu_set_t sets[2];
  CPU_ZERO(&sets[0]);
  CPU_ZERO(&sets[1]);
  CPU_SET(atoi(argv[3]), &sets[0]);
  CPU_SET(atoi(argv[4]), &sets[1]);

  pthread_t th;
  int err = pthread_create(&th, NULL, sleeper, NULL);
  if (err) die("pthread_create", err);
  while (!target_tid) sched_yield();
  usleep(10000);  // let it reach pause()

  struct sched_param sp = {.sched_priority = 0};
  long calls = 0;
  uint64_t t0 = now_ns(), elapsed = 0;
  while (elapsed < budget) {
    for (int i = 0; i < 64; i++, calls++) {
      int r = affinity ? sched_setaffinity(target_tid, sizeof(cpu_set_t), &sets[calls & 1])
                       : sched_setscheduler(target_tid, SCHED_OTHER, &sp);
      if (r) die(affinity ? "sched_setaffinity" : "sched_setscheduler", errno);
    }
    elapsed = now_ns() - t0;
  }
  printf("{\"calls\":%ld,\"elapsedNs\":%llu}\n", calls, (unsigned long long)elapsed);
  return 0;  // exits the sleeping thread too
}
