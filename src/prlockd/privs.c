/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Privileges after start (docs/prlockd.md, "Privileges"), with raw syscalls (no libcap):
 * called once the sockets are open and before any thread starts, because capset() changes
 * only the calling thread and new threads inherit from it.
 *
 * Kept: CAP_SYS_RAWIO (SG_IO PERSISTENT RESERVE on block devices, leases and QEMU's fds alike)
 * and, only with loss_action = kill, CAP_KILL (the loss action signals protected processes of
 * any user; a hook is prlockd's own child and needs none). Not kept: CAP_SYS_ADMIN: libsgpr
 * recognises dm-multipath maps through sysfs, not DM ioctls, and opens their paths by name,
 * which needs access to the /dev nodes (uid 0 owns them; another --user needs the disk group),
 * not a capability. Everything else is dropped from the bounding set too (when prlockd may, i.e.
 * has CAP_SETPCAP), and PR_SET_NO_NEW_PRIVS is set, so a loss hook started later cannot regain
 * any (no set-uid or file capabilities).
 *
 * --user/--group: setresgid/setresuid with PR_SET_KEEPCAPS, supplementary groups dropped (as
 * qemu-pr-helper does); main.c gave STATE_DIR/state to that user before.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "prlockd.h"

/* CAP_KILL only while the loss action signals processes itself */
static bool kept(const struct daemon *dm, int cap)
{
	return cap == CAP_SYS_RAWIO || (cap == CAP_KILL && !dm->hook);
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};

	return syscall(SYS_capget, &h, data) < 0 ? -errno : 0;
}

static int caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};

	return syscall(SYS_capset, &h, data) < 0 ? -errno : 0;
}

static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

int lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_primary_gid)
{
	struct passwd *pw = getpwnam(name);
	char *end;
	unsigned long v = strtoul(name, &end, 10);

	if (pw) {
		*ret_uid = pw->pw_uid;
		*ret_primary_gid = pw->pw_gid;
		return 1;
	}
	if (!*name || *end || v >= (uid_t)-1)
		return -ENOENT;
	*ret_uid = (uid_t)v;
	return 0;
}

int lookup_group(const char *name, gid_t *ret_gid)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long v = strtoul(name, &end, 10);

	if (g) {
		*ret_gid = g->gr_gid;
		return 0;
	}
	if (!*name || *end || v >= (gid_t)-1)
		return -ENOENT;
	*ret_gid = (gid_t)v;
	return 0;
}

int drop_privileges(struct daemon *dm)
{
	struct __user_cap_data_struct cur[2] = {}, want[2] = {};
	int r, last = last_cap();

	if (dm->keep_privileges)
		return 0;
	r = caps_get(cur);
	if (r < 0) {
		log_msg(LOG_ERR, "capget: %s", strerror(-r));
		return r;
	}
	if ((dm->drop_user || dm->drop_group) && !has_cap(cur, CAP_SETUID)) {
		log_msg(LOG_ERR, "--user/--group need CAP_SETUID and CAP_SETGID (run as root)");
		return -EPERM;
	}
	if (has_cap(cur, CAP_SETPCAP))
		for (int cap = 0; cap <= last; cap++)
			if (!kept(dm, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno != EINVAL) {
				r = -errno;
				log_msg(LOG_ERR,
					"Failed to drop capability %d from the bounding set: %m",
					cap);
				return r;
			}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (dm->drop_user || dm->drop_group) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
		    (dm->drop_group && setresgid(dm->run_gid, dm->run_gid, dm->run_gid) < 0) ||
		    (dm->drop_user && setresuid(dm->run_uid, dm->run_uid, dm->run_uid) < 0)) {
			r = -errno;
			log_msg(LOG_ERR, "Failed to change user/group: %m");
			return r;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	/* effective = permitted = kept ∩ what we had; nothing inheritable */
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		unsigned bit = 1u << (cap % 32);

		if (kept(dm, cap) && (cur[cap / 32].permitted & bit)) {
			want[cap / 32].permitted |= bit;
			want[cap / 32].effective |= bit;
		}
	}
	r = caps_set(want);
	if (r < 0) {
		log_msg(LOG_ERR, "capset: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to set no_new_privs: %m");
		return r;
	}
	log_msg(LOG_INFO, "Privileges dropped: uid %u, gid %u, capabilities %s%s, no_new_privs",
		(unsigned)getuid(), (unsigned)getgid(),
		want[0].permitted & (1u << CAP_SYS_RAWIO) ? "cap_sys_rawio " : "",
		want[0].permitted & (1u << CAP_KILL) ? "cap_kill" : "");
	return 0;
}
