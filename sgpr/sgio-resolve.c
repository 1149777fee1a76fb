/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * From a /dev path to the SCSI devices the sg transport sends commands to, by
 * walking sysfs (the same files libudev reads; no udevd needed):
 *
 *   /dev/sdX, /dev/disk/by-*\/...  a whole SCSI disk: one path
 *   /dev/sgN                       an sg char device of a SCSI device: one path
 *   /dev/dm-N, /dev/mapper/NAME    a dm-multipath map (dm/uuid "mpath-..."): one path per
 *                                  entry of /sys/block/dm-N/slaves, each a whole SCSI disk
 *
 * Refused: a partition or a partition map of a multipath map ("partN-mpath-...", made by
 * kpartx) -ENOTBLK; anything that is not a block or char device, a char device that is not
 * scsi_generic, a block device without a SCSI device behind it (loop, NVMe, virtio-blk, md),
 * a dm device of another target (LVM, crypt, ...) -ENOTTY; a device node without a device in
 * sysfs, a map without paths -ENODEV; no such file -ENOENT.
 *
 * The sysfs root is a parameter so the unit tests can walk a fake tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sgpr-private.h"

#define ATTR_MAX 512

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static bool exists(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	bool r;

	if (!p)
		return false;
	r = access(p, F_OK) == 0;
	free(p);
	return r;
}

/* One line of dir/name without the newline. */
static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char *p = path_join(dir, name);
	ssize_t n;
	int fd;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The value of KEY= in dir/uevent. */
static int uevent_get(const char *dir, const char *key, char *buf, size_t len)
{
	char *p = path_join(dir, "uevent"), line[ATTR_MAX];
	size_t kl = strlen(key);
	int r = -ENOENT;
	FILE *f;

	if (!p)
		return -ENOMEM;
	f = fopen(p, "re");
	free(p);
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			if (strlen(line + kl + 1) >= len) {
				r = -ENAMETOOLONG;
				break;
			}
			strcpy(buf, line + kl + 1);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* realpath() of dir/name, -ENOENT/-ENODEV style errors as -errno. */
static int resolve_link(const char *dir, const char *name, char **ret)
{
	char *p = path_join(dir, name), *r;

	if (!p)
		return -ENOMEM;
	r = realpath(p, NULL);
	free(p);
	if (!r)
		return -errno;
	*ret = r;
	return 0;
}

/* The basename of the subsystem link of a sysfs device directory. */
static int subsystem_of(const char *dir, char *buf, size_t len)
{
	char *s = NULL;
	int r;

	r = resolve_link(dir, "subsystem", &s);
	if (r < 0)
		return r;
	if (strlen(base_name(s)) >= len) {
		free(s);
		return -ENAMETOOLONG;
	}
	strcpy(buf, base_name(s));
	free(s);
	return 0;
}

/* A SCSI device (scsi_device class) is the parent: sd and sg both have a "device" link to it. */
static bool has_scsi_device(const char *dir)
{
	return exists(dir, "device/scsi_device");
}

static int add_path(struct sgpr_sgio_target *t, const char *syspath, bool is_char)
{
	char devname[ATTR_MAX], dev[64];
	struct sgpr_sgio_path *v, *p;
	unsigned maj, min;

	if (read_attr(syspath, "dev", dev, sizeof(dev)) < 0 ||
	    sscanf(dev, "%u:%u", &maj, &min) != 2)
		return -ENODEV;
	if (uevent_get(syspath, "DEVNAME", devname, sizeof(devname)) < 0)
		snprintf(devname, sizeof(devname), "%s", base_name(syspath));
	v = realloc(t->paths, (t->npaths + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->paths = v;
	p = &v[t->npaths];
	*p = (struct sgpr_sgio_path){.devnum = makedev(maj, min), .is_char = is_char};
	p->syspath = strdup(syspath);
	if (asprintf(&p->devnode, "/dev/%s", devname) < 0)
		p->devnode = NULL;
	if (!p->syspath || !p->devnode) {
		free(p->syspath);
		free(p->devnode);
		return -ENOMEM;
	}
	t->npaths++;
	return 0;
}

/* A whole SCSI disk: not a partition, a SCSI device behind it. */
static int check_scsi_disk(const char *dir)
{
	if (exists(dir, "partition"))
		return -ENOTBLK;
	if (!has_scsi_device(dir))
		return -ENOTTY;
	return 0;
}

/* "part1-mpath-3600..." : kpartx's partition maps of a multipath map */
static bool is_part_map(const char *uuid)
{
	size_t n = strspn(uuid + 4, "0123456789");

	return strncmp(uuid, "part", 4) == 0 && n && uuid[4 + n] == '-';
}

static int resolve_multipath(const char *dir, struct sgpr_sgio_target *t)
{
	struct dirent **names = NULL;
	char *slaves = path_join(dir, "slaves");
	int n, r = 0;

	if (!slaves)
		return -ENOMEM;
	n = scandir(slaves, &names, NULL, alphasort);
	if (n < 0) {
		r = -errno;
		free(slaves);
		return r == -ENOENT ? -ENODEV : r;
	}
	for (int i = 0; i < n; i++) {
		char *sdir = NULL;

		if (r < 0 || names[i]->d_name[0] == '.')
			goto next;
		r = resolve_link(slaves, names[i]->d_name, &sdir);
		if (r < 0) {
			r = r == -ENOENT ? -ENODEV : r;
			goto next;
		}
		r = check_scsi_disk(sdir);
		if (r == -ENOTBLK)
			r = -ENOTTY; /* a map over partitions is not a map of SCSI paths */
		if (r >= 0)
			r = add_path(t, sdir, false);
		free(sdir);
	next:
		free(names[i]);
	}
	free(names);
	free(slaves);
	if (r >= 0 && !t->npaths)
		r = -ENODEV;
	if (r >= 0)
		t->multipath = true;
	return r;
}

int sgpr_sgio_resolve_devnum(const char *sysroot, bool is_char, dev_t devnum,
			     struct sgpr_sgio_target *ret)
{
	struct sgpr_sgio_target t = {};
	char link[64], attr[ATTR_MAX], *root, *dir = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	snprintf(link, sizeof(link), "dev/%s/%u:%u", is_char ? "char" : "block", major(devnum),
		 minor(devnum));
	root = strdup(sysroot ? sysroot : "/sys");
	if (!root)
		return -ENOMEM;
	r = resolve_link(root, link, &dir);
	free(root);
	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	t.name = strdup(base_name(dir));
	t.devnum = devnum;
	if (!t.name) {
		r = -ENOMEM;
		goto out;
	}

	if (is_char) {
		r = subsystem_of(dir, attr, sizeof(attr));
		if (r < 0 || strcmp(attr, "scsi_generic") != 0 || !has_scsi_device(dir)) {
			r = -ENOTTY;
			goto out;
		}
		r = add_path(&t, dir, true);
		goto out;
	}
	if (exists(dir, "partition")) {
		r = -ENOTBLK;
		goto out;
	}
	if (read_attr(dir, "dm/uuid", attr, sizeof(attr)) >= 0) {
		if (strncmp(attr, "mpath-", 6) == 0)
			r = resolve_multipath(dir, &t);
		else
			r = is_part_map(attr) ? -ENOTBLK : -ENOTTY;
		goto out;
	}
	r = check_scsi_disk(dir);
	if (r >= 0)
		r = add_path(&t, dir, false);
out:
	free(dir);
	if (r < 0) {
		sgpr_sgio_target_done(&t);
		return r;
	}
	*ret = t;
	return 0;
}

int sgpr_sgio_resolve(const char *path, const char *sysroot, struct sgpr_sgio_target *ret)
{
	struct stat st;

	if (!path || !ret)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -ENOTTY;
	return sgpr_sgio_resolve_devnum(sysroot, S_ISCHR(st.st_mode), st.st_rdev, ret);
}

void sgpr_sgio_target_done(struct sgpr_sgio_target *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->npaths; i++) {
		free(t->paths[i].devnode);
		free(t->paths[i].syspath);
	}
	free(t->paths);
	free(t->name);
	*t = (struct sgpr_sgio_target){};
}
