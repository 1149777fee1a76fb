/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lunlock.h"

static int mkdir_p(const char *dir)
{
	char buf[4096], *p;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* "<readable prefix>-<FNV-1a 64 of the whole identity>.lock": unique, short, no slashes. */
static void lock_name(const char *id, char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char prefix[41];
	size_t n = 0;

	for (const unsigned char *c = (const unsigned char *)id; *c; c++) {
		h = (h ^ *c) * 0x100000001b3ull;
		if (n < sizeof(prefix) - 1)
			prefix[n++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
							     (*c >= '0' && *c <= '9') ||
							     *c == '.' || *c == '-'
						     ? *c
						     : '_');
	}
	prefix[n] = 0;
	snprintf(buf, len, "%s-%016llx.lock", prefix, (unsigned long long)h);
}

int lun_lock(struct sgpr_dev *d, uint16_t host_id, const char *what, pid_t *ret_pid)
{
	const char *dir = getenv("SGPR_LOCK_DIR") ?: SGPR_LOCK_DIR_DEFAULT;
	const char *id = sgpr_dev_lun_id(d) ?: sgpr_dev_target(d);
	char name[96], path[4200], line[128], hid[8];
	struct stat st, dst;
	ssize_t n;
	int fd, r;

	*ret_pid = 0;
	r = mkdir_p(dir);
	if (r < 0)
		return r;
	lock_name(id, name, sizeof(name));
	snprintf(hid, sizeof(hid), "%u", host_id);
	snprintf(path, sizeof(path), "%s/host%s-%s", dir, hid, name);
	/*
	 * The directory may belong to prlockd's run user (prlockd --user) while root runs
	 * prlock run: each may hold the other's file, read-only if it must (flock needs no write).
	 */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0 &&
	     (stat(dir, &dst) < 0 || st.st_uid != dst.st_uid))) {
		close(fd);
		return -EPERM; /* planted by someone else */
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(fd, line, sizeof(line) - 1, 0);
		if (n > 0) {
			line[n] = 0;
			*ret_pid = (pid_t)strtol(line, NULL, 10);
		}
		close(fd);
		return r;
	}
	n = snprintf(line, sizeof(line), "%d %s %s\n", (int)getpid(), what, id);
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return fd; /* another user's file: locked, our pid not recorded */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
