/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sg transport: SG_IO on SCSI block devices (/dev/sdX) and sg char devices
 * (/dev/sgN) through libsgutils2's sg_pt layer (1.46), which gives the status
 * byte, the full sense data, the residual and a per-command timeout.
 *
 * sgio-resolve.c turns the path into devices: one for a disk or an sg device,
 * one per path for a dm-multipath map, each an I_T nexus and a path of the
 * handle. open() reports them (struct sgpr_opened) with what udev knows of the
 * LUN: ID_WWN_WITH_EXTENSION/ID_WWN (same form as page 0x83 NAA) and
 * ID_SERIAL; dev.c names the LUN from them or from INQUIRY VPD page 0x83,
 * chooses the path and passes it to execute() (REGISTER goes to every path,
 * pr.c). There is no reconnect(): the kernel owns the sessions, and a path
 * that fails is left to the dev layer's path choice.
 *
 * Errors of execute():
 *   -ENODEV     the device is gone (ENODEV, ENXIO from SG_IO) or its open failed
 *   -EPERM      SG_IO refused the command (EPERM, EACCES): PERSISTENT RESERVE IN/OUT are
 *               not on the kernel's SG_IO allow list and need CAP_SYS_RAWIO
 *   -ETIMEDOUT  the command timed out (host status DID_TIME_OUT, SCSI_PT_DO_TIMEOUT,
 *               ETIMEDOUT, or a driver error after the whole timeout)
 *   -ENOTCONN   the path is down: host status DID_NO_CONNECT, DID_BAD_TARGET,
 *               DID_TRANSPORT_DISRUPTED, DID_TRANSPORT_FAILFAST, DID_TRANSPORT_MARGINAL
 *   -ECOMM      any other host or driver status, OS error, or SG_IO answer without status
 *   -EINTR      SG_IO was interrupted by a signal (the command may still run)
 *   -ENOMEM, -EINVAL (sg_pt refused the request), -ENOTTY (the fd does not take SG_IO)
 *
 * libsgutils2 keeps lazily initialised globals (the bsg/NVMe char major, the sg driver
 * version) that are filled by the first sg_pt object made on an fd: that is serialized
 * here. As everywhere in libsgpr, one handle belongs to one thread at a time.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libudev.h>
#include <scsi/sg_pt.h>

#include "sgpr-private.h"

/* Linux host byte (include/scsi/scsi_status.h enum host_status) */
enum {
	DID_NO_CONNECT = 0x01,
	DID_TIME_OUT = 0x03,
	DID_BAD_TARGET = 0x04,
	DID_TRANSPORT_DISRUPTED = 0x0e,
	DID_TRANSPORT_FAILFAST = 0x0f,
	DID_TRANSPORT_MARGINAL = 0x14,
};

struct sgpr_sgio {
	unsigned nslots; /* slots used so far (a dropped path's slot is reused) */
	dev_t map;	 /* the dm-multipath map the paths are of; 0: a single device */
	/* per path, made at its first command and reused: no lock, fstat() or calloc() each time */
	struct sg_pt_base *pts[SGPR_PATHS_MAX];
	dev_t devnums[SGPR_PATHS_MAX]; /* a map's path: its block device; 0: free slot */
	bool used[SGPR_PATHS_MAX];
	bool extra[SGPR_PATHS_MAX]; /* added by name (sgpr_dev_add_path()), not a slave (yet) */
	int fds[SGPR_PATHS_MAX]; /* per path, -1 if its open failed; a path's tp points at its fd */
};

static pthread_mutex_t sg_pt_lock = PTHREAD_MUTEX_INITIALIZER;

static struct sgpr_sgio *sgio(const struct sgpr_dev *d)
{
	return d && d->ops == &sgpr_transport_sgio ? d->priv : NULL;
}

static int map_os_error(int e)
{
	switch (e) {
	case ENODEV:
	case ENXIO:
		return -ENODEV;
	case EPERM:
	case EACCES:
		return -EPERM;
	case ETIMEDOUT:
	case ENOMEM:
	case EINVAL:
	case ENOTTY:
	case EINTR:
		return -e;
	default:
		return -ECOMM;
	}
}

static int map_host_status(int host, bool whole_timeout)
{
	switch (host) {
	case DID_TIME_OUT:
		return -ETIMEDOUT;
	case DID_NO_CONNECT:
	case DID_BAD_TARGET:
	case DID_TRANSPORT_DISRUPTED:
	case DID_TRANSPORT_FAILFAST:
	case DID_TRANSPORT_MARGINAL:
		return -ENOTCONN;
	case 0: /* a driver status alone */
		return whole_timeout ? -ETIMEDOUT : -ECOMM;
	default:
		return -ECOMM;
	}
}

static struct sg_pt_base *pt_new(int fd, int *ret_err)
{
	struct sg_pt_base *pt;

	/* the first object on an fd fills libsgutils2's lazy globals: one thread at a time */
	pthread_mutex_lock(&sg_pt_lock);
	pt = construct_scsi_pt_obj_with_fd(fd, 0);
	pthread_mutex_unlock(&sg_pt_lock);
	if (!pt) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	if (get_scsi_pt_os_err(pt)) {
		*ret_err = map_os_error(get_scsi_pt_os_err(pt));
		destruct_scsi_pt_obj(pt);
		return NULL;
	}
	return pt;
}

static int sgio_execute(struct sgpr_dev *d, const struct sgpr_path *path,
			const struct sgpr_cmd *cmd, struct sgpr_status *ret)
{
	unsigned timeout_s = (cmd->timeout_ms + 999) / 1000;
	struct sg_pt_base *pt;
	int fd, res, r = 0;
	unsigned pi;

	if (!sgio(d) || !path || !path->tp)
		return -EINVAL;
	fd = *(const int *)path->tp;
	if (fd < 0)
		return -ENODEV;
	if (cmd->data_len > INT32_MAX)
		return -EINVAL;
	pi = (unsigned)((const int *)path->tp - sgio(d)->fds);
	pt = sgio(d)->pts[pi];
	if (pt) {
		clear_scsi_pt_obj(pt); /* keeps the fd and its type */
	} else {
		pt = pt_new(fd, &r);
		if (!pt)
			return r;
		sgio(d)->pts[pi] = pt;
	}
	set_scsi_pt_cdb(pt, cmd->cdb, (int)cmd->cdb_len);
	set_scsi_pt_sense(pt, ret->sense, SGPR_SENSE_MAX);
	if (cmd->dir == SGPR_DIR_IN)
		set_scsi_pt_data_in(pt, cmd->data, (int)cmd->data_len);
	else if (cmd->dir == SGPR_DIR_OUT)
		set_scsi_pt_data_out(pt, cmd->data, (int)cmd->data_len);

	ret->answered = false;
	ret->sense_valid = false;
	ret->sense_len = 0;
	ret->resid = 0;
	res = do_scsi_pt(pt, -1, timeout_s ? (int)timeout_s : 1, 0);
	if (res < 0) {
		r = map_os_error(-res);
	} else if (res == SCSI_PT_DO_TIMEOUT) {
		r = -ETIMEDOUT;
	} else if (res == SCSI_PT_DO_BAD_PARAMS) {
		r = -EINVAL;
	} else if (res > 0) {
		r = -ECOMM;
	} else {
		switch (get_scsi_pt_result_category(pt)) {
		case SCSI_PT_RESULT_OS_ERR:
			r = map_os_error(get_scsi_pt_os_err(pt));
			break;
		case SCSI_PT_RESULT_TRANSPORT_ERR:
			r = map_host_status(get_scsi_pt_transport_err(pt) & 0xff,
					    (unsigned)get_scsi_pt_duration_ms(pt) >=
						    cmd->timeout_ms);
			break;
		default: {
			int sl = get_scsi_pt_sense_len(pt), resid = get_scsi_pt_resid(pt);

			ret->answered = true;
			ret->status = (uint8_t)get_scsi_pt_status_response(pt);
			ret->sense_len = sl > 0 ? (sl < SGPR_SENSE_MAX ? sl : SGPR_SENSE_MAX) : 0;
			if (cmd->dir == SGPR_DIR_IN && resid > 0)
				ret->resid = (uint32_t)resid > cmd->data_len
						     ? (uint32_t)cmd->data_len
						     : (uint32_t)resid;
			if (ret->sense_len)
				sgpr_status_decode_sense(ret);
			break;
		}
		}
	}
	return r;
}

/* Open a device node and check that it is still the device sysfs described. */
static int open_node(const char *node, const struct sgpr_sgio_path *path)
{
	struct stat st;
	int fd;

	fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM))
		/* SG_IO with CAP_SYS_RAWIO works on a read-only fd too */
		fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		switch (errno) {
		case EACCES:
		case EPERM:
			return -EACCES;
		case ENXIO:
		case ENODEV:
		case ENOMEDIUM:
			return -ENODEV;
		default:
			return -errno;
		}
	}
	if (fstat(fd, &st) < 0 || st.st_rdev != path->devnum ||
	    (path->is_char ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode))) {
		close(fd);
		return -ENODEV; /* replaced between the lookup and the open */
	}
	return fd;
}

/* Our own descriptor of the caller's open device: its flags are shared, never changed here. */
static int dup_fd(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return r < 0 ? -errno : r;
}

/* udev's WWN in the "naa.<hex>" form of page 0x83, or its serial; false if it has neither. */
static bool udev_lun_id(const struct sgpr_sgio_path *path, bool serial, char *buf, size_t len)
{
	struct udev_device *dev = NULL;
	struct udev *udev;
	const char *v = NULL;
	bool ok = false;

	udev = udev_new();
	if (udev)
		dev = udev_device_new_from_devnum(udev, path->is_char ? 'c' : 'b', path->devnum);
	if (dev && serial) {
		v = udev_device_get_property_value(dev, "ID_SERIAL");
		ok = v && *v && (size_t)snprintf(buf, len, "serial.%s", v) < len;
	} else if (dev) {
		v = udev_device_get_property_value(dev, "ID_WWN_WITH_EXTENSION");
		if (!v)
			v = udev_device_get_property_value(dev, "ID_WWN");
		if (v && strncmp(v, "0x", 2) == 0 && v[2] &&
		    strspn(v + 2, "0123456789abcdefABCDEF") == strlen(v + 2)) {
			ok = strlen(v + 2) + 5 <= len;
			if (ok) {
				snprintf(buf, len, "naa.%s", v + 2);
				for (char *c = buf; *c; c++)
					if (*c >= 'A' && *c <= 'F')
						*c = (char)(*c - 'A' + 'a');
			}
		}
	}
	udev_device_unref(dev);
	udev_unref(udev);
	return ok;
}

/* What udev knows of the LUN behind path: its WWN and its serial, for dev.c to name it. */
static int udev_names(const struct sgpr_sgio_path *path, struct sgpr_opened_path *ret)
{
	char id[SGPR_LUN_ID_MAX];

	if (udev_lun_id(path, false, id, sizeof(id))) {
		ret->lun_id = strdup(id);
		if (!ret->lun_id)
			return -ENOMEM;
	}
	if (udev_lun_id(path, true, id, sizeof(id))) {
		ret->lun_serial = strdup(id);
		if (!ret->lun_serial)
			return -ENOMEM;
	}
	return 0;
}

static void slot_close(struct sgpr_sgio *p, unsigned i)
{
	if (p->pts[i])
		destruct_scsi_pt_obj(p->pts[i]);
	if (p->fds[i] >= 0)
		close(p->fds[i]);
	p->pts[i] = NULL;
	p->fds[i] = -1;
	p->devnums[i] = 0;
	p->used[i] = false;
	p->extra[i] = false;
}

static void sgio_close(struct sgpr_dev *d)
{
	struct sgpr_sgio *p = sgio(d);

	if (!p)
		return;
	for (unsigned i = 0; i < p->nslots; i++)
		slot_close(p, i);
	free(p);
	d->priv = NULL;
}

/*
 * Open path into slot i of p (slot_open(): the first free one) and describe it in *op. A path
 * that cannot be opened is reported (op->error) and keeps its slot; -errno only when nothing
 * can be reported.
 */
static int slot_open_at(struct sgpr_dev *d, struct sgpr_sgio *p, unsigned i,
			const struct sgpr_sgio_path *path, bool multipath, const char *target,
			int given_fd, struct sgpr_opened_path *op)
{
	int fd, r;

	if (i >= SGPR_PATHS_MAX)
		return -E2BIG;
	op->name = strdup(path->devnode);
	if (!op->name)
		return -ENOMEM;
	/* a disk or sg device is opened by the name given, a map's paths by theirs */
	if (multipath)
		fd = open_node(path->devnode, path);
	else if (given_fd >= 0)
		fd = dup_fd(given_fd);
	else
		fd = open_node(target, path);
	if (i == p->nslots)
		p->nslots++;
	p->used[i] = true;
	p->devnums[i] = path->devnum;
	op->tp = &p->fds[i];
	if (fd < 0) {
		sgpr_log(d, LOG_WARNING, "%s: cannot open path %s: %s", target, path->devnode,
			 strerror(-fd));
		op->error = fd;
		return 0;
	}
	r = udev_names(path, op);
	if (r < 0) {
		close(fd);
		return r;
	}
	p->fds[i] = fd;
	return 0;
}

static int slot_open(struct sgpr_dev *d, struct sgpr_sgio *p, const struct sgpr_sgio_path *path,
		     bool multipath, const char *target, int given_fd, struct sgpr_opened_path *op)
{
	unsigned i = 0;

	while (i < p->nslots && p->used[i])
		i++;
	return slot_open_at(d, p, i, path, multipath, target, given_fd, op);
}

/*
 * Open the paths of t and report them in *ret. given_fd >= 0: the caller's fd of the disk or
 * sg device itself (sgpr_dev_open_fd), duplicated for a single device; a map's paths are always
 * opened by their names. target is only for the messages.
 */
static int sgio_attach(struct sgpr_dev *d, const struct sgpr_sgio_target *t, const char *target,
		       int given_fd, struct sgpr_opened *ret)
{
	struct sgpr_sgio *p;
	int r = 0;

	if (t->npaths > SGPR_PATHS_MAX)
		return -E2BIG;
	p = calloc(1, sizeof(*p));
	ret->paths = calloc(t->npaths, sizeof(*ret->paths));
	if (!p || !ret->paths) {
		free(p);
		free(ret->paths);
		ret->paths = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < SGPR_PATHS_MAX; i++)
		p->fds[i] = -1;
	p->map = t->multipath ? t->devnum : 0;
	d->priv = p;
	ret->npaths = t->npaths;
	ret->name_lun = true;

	for (unsigned i = 0; i < t->npaths && r >= 0; i++)
		r = slot_open(d, p, &t->paths[i], t->multipath, target, given_fd, &ret->paths[i]);
	if (r < 0)
		sgio_close(d); /* dev.c frees *ret */
	return r < 0 ? r : 0;
}

/*
 * A map's paths now (its slaves in sysfs): the paths of d that left it are marked in gone, the
 * new ones opened into added. The map itself gone: every path is.
 */
static int sgio_refresh(struct sgpr_dev *d, bool *gone, struct sgpr_opened *added)
{
	struct sgpr_sgio *p = sgio(d);
	struct sgpr_sgio_target t = {};
	bool keep[SGPR_PATHS_MAX] = {};
	unsigned n = 0;
	int r;

	if (!p || !p->map)
		return -EOPNOTSUPP;
	r = sgpr_sgio_resolve_devnum(NULL, false, p->map, &t);
	if (r == -ENODEV)
		t = (struct sgpr_sgio_target){.multipath = true}; /* the map was removed */
	else if (r < 0)
		return r;
	if (!t.multipath) {
		sgpr_sgio_target_done(&t);
		return -ENODEV; /* the number is another device's now */
	}
	added->paths = calloc(t.npaths ?: 1, sizeof(*added->paths));
	if (!added->paths) {
		sgpr_sgio_target_done(&t);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < t.npaths && r >= 0; k++) {
		bool known = false;

		for (unsigned i = 0; i < p->nslots && !known; i++)
			if (p->used[i] && p->devnums[i] == t.paths[k].devnum)
				known = keep[i] = true;
		if (known)
			continue;
		r = slot_open(d, p, &t.paths[k], true, d->target, -1, &added->paths[n]);
		if (r >= 0 || added->paths[n].tp)
			n++; /* slot taken: dev.c drops it on an error */
	}
	added->npaths = n;
	for (unsigned i = 0; i < d->npaths; i++) {
		unsigned slot = (unsigned)((const int *)d->paths[i].tp - p->fds);
		char sys[64];

		if (slot >= SGPR_PATHS_MAX) {
			gone[i] = true;
			continue;
		}
		if (keep[slot])
			p->extra[slot] = false; /* a slave now */
		/* a path added by name stays while its disk exists, slave or not */
		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(p->devnums[slot]),
			 minor(p->devnums[slot]));
		gone[i] = !keep[slot] && !(p->extra[slot] && access(sys, F_OK) == 0);
	}
	sgpr_sgio_target_done(&t);
	return r < 0 ? r : 0;
}

/* A whole SCSI disk of the map's LUN that is not its slave yet (multipathd adds it later). */
static int sgio_add_path(struct sgpr_dev *d, const char *node, struct sgpr_opened *added)
{
	struct sgpr_sgio *p = sgio(d);
	struct sgpr_sgio_target t = {};
	unsigned i;
	int r;

	if (!p || !p->map)
		return -EOPNOTSUPP;
	r = sgpr_sgio_resolve(node, NULL, &t);
	if (r < 0)
		return r;
	if (t.multipath || t.npaths != 1 || t.paths[0].is_char) {
		sgpr_sgio_target_done(&t);
		return -ENOTBLK;
	}
	added->paths = calloc(1, sizeof(*added->paths));
	if (!added->paths) {
		sgpr_sgio_target_done(&t);
		return -ENOMEM;
	}
	for (i = 0; i < p->nslots; i++)
		if (p->used[i] && p->devnums[i] == t.paths[0].devnum)
			break;
	if (i < p->nslots) {
		/*
		 * A disk added under the number of one of our paths: that one was removed (a
		 * number is not added twice), its fd is of the dead device. Open the new one in
		 * its place: dev.c keeps the path (1: reopened, not added).
		 */
		bool extra = p->extra[i];

		slot_close(p, i);
		r = slot_open_at(d, p, i, &t.paths[0], true, d->target, -1, &added->paths[0]);
		p->extra[i] = extra;
		sgpr_sgio_target_done(&t);
		if (added->paths[0].tp)
			added->npaths = 1;
		return r < 0 ? r : 1;
	}
	r = slot_open(d, p, &t.paths[0], true, d->target, -1, &added->paths[0]);
	if (added->paths[0].tp) {
		added->npaths = 1;
		p->extra[(const int *)added->paths[0].tp - p->fds] = true;
	}
	sgpr_sgio_target_done(&t);
	return r;
}

static void sgio_drop_path(struct sgpr_dev *d, void *tp)
{
	struct sgpr_sgio *p = sgio(d);
	unsigned slot;

	if (!p || !tp)
		return;
	slot = (unsigned)((const int *)tp - p->fds);
	if (slot < p->nslots)
		slot_close(p, slot);
}

static int sgio_open(struct sgpr_dev *d, const char *target, const void *arg,
		     struct sgpr_opened *ret)
{
	struct sgpr_sgio_target t;
	int r;

	r = sgpr_sgio_resolve(target, NULL, &t);
	if (r < 0)
		return r;
	r = sgio_attach(d, &t, target, -1, ret);
	sgpr_sgio_target_done(&t);
	return r;
}

/* "/dev/NAME" if that node is the device rdev here, else NULL (the handle stays "fd:N"). */
static char *node_name(const char *name, bool is_char, dev_t rdev)
{
	struct stat st;
	char *node;

	if (asprintf(&node, "/dev/%s", name) < 0)
		return NULL;
	if (stat(node, &st) < 0 || st.st_rdev != rdev ||
	    (is_char ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode))) {
		free(node);
		return NULL;
	}
	return node;
}

static int sgio_open_fd(struct sgpr_dev *d, int fd, bool is_char, dev_t rdev,
			struct sgpr_opened *ret)
{
	struct sgpr_sgio_target t;
	char *name;
	int r;

	r = sgpr_sgio_resolve_devnum(NULL, is_char, rdev, &t);
	if (r < 0)
		return r;
	/* a map is named by its sysfs name (dm-N), a disk or sg device by its uevent DEVNAME */
	if (t.multipath)
		name = node_name(t.name, is_char, rdev);
	else
		name = node_name(t.paths[0].devnode + strlen("/dev/"), is_char, rdev);
	ret->target = name; /* dev.c renames the handle */
	r = sgio_attach(d, &t, name ? name : d->target, fd, ret);
	sgpr_sgio_target_done(&t);
	return r;
}

const struct sgpr_transport_ops sgpr_transport_sgio = {
	.name = "sg",
	.open = sgio_open,
	.open_fd = sgio_open_fd,
	.execute = sgio_execute,
	.close = sgio_close,
	.refresh = sgio_refresh,
	.add_path = sgio_add_path,
	.drop_path = sgio_drop_path,
};
