/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd's protected processes (src/prlockd/procs.c): only ENOENT/ESRCH or another start time
 * mean "gone"; a reused PID (a process whose start time differs) is never signalled; a process
 * held since protect is still seen alive and signalled when no descriptor can be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "procs.h"

/* A child that waits to be killed. */
static struct protected_proc child(void)
{
	struct protected_proc p = {};
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	p.pid = pid;
	for (int i = 0; i < 1000 && proc_starttime(pid, &p.start) < 0; i++)
		usleep(1000);
	assert_int_equal(proc_starttime(pid, &p.start), 0);
	return p;
}

/* The signal that ended pid (reaped), or 0 if it still runs after 2 s. */
static int ended_by(pid_t pid)
{
	int status;

	for (int i = 0; i < 2000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		assert_true(r >= 0);
		if (r == pid)
			return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
		usleep(1000);
	}
	return 0;
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(proc_classify(-ENOENT, 0, 7), PROC_GONE);
	assert_int_equal(proc_classify(-ESRCH, 0, 7), PROC_GONE);
	assert_int_equal(proc_classify(0, 8, 7), PROC_GONE); /* a reused PID */
	assert_int_equal(proc_classify(0, 7, 7), PROC_ALIVE);
	/* could not tell: never "gone" (the issue: EMFILE read as gone skipped the SIGTERM) */
	assert_int_equal(proc_classify(-EMFILE, 0, 7), PROC_UNKNOWN);
	assert_int_equal(proc_classify(-ENFILE, 0, 7), PROC_UNKNOWN);
	assert_int_equal(proc_classify(-ENOMEM, 0, 7), PROC_UNKNOWN);
	assert_int_equal(proc_classify(-EIO, 0, 7), PROC_UNKNOWN);
	assert_int_equal(proc_classify(-EBADMSG, 0, 7), PROC_UNKNOWN);
	assert_int_equal(proc_classify(-EACCES, 0, 7), PROC_UNKNOWN);
}

static void test_starttime(void **state)
{
	unsigned long long start;
	struct protected_proc p = child();
	int status;

	(void)state;
	assert_int_equal(proc_starttime(getpid(), &start), 0);
	kill(p.pid, SIGKILL);
	/* a zombie is gone; a reaped one has no /proc entry */
	for (int i = 0; i < 2000 && proc_starttime(p.pid, &start) == 0; i++)
		usleep(1000);
	assert_int_equal(proc_starttime(p.pid, &start), -ESRCH);
	assert_int_equal(waitpid(p.pid, &status, 0), p.pid);
	assert_int_equal(proc_starttime(p.pid, &start), -ENOENT);
}

/* A PID whose process is not the one recorded (another start time) is not signalled. */
static void test_reused_pid(void **state)
{
	struct protected_proc p = child(), other = p;
	struct procs *ps;

	(void)state;
	assert_int_equal(procs_new(&ps), 0);
	other.start = p.start + 1; /* what the table recorded: an earlier process of this PID */
	assert_int_equal(procs_hold(ps, &other), -ESRCH);
	assert_int_equal(procs_status(ps, &other), PROC_GONE);
	assert_int_equal(procs_signal(ps, &other, SIGKILL), -ESRCH);
	assert_int_equal(procs_count_fds(ps), 0);
	assert_int_equal(ended_by(p.pid), 0); /* still running: not signalled */
	kill(p.pid, SIGKILL);
	assert_int_equal(ended_by(p.pid), SIGKILL);
	procs_free(ps);
}

/* Held, then dead and reaped: gone, and a signal finds nobody (the pidfd, not the PID). */
static void test_held_then_gone(void **state)
{
	struct protected_proc p = child();
	struct procs *ps;

	(void)state;
	assert_int_equal(procs_new(&ps), 0);
	assert_int_equal(procs_hold(ps, &p), 0);
	assert_int_equal(procs_count_fds(ps), 1);
	assert_int_equal(procs_status(ps, &p), PROC_ALIVE);
	kill(p.pid, SIGKILL);
	assert_int_equal(ended_by(p.pid), SIGKILL);
	assert_int_equal(procs_status(ps, &p), PROC_GONE);
	assert_int_equal(procs_signal(ps, &p, SIGTERM), -ESRCH);
	procs_free(ps);
}

static bool want_pid(void *userdata, const struct protected_proc *p)
{
	return p->pid == *(pid_t *)userdata;
}

/* A process held since protect is seen alive and signalled with no descriptor left (EMFILE). */
static void test_emfile(void **state)
{
	struct protected_proc held = child(), unheld = child();
	struct rlimit old, rl;
	struct procs *ps;
	int fds[4096], n = 0;

	(void)state;
	assert_int_equal(procs_new(&ps), 0);
	assert_int_equal(procs_hold(ps, &held), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 4096 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	assert_int_equal(errno, EMFILE);
	assert_int_equal(open("/proc/self/stat", O_RDONLY | O_CLOEXEC), -1);

	assert_int_equal(procs_status(ps, &held), PROC_ALIVE);
	/* not held and /proc unreadable: unknown, which the daemon treats as alive */
	assert_int_equal(procs_status(ps, &unheld), PROC_UNKNOWN);
	assert_int_equal(procs_signal(ps, &held, SIGTERM), 0);
	assert_int_equal(procs_signal(ps, &unheld, SIGTERM), 0); /* by PID: presumed alive */
	assert_int_equal(ended_by(held.pid), SIGTERM);
	assert_int_equal(ended_by(unheld.pid), SIGTERM);

	while (n > 0)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	procs_free(ps);
}

/* Pidfds of processes no lease names are closed; one signalled and alive stays (its SIGKILL). */
static void test_gc(void **state)
{
	struct protected_proc a = child(), b = child(), c = child();
	struct procs *ps;
	pid_t keep = a.pid;

	(void)state;
	assert_int_equal(procs_new(&ps), 0);
	assert_int_equal(procs_hold(ps, &a), 0);
	assert_int_equal(procs_hold(ps, &b), 0);
	assert_int_equal(procs_hold(ps, &c), 0);
	assert_int_equal(procs_signal(ps, &c, SIGCONT), 0);
	procs_gc(ps, want_pid, &keep);
	assert_int_equal(procs_count_fds(ps), 2); /* a (wanted), c (signalled, alive) */
	kill(c.pid, SIGKILL);
	assert_int_equal(ended_by(c.pid), SIGKILL);
	procs_gc(ps, want_pid, &keep);
	assert_int_equal(procs_count_fds(ps), 1);
	assert_int_equal(procs_signal(ps, &a, SIGKILL), 0);
	assert_int_equal(ended_by(a.pid), SIGKILL);
	kill(b.pid, SIGKILL);
	assert_int_equal(ended_by(b.pid), SIGKILL);
	procs_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),   cmocka_unit_test(test_starttime),
		cmocka_unit_test(test_reused_pid), cmocka_unit_test(test_held_then_gone),
		cmocka_unit_test(test_emfile),	   cmocka_unit_test(test_gc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
