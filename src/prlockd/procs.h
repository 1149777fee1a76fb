/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Protected processes held as pidfds (procs.c). A pidfd names one process for its whole life,
 * so a reused PID is never signalled and a loss needs no new file descriptor (no /proc read)
 * to signal a process held since `protect`. The lease table keeps (pid, start time) values;
 * this registry, of the daemon's main thread, maps them to their pidfds.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "table.h"

enum proc_status {
	PROC_GONE,    /* ENOENT/ESRCH, a zombie, or another start time: another process */
	PROC_ALIVE,   /* the process recorded */
	PROC_UNKNOWN, /* could not tell (EMFILE, ENOMEM, EIO...): treat as alive */
};

/* /proc/PID/stat starttime; -ESRCH for a zombie, -errno of open() or read() otherwise. */
int proc_starttime(pid_t pid, unsigned long long *ret);
/* What proc_starttime's r (and start, when r is 0) says of a process recorded with want. */
enum proc_status proc_classify(int r, unsigned long long start, unsigned long long want);
/*
 * Whether uid may signal PID itself (kill(2): its real or saved uid is uid), by the Uid line of
 * /proc/PID/status: 1 yes, 0 no, -errno (-ESRCH for a zombie) if it cannot be read.
 */
int proc_signallable_by(pid_t pid, uid_t uid);

struct procs;

int procs_new(struct procs **ret);
struct procs *procs_free(struct procs *ps);
/*
 * Open p's pidfd (once) and check p's start time after opening it. 0: held (or no pidfd
 * support in the kernel: held by PID only); -ESRCH: p is gone or its PID is another
 * process's now; another -errno: could not tell.
 */
int procs_hold(struct procs *ps, const struct protected_proc *p);
/* Is p alive? Opens its pidfd lazily (a process re-adopted from the state file). */
enum proc_status procs_status(struct procs *ps, const struct protected_proc *p);
/*
 * Send sig to p through its pidfd (opened lazily). -ESRCH when p is gone; when it cannot be
 * told (no pidfd, no /proc: EMFILE), p is presumed alive and signalled by PID.
 */
int procs_signal(struct procs *ps, const struct protected_proc *p, int sig);
/*
 * Close the pidfds of the processes wanted() no longer names, except those signalled and
 * still alive (a SIGKILL may be pending for them after their lease was forgotten).
 */
void procs_gc(struct procs *ps, bool (*wanted)(void *userdata, const struct protected_proc *p),
	      void *userdata);
/* How many pidfds are open (tests). */
size_t procs_count_fds(const struct procs *ps);
