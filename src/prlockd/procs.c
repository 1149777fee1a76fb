/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Protected processes held as pidfds (procs.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procs.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct held_proc {
	struct protected_proc p;
	int fd; /* -1: the kernel has no pidfds (ENOSYS), signalled by PID */
	bool signalled;
};

struct procs {
	struct held_proc *v;
	size_t n;
};

/* /proc/PID/NAME into buf (NUL-terminated): its length, or -errno. */
static ssize_t read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

int proc_starttime(pid_t pid, unsigned long long *ret)
{
	char buf[1024], *p;
	ssize_t n;
	int field;

	n = read_proc_file(pid, "stat", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ESRCH; /* exited between open and read */
	/* "PID (comm) S ppid ...": comm may hold spaces and parentheses; field 22 is starttime */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EBADMSG;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH; /* exited, not reaped yet */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -EBADMSG;
	*ret = strtoull(p, NULL, 10);
	return 0;
}

int proc_signallable_by(pid_t pid, uid_t uid)
{
	char buf[4096], *p;
	unsigned long ruid, euid, suid;
	ssize_t n;

	n = read_proc_file(pid, "status", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	p = strstr(buf, "\nUid:");
	if (!p)
		return n == 0 ? -ESRCH : -EBADMSG;
	if (sscanf(p + 5, "%lu %lu %lu", &ruid, &euid, &suid) != 3)
		return -EBADMSG;
	return ruid == uid || suid == uid;
}

enum proc_status proc_classify(int r, unsigned long long start, unsigned long long want)
{
	if (r == -ENOENT || r == -ESRCH)
		return PROC_GONE;
	if (r < 0)
		return PROC_UNKNOWN;
	return start == want ? PROC_ALIVE : PROC_GONE;
}

static enum proc_status status_by_pid(const struct protected_proc *p)
{
	unsigned long long start = 0;
	int r = proc_starttime(p->pid, &start);

	return proc_classify(r, start, p->start);
}

int procs_new(struct procs **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct procs *procs_free(struct procs *ps)
{
	if (!ps)
		return NULL;
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].fd >= 0)
			close(ps->v[i].fd);
	free(ps->v);
	free(ps);
	return NULL;
}

static struct held_proc *find(struct procs *ps, const struct protected_proc *p)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].p.pid == p->pid && ps->v[i].p.start == p->start)
			return &ps->v[i];
	return NULL;
}

int procs_hold(struct procs *ps, const struct protected_proc *p)
{
	unsigned long long start = 0;
	struct held_proc *n;
	enum proc_status st;
	int fd, r;

	if (find(ps, p))
		return 0;
	fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0 && errno != ENOSYS)
		return errno == ESRCH ? -ESRCH : -errno;
	/* after the open: a process that still has p's start time is the one the pidfd names */
	r = proc_starttime(p->pid, &start);
	st = proc_classify(r, start, p->start);
	if (st != PROC_ALIVE) {
		r = st == PROC_GONE ? -ESRCH : r;
		if (fd >= 0)
			close(fd);
		return r;
	}
	n = realloc(ps->v, (ps->n + 1) * sizeof(*n));
	if (!n) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	ps->v = n;
	ps->v[ps->n++] = (struct held_proc){.p = *p, .fd = fd};
	return 0;
}

/* A pidfd is readable once its process has exited. */
static enum proc_status status_by_fd(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r = poll(&pfd, 1, 0);

	if (r < 0)
		return PROC_UNKNOWN;
	return r > 0 && (pfd.revents & (POLLIN | POLLHUP)) ? PROC_GONE : PROC_ALIVE;
}

enum proc_status procs_status(struct procs *ps, const struct protected_proc *p)
{
	struct held_proc *h = find(ps, p);
	int r;

	if (h && h->fd >= 0)
		return status_by_fd(h->fd);
	if (h)
		return status_by_pid(p);
	r = procs_hold(ps, p);
	if (r == 0)
		return PROC_ALIVE;
	if (r == -ESRCH)
		return PROC_GONE;
	return status_by_pid(p); /* no pidfd (EMFILE...): what /proc says, if it can */
}

int procs_signal(struct procs *ps, const struct protected_proc *p, int sig)
{
	struct held_proc *h = find(ps, p);
	int r;

	if (!h) {
		r = procs_hold(ps, p);
		if (r == -ESRCH)
			return r;
		h = r == 0 ? find(ps, p) : NULL;
	}
	if (h && h->fd >= 0) {
		h->signalled = true;
		return syscall(SYS_pidfd_send_signal, h->fd, sig, NULL, 0) < 0 ? -errno : 0;
	}
	if (h)
		h->signalled = true;
	/* no pidfd: by PID unless /proc tells it is another process (unknown: presumed alive) */
	if (status_by_pid(p) == PROC_GONE)
		return -ESRCH;
	return kill(p->pid, sig) < 0 ? -errno : 0;
}

void procs_gc(struct procs *ps, bool (*wanted)(void *userdata, const struct protected_proc *p),
	      void *userdata)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++) {
		struct held_proc *h = &ps->v[i];
		bool keep = wanted(userdata, &h->p);

		if (!keep && h->signalled)
			keep = (h->fd >= 0 ? status_by_fd(h->fd) : status_by_pid(&h->p)) !=
			       PROC_GONE;
		if (keep) {
			ps->v[n++] = *h;
			continue;
		}
		if (h->fd >= 0)
			close(h->fd);
	}
	ps->n = n;
}

size_t procs_count_fds(const struct procs *ps)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->v[i].fd >= 0;
	return n;
}
