/*
 * core-process-init: PID 1 of a child's PID namespace (issue 29; docs/sandbox.md).
 *
 * The spawn's clone child is PID 1 of the new namespace and execs this file, so that a real
 * init, not the program, carries the namespace: the kernel delivers to PID 1 only signals it
 * has a handler for (pid_namespaces(7)), so a program there would shrug off SIGTERM, and it
 * would never reap the orphans that reparent to it. This file:
 *   - forks the program (PID 2) and execs it, reporting an exec failure through the spawn's
 *     report pipe in the clone child's 12-byte format, so a failed spawn stays synchronous;
 *   - forwards every signal it is sent (TERM INT HUP QUIT USR1 USR2 WINCH CONT TSTP ... all
 *     but the ones the kernel forces: SIGKILL and SIGSTOP reach only this process, as with
 *     tini) to the program;
 *   - reaps every process that reparents to it;
 *   - when the program ends, writes its raw wait status (4 bytes) to the status pipe, which
 *     the addon reads to report the program's exact code or signal and core flag, and exits.
 *     Exiting kills the rest of the namespace (the kernel SIGKILLs it when PID 1 dies);
 *   - re-arms PR_SET_PDEATHSIG (a uid change before exec clears it), so it dies with the
 *     spawning thread, and the namespace with it.
 *
 * Plain C, no allocation, linked statically where the build can (no libc surprises on musl,
 * and nothing for a Landlock read rule to miss): it runs after the sandbox is in place.
 *
 * argv: init <report fd> <status fd> <death signal> <program path> <argv0> [args...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

/* The clone child's stage number for execve (native/child_linux.h, kStageExec). */
enum { kStageExec = 7 };

static int ParseInt(const char* s) {
  int v = 0;
  if (*s == '\0') return -1;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9' || v > 100000) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

static void WriteAll(int fd, const void* buf, size_t len) {
  const char* p = (const char*)buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

/* The signals a fault raises must stay deliverable, or a fault here would loop. */
static void BlockableSignals(sigset_t* set) {
  sigfillset(set);
  sigdelset(set, SIGSEGV);
  sigdelset(set, SIGBUS);
  sigdelset(set, SIGILL);
  sigdelset(set, SIGFPE);
  sigdelset(set, SIGTRAP);
  sigdelset(set, SIGSYS);
  sigdelset(set, SIGABRT);
}

/* In the forked program child: only the report pipe's CLOEXEC copy goes with it. */
static void RunProgram(int reportFd, int statusFd, char** argv) {
  close(statusFd);
  if (fcntl(reportFd, F_SETFD, FD_CLOEXEC) != 0) _exit(127);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, NULL);
  execve(argv[0], argv + 1, environ);
  int msg[3] = {kStageExec, errno, 0};
  WriteAll(reportFd, msg, sizeof msg);
  _exit(127);
}

int main(int argc, char** argv) {
  if (argc < 6) return 127;
  int reportFd = ParseInt(argv[1]);
  int statusFd = ParseInt(argv[2]);
  int deathSignal = ParseInt(argv[3]);
  if (reportFd < 3 || statusFd < 3 || deathSignal < 0 || deathSignal > 64) return 127;

  sigset_t forwarded;
  BlockableSignals(&forwarded);
  if (sigprocmask(SIG_SETMASK, &forwarded, NULL) != 0) return 127;

  if (deathSignal != 0) {
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)deathSignal, 0, 0, 0) != 0) return 127;
    /* getppid() is 0 in a new namespace; the spawner still holds the report pipe's read end
     * (it reads until the program execs), so POLLERR on our write end means it is gone. */
    struct pollfd p = {reportFd, 0, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & POLLERR) != 0) return 128 + deathSignal;
  }

  pid_t program = fork();
  if (program < 0) {
    int msg[3] = {kStageExec, errno, 0};
    WriteAll(reportFd, msg, sizeof msg);
    return 127;
  }
  if (program == 0) RunProgram(reportFd, statusFd, argv + 4);
  close(reportFd);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&forwarded, &info);
    if (sig < 0) continue; /* EINTR only: the set is valid */
    if (sig != SIGCHLD) {
      kill(program, sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break; /* 0: others live on; -1 ECHILD: none left */
      if (pid != program) continue;
      WriteAll(statusFd, &status, sizeof status);
      /* Our own exit carries what it can; the status pipe carries the exact status. */
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
