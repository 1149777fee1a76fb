/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libsgpr internals: struct bodies, the transport vtable, internal helpers. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/types.h>

#include "sgpr.h"

/* One CDB round trip as the transport sees it. */
struct sgpr_cmd {
	const uint8_t *cdb;
	size_t cdb_len;
	enum sgpr_dir dir;
	void *data;
	size_t data_len;
	unsigned timeout_ms;
};

/*
 * Transport contract: execute() returns 0 whenever the target produced a
 * status (answered, status, sense, resid filled in). It returns -errno only if
 * the command never completed: -ENOTCONN (session lost or path down; the dev
 * layer may call reconnect()), -ETIMEDOUT, -ECOMM (other transport failure),
 * -ENODEV (device gone), -EPERM (not allowed to send this command). execute()
 * runs on the current path d->path.
 */
struct sgpr_transport_ops {
	const char *name;
	int (*open)(struct sgpr_dev *d, const char *target);
	/*
	 * Optional (NULL: -EPROTONOSUPPORT): wrap fd, an open block (is_char false) or char device
	 * whose device number is rdev (fstat of fd, done by the caller). The transport keeps a
	 * duplicate, never fd itself, and may replace d->target by a better name.
	 */
	int (*open_fd)(struct sgpr_dev *d, int fd, bool is_char, dev_t rdev);
	int (*execute)(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_status *ret);
	/* Optional: log in again on the same I_T nexus identity (same ISID), current path. */
	int (*reconnect)(struct sgpr_dev *d);
	void (*close)(struct sgpr_dev *d);
	/*
	 * Optional (NULL: one path): make path i (< d->npaths) the current one.
	 * Called by the dev layer after it changed d->path.
	 */
	int (*set_path)(struct sgpr_dev *d, unsigned i);
};

extern const struct sgpr_transport_ops sgpr_transport_iscsi;
extern const struct sgpr_transport_ops sgpr_transport_sgio;
extern const struct sgpr_transport_ops sgpr_transport_sim;

#define SGPR_DEFAULT_TIMEOUT_MS 10000u
#define SGPR_DEFAULT_UA_RETRIES 8u
#define SGPR_DEFAULT_BUSY_RETRIES 6u
#define SGPR_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define SGPR_RECONNECT_ATTEMPTS 3u
#define SGPR_PATHS_MAX 64u /* paths (I_T nexuses) of one handle */

/* One path (I_T nexus) of a handle with several, e.g. the /dev/sdX of a dm-multipath map. */
struct sgpr_path {
	char *name;
	int error; /* 0: working; else the -errno of the transport failure that failed it */
};

struct sgpr_dev {
	const struct sgpr_transport_ops *ops;
	void *priv; /* transport state */
	char *target;
	char *initiator;
	struct sgpr_dev_opts opts; /* initiator points at our copy; clock never NULL */

	/* Our registration on this nexus, re-established after a reconnect. */
	bool registered;
	uint64_t registered_key;
	uint64_t pending_key; /* new key of a REGISTER in flight, 0 if none */

	uint32_t prout_unsupported; /* bit per enum sgpr_prout_sa */
	uint32_t prin_unsupported;  /* bit per enum sgpr_prin_sa */
	bool in_recovery;	    /* no nested reconnect handling */
	int aptpl;		    /* REGISTER with APTPL: 0 not known yet, 1 yes, -1 no (pr.c) */

	struct sgpr_dev_stats stats;

	/*
	 * Paths (dev.c, "Paths"). npaths 0: a single-path transport, path 0 is the
	 * target. REGISTER and REGISTER AND IGNORE go to every working path, every
	 * other command to the current path, moving on when one fails.
	 */
	struct sgpr_path *paths;
	unsigned npaths;
	unsigned path; /* current path */
	char *lun_id;  /* "naa.<hex>", ... or NULL if unknown */
};

/* dev.c */
void sgpr_log(struct sgpr_dev *d, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const struct sgpr_clock *sgpr_clock_default(void);
/* Allocate a handle around ops without opening it (used by sgpr_dev_open and the sim). */
int sgpr_dev_new(const struct sgpr_transport_ops *ops, const char *target,
		 const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);
/* Append a path named name (the transport's open does this). -E2BIG past SGPR_PATHS_MAX. */
int sgpr_dev_add_path(struct sgpr_dev *d, const char *name);
/*
 * Unregister key (0: whatever key each path has, REGISTER AND IGNORE EXISTING KEY with 0) on
 * every path, failed ones included; strict: a path that did not answer is an error (it may
 * still carry a key). SPC-4 5.12.7. Never with key 0 on a holder's nexus.
 */
int sgpr_unregister_every_path(struct sgpr_dev *d, uint64_t key);
/* Make path i current (set_path); -EINVAL if out of range. */
int sgpr_dev_select_path(struct sgpr_dev *d, unsigned i);
/* Mark path i failed with error (-errno), or working with 0. */
void sgpr_dev_mark_path(struct sgpr_dev *d, unsigned i, int error);
/* Paths not marked failed (at least 1 for a single-path handle). */
unsigned sgpr_dev_working_paths(const struct sgpr_dev *d);
/* True if r and st describe a command that failed on its path, not at the target. */
bool sgpr_path_failure(int r, const struct sgpr_status *st);
/*
 * sgpr_dev_execute() on path i only: the UA/BUSY retries and the reconnect,
 * but no move to another path. The path is marked failed or working.
 */
int sgpr_dev_execute_path(struct sgpr_dev *d, unsigned i, const uint8_t *cdb, size_t cdb_len,
			  enum sgpr_dir dir, void *data, size_t data_len,
			  struct sgpr_status *reterr);

/*
 * vpd.c: the logical unit's name from INQUIRY VPD page 0x83 (SPC-4 7.8.6), association
 * "logical unit": "naa.<hex>" (NAA 6, 5, 2, 3 preferred in that order), else "eui.<hex>",
 * else a SCSI name string as is, else "t10.<vendor id>". Returns the length written,
 * -ENODATA if the page has no usable designator, -EBADMSG if malformed, -ENOBUFS.
 */
#define SGPR_LUN_ID_MAX 512 /* "naa." + 2 x 255 hex digits, and more than any other form */
int sgpr_vpd83_lun_id(const uint8_t *page, size_t len, char *buf, size_t buflen);
/* Read page 0x83 on path i and name the LUN as above; -errno of the command otherwise. */
int sgpr_dev_read_lun_id(struct sgpr_dev *d, unsigned i, char *buf, size_t buflen);

/* sense.c: what to do with a completed attempt. */
enum sgpr_disposition {
	SGPR_DISP_DONE,	      /* final: GOOD, conflict or an error */
	SGPR_DISP_RETRY_UA,   /* UNIT ATTENTION: the command did not run, resend */
	SGPR_DISP_RETRY_BUSY, /* BUSY, TASK SET FULL, NOT READY becoming ready: back off, resend */
};
enum sgpr_disposition sgpr_status_disposition(const struct sgpr_status *st);
/* Fill sense_valid/sense_key/asc/ascq from sense[] and sense_len. */
void sgpr_status_decode_sense(struct sgpr_status *st);

/* cdb.c: big-endian helpers */
static inline void sgpr_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}
static inline void sgpr_put_be32(uint8_t *p, uint32_t v)
{
	sgpr_put_be16(p, v >> 16);
	sgpr_put_be16(p + 2, v);
}
static inline void sgpr_put_be64(uint8_t *p, uint64_t v)
{
	sgpr_put_be32(p, v >> 32);
	sgpr_put_be32(p + 4, v);
}
static inline uint16_t sgpr_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t sgpr_get_be32(const uint8_t *p)
{
	return (uint32_t)sgpr_get_be16(p) << 16 | sgpr_get_be16(p + 2);
}
static inline uint64_t sgpr_get_be64(const uint8_t *p)
{
	return (uint64_t)sgpr_get_be32(p) << 32 | sgpr_get_be32(p + 4);
}

/*
 * sgio-resolve.c: a /dev path to the SCSI devices behind it, from sysfs (see the file).
 * sysroot NULL is "/sys"; the unit tests pass a fake tree.
 */
struct sgpr_sgio_path {
	char *devnode; /* "/dev/sdc", "/dev/sg2" (uevent DEVNAME) */
	char *syspath; /* the device's sysfs directory, links resolved */
	dev_t devnum;
	bool is_char;
};
struct sgpr_sgio_target {
	bool multipath; /* a dm-multipath map: paths are its slaves */
	char *name;	/* sysfs name of what was given: "sdc", "sg2", "dm-3" */
	unsigned npaths;
	struct sgpr_sgio_path *paths;
};
/* -ENOENT, -ENODEV, -ENOTBLK, -ENOTTY, -ENOMEM; on success free with sgpr_sgio_target_done(). */
int sgpr_sgio_resolve(const char *path, const char *sysroot, struct sgpr_sgio_target *ret);
int sgpr_sgio_resolve_devnum(const char *sysroot, bool is_char, dev_t devnum,
			     struct sgpr_sgio_target *ret);
void sgpr_sgio_target_done(struct sgpr_sgio_target *t);

/* sim transport (tests only): several nexuses on one in-memory LUN. See transport-sim.c. */
struct sgpr_sim_lun;

/*
 * iscsi-url.c: "iscsi://portal[:port]/target-name/lun" (pure, no libiscsi).
 * portal is an IPv4 address, a host name or a bracketed IPv6 address; no
 * userinfo, query, fragment or trailing slash; %XX escapes in the target name.
 */
#define SGPR_ISCSI_DEFAULT_PORT 3260
#define SGPR_ISCSI_LUN_MAX 16383

struct sgpr_iscsi_url {
	char *host; /* as written in the URL, without brackets; never empty */
	bool host_is_v6;
	uint16_t port;	  /* 1..65535, SGPR_ISCSI_DEFAULT_PORT if not given */
	char *target_iqn; /* %XX decoded, shorter than SGPR_ISCSI_NAME_MAX */
	int lun;	  /* 0..SGPR_ISCSI_LUN_MAX */
};
/*
 * Returns 0, -EINVAL (malformed) or -ENOMEM. On failure *ret is untouched and
 * nothing is allocated; on success free with sgpr_iscsi_url_done().
 */
int sgpr_iscsi_url_parse(const char *url, struct sgpr_iscsi_url *ret);
/* Frees the strings and zeroes *u; accepts NULL and a zeroed struct. */
void sgpr_iscsi_url_done(struct sgpr_iscsi_url *u);
/*
 * The fixed ISID of this host (iscsi-url.c): bytes 1..3 in *ret_rnd, the qualifier (bytes 4..5)
 * in *ret_qual, for iscsi_set_isid_random(). observer: the read-only role's distinct ISID.
 */
void sgpr_iscsi_isid(const char *initiator, uint16_t host_id, bool observer, uint32_t *ret_rnd,
		     uint16_t *ret_qual);
