/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd: the paths of held dm-multipath maps follow the block devices (docs/MULTIPATH.md).
 *
 * A libudev monitor on the block subsystem's kernel uevents, not udevd's: they come before udevd
 * has run its rules and so before multipathd (which waits for udevd's event) can put a new disk
 * in a map, and they need no udevd (a container, an initramfs). What an event is comes from
 * sysfs (a map's dm/uuid); SGPR_KIND of udev/65-sgpr.rules is used when an event carries it.
 * What counts:
 *   a SCSI disk added       tried as a path of every held map (its LUN is checked by page 0x83
 *                           on a worker), so that it carries the lease's key before multipathd
 *                           puts it in the map
 *   a SCSI disk removed     the maps drop the paths that are gone
 *   a map changed           (dmsetup reload/resume, multipathd) its slaves are read again
 * Each makes the held maps renew at once, the paths first (table_paths_changed()): the main
 * loop never touches a device. A flapping or hostile device cannot make prlockd loop: the
 * table hears of changes at most once per PATHS_INTERVAL_MS, and at most PATHS_NEW_MAX added
 * disks per interval are tried (the others are still re-read from the maps' slaves).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libudev.h>

#include "prlockd.h"

#define PATHS_INTERVAL_MS 1000u
#define PATHS_NEW_MAX TABLE_PATHS_NEW_MAX

struct paths {
	struct udev *udev;
	struct udev_monitor *mon;
	bool pending;	  /* a change not told to the table yet */
	uint64_t last_ms; /* when the table was last told */
	char added[PATHS_NEW_MAX][TABLE_PATH_NAME_MAX];
	unsigned n_added;
	struct log_limit skipped_log;
};

int paths_open(struct daemon *dm)
{
	struct paths *p = calloc(1, sizeof(*p));
	const char *source = "kernel"; /* ahead of udevd and multipathd, and without them */

	dm->paths_fd = -1;
	if (!p)
		return -ENOMEM;
	p->skipped_log.what = "paths: added disks over the limit";
	p->udev = udev_new();
	if (p->udev)
		p->mon = udev_monitor_new_from_netlink(p->udev, source);
	if (!p->mon ||
	    udev_monitor_filter_add_match_subsystem_devtype(p->mon, "block", "disk") < 0 ||
	    udev_monitor_enable_receiving(p->mon) < 0) {
		int r = errno ? -errno : -ENOMEM;

		log_msg(LOG_WARNING,
			"Cannot watch block devices (%s events): %s; a path added to a held "
			"multipath map is registered at the next renewal only if it joined the map",
			source, strerror(-r));
		udev_monitor_unref(p->mon);
		udev_unref(p->udev);
		free(p);
		return 0; /* not fatal: the renewal still heals a path that joined */
	}
	dm->paths = p;
	dm->paths_fd = udev_monitor_get_fd(p->mon);
	log_msg(LOG_DEBUG, "watching block devices through %s events", source);
	return 0;
}

void paths_close(struct daemon *dm)
{
	struct paths *p = dm->paths;

	if (!p)
		return;
	udev_monitor_unref(p->mon);
	udev_unref(p->udev);
	free(p);
	dm->paths = NULL;
	dm->paths_fd = -1;
}

/* One event: does it change the paths of a map? Added SCSI disks are remembered. */
static void paths_one(struct paths *p, struct udev_device *d)
{
	const char *action = udev_device_get_action(d), *name = udev_device_get_sysname(d);
	const char *node = udev_device_get_devnode(d), *kind, *uuid;

	if (!action || !name)
		return;
	kind = udev_device_get_property_value(d, "SGPR_KIND");
	if (strncmp(name, "dm-", 3) == 0) {
		if (strcmp(action, "change") != 0)
			return;
		/* SGPR_KIND "mpath" from the rules, else the map's uuid in sysfs */
		uuid = kind ? NULL : udev_device_get_sysattr_value(d, "dm/uuid");
		if ((kind && strcmp(kind, "mpath") == 0) ||
		    (uuid && strncmp(uuid, "mpath-", 6) == 0))
			p->pending = true;
		return;
	}
	if (strncmp(name, "sd", 2) != 0)
		return;
	if (strcmp(action, "remove") == 0) {
		p->pending = true;
		return;
	}
	if (strcmp(action, "add") != 0 || !node)
		return;
	p->pending = true;
	for (unsigned i = 0; i < p->n_added; i++)
		if (strcmp(p->added[i], node) == 0)
			return;
	if (p->n_added >= PATHS_NEW_MAX || strlen(node) >= TABLE_PATH_NAME_MAX) {
		log_limited(&p->skipped_log, LOG_WARNING,
			    "%s added: more than %u disks within %u ms, not tried before it joins "
			    "a map",
			    node, PATHS_NEW_MAX, PATHS_INTERVAL_MS);
		return;
	}
	snprintf(p->added[p->n_added++], TABLE_PATH_NAME_MAX, "%s", node);
}

void paths_event(struct daemon *dm)
{
	struct paths *p = dm->paths;
	struct udev_device *d;

	if (!p)
		return;
	/* the socket is non-blocking: every queued event, then back to poll */
	for (unsigned n = 0; n < 256 && (d = udev_monitor_receive_device(p->mon)); n++) {
		paths_one(p, d);
		udev_device_unref(d);
	}
}

uint64_t paths_next_wakeup(const struct daemon *dm)
{
	const struct paths *p = dm->paths;

	if (!p || !p->pending)
		return UINT64_MAX;
	return p->last_ms + PATHS_INTERVAL_MS;
}

/* Tell the table, at most once per interval (before table_tick(): the maps are due now). */
void paths_tick(struct daemon *dm)
{
	struct paths *p = dm->paths;
	uint64_t now = mono_ms();

	if (!p)
		return;
	log_limit_flush(&p->skipped_log);
	if (!p->pending || now < p->last_ms + PATHS_INTERVAL_MS)
		return;
	if (!p->n_added)
		table_paths_changed(dm->table, NULL);
	for (unsigned i = 0; i < p->n_added; i++)
		table_paths_changed(dm->table, p->added[i]);
	p->n_added = 0;
	p->pending = false;
	p->last_ms = now;
}
