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
 * One path (I_T nexus) of a handle with several, e.g. the /dev/sdX of a dm-multipath map. The
 * transport makes the paths at open (struct sgpr_opened); dev.c keeps them and chooses among
 * them, and hands the chosen one back to execute().
 */
struct sgpr_path {
	char *name;
	void *tp;  /* the transport's state of this path (its fd, its nexus), owned by d->priv */
	int error; /* 0: working; else the -errno of the transport failure that failed it */
};

/* What a transport's open found, for dev.c to take over (dev.c frees it). */
struct sgpr_opened_path {
	char *name;
	void *tp;
	int error;	  /* its open failed with this -errno: the path starts failed */
	char *lun_id;	  /* the LUN's name without a command (udev's WWN), or NULL: page 0x83 */
	char *lun_serial; /* the name to use when page 0x83 gives none, or NULL */
};
struct sgpr_opened {
	char *target;	 /* a better name for the handle than the one it was opened by, or NULL */
	bool name_lun;	 /* dev.c names the LUN from VPD page 0x83 (the sim's LUNs are not named) */
	unsigned npaths; /* 0: a one-nexus handle, the target itself (execute() gets path NULL) */
	struct sgpr_opened_path *paths;
};

/*
 * Transport contract. The transport is the bottom layer: it never calls into
 * dev.c or above (it logs through sgpr_log() and reads d->opts and d->target).
 *
 * execute() sends one CDB on path (NULL on a one-nexus handle) and returns 0
 * whenever the target produced a status (answered, status, sense, resid
 * filled in). It returns -errno only if the command never completed:
 * -ENOTCONN (session lost or path down; the dev layer may call reconnect()),
 * -ETIMEDOUT, -ECOMM (other transport failure), -ENODEV (device gone), -EPERM
 * (not allowed to send this command).
 */
struct sgpr_transport_ops {
	const char *name;
	/* arg: the sim's LUN and nexus names (sgpr_sim_open()), NULL otherwise. */
	int (*open)(struct sgpr_dev *d, const char *target, const void *arg,
		    struct sgpr_opened *ret);
	/*
	 * Optional (NULL: -EPROTONOSUPPORT): wrap fd, an open block (is_char false) or char device
	 * whose device number is rdev (fstat of fd, done by the caller). The transport keeps a
	 * duplicate, never fd itself, and may give the handle a better name (ret->target).
	 */
	int (*open_fd)(struct sgpr_dev *d, int fd, bool is_char, dev_t rdev,
		       struct sgpr_opened *ret);
	int (*execute)(struct sgpr_dev *d, const struct sgpr_path *path, const struct sgpr_cmd *cmd,
		       struct sgpr_status *ret);
	/* Optional: log in again on the same I_T nexus identity (same ISID). */
	int (*reconnect)(struct sgpr_dev *d, const struct sgpr_path *path);
	/*
	 * Paths of a dm-multipath map now (sgpr_dev_refresh_paths()): *gone[i] true for each
	 * d->paths[i] no longer in the map, *added the paths new to it, opened as open() does.
	 * NULL or -EOPNOTSUPP: a handle without a map. drop_path() closes one path's tp.
	 */
	int (*refresh)(struct sgpr_dev *d, bool *gone, struct sgpr_opened *added);
	/* Open the disk node as one more path of a map (sgpr_dev_add_path()) into *added. */
	int (*add_path)(struct sgpr_dev *d, const char *node, struct sgpr_opened *added);
	void (*drop_path)(struct sgpr_dev *d, void *tp);
	void (*close)(struct sgpr_dev *d);
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

/*
 * A handle, in layers (docs/LAYERS.md): the transport's state (priv), the
 * device layer's paths and counters (dev.c), and the PR layer's memory of our
 * registration and of what the LUN refused (pr, pr.c). Each layer writes only
 * its own part.
 */
struct sgpr_dev {
	const struct sgpr_transport_ops *ops;
	void *priv; /* transport state */
	char *target;
	char *initiator;
	struct sgpr_dev_opts opts; /* initiator points at our copy; clock never NULL */

	/* pr.c: our registration on this nexus, re-established after a new login */
	struct {
		bool registered;
		uint64_t registered_key;
		uint64_t pending_key;	    /* new key of a REGISTER in flight, 0 if none */
		uint32_t prout_unsupported; /* bit per enum sgpr_prout_sa */
		uint32_t prin_unsupported;  /* bit per enum sgpr_prin_sa */
		bool in_recovery; /* commands of the recovery: no nested new login, no tracking */
		int aptpl;	  /* REGISTER with APTPL: 0 not known yet, 1 yes, -1 no */
	} pr;

	struct sgpr_dev_stats stats; /* dev.c, but for recoveries (pr.c) */

	/*
	 * Paths (dev.c, "Paths"). npaths 0: a single-path transport, path 0 is the
	 * target. REGISTER and REGISTER AND IGNORE go to every working path (pr.c),
	 * every other command to the current path, moving on when one fails.
	 */
	struct sgpr_path *paths;
	unsigned npaths;
	unsigned path; /* current path */
	char *lun_id;  /* "naa.<hex>", ... or NULL if unknown */
};

/* log.c: through d->opts.log_fn; every layer logs this way. */
void sgpr_log(struct sgpr_dev *d, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* dev.c: the device layer, below the PR commands and above the transports. */
const struct sgpr_clock *sgpr_clock_default(void);

/*
 * opts.c: copy a caller's options struct that starts with "size_t size" into dst (dst_size
 * bytes, this library's sizeof). A smaller (older) size leaves the fields it lacks zero, their
 * defaults; a larger (newer) one is taken only when the bytes past dst_size are zero. NULL src:
 * all zero. dst->size becomes dst_size. -EINVAL for a size below sizeof(size_t), -E2BIG for a
 * nonzero unknown tail or a size above SGPR_OPTS_SIZE_MAX.
 */
#define SGPR_OPTS_SIZE_MAX 4096u
int sgpr_opts_copy(void *dst, size_t dst_size, const void *src);
/* 0 if every byte of buf is zero, else -EINVAL (reserved fields) */
int sgpr_check_zero(const void *buf, size_t len);
/*
 * Make a handle on ops and open it: ops->open(arg) reports the paths, dev.c takes them, names
 * the LUN (with ops' name_lun) and starts on the first working path. sgpr_dev_open() and the
 * sim's constructors use it.
 */
int sgpr_dev_open_ops(const struct sgpr_transport_ops *ops, const char *target, const void *arg,
		      const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);
/* Make path i current; -EINVAL if out of range. */
int sgpr_dev_select_path(struct sgpr_dev *d, unsigned i);
/* Paths not marked failed (at least 1 for a single-path handle). */
unsigned sgpr_dev_working_paths(const struct sgpr_dev *d);
/* True if r and st describe a command that failed on its path, not at the target. */
bool sgpr_path_failure(int r, const struct sgpr_status *st);

/*
 * One command's progress through the device layer. The caller zeroes it, sets no_reconnect,
 * and keeps it across the calls it makes after SGPR_EXEC_RELOGGED. The rest is dev.c's: the
 * retry counts on the current path and the walk over the paths of a multipath handle.
 */
struct sgpr_exec {
	bool no_reconnect; /* in: never log in again (the commands of a recovery) */
	int after_login;   /* in, after SGPR_EXEC_RELOGGED: 0 resend, -errno: the result */
	/* dev.c */
	bool relogged;
	unsigned attempts, uas, busy, reconnects;
	struct sgpr_status st;
	bool walking;
	int pass;
	unsigned k, start;
	uint64_t tried;
};
/*
 * Returned by sgpr_dev_exec*(): the path lost its session and logged in again (stats.reconnects
 * counted it); the command has not completed. The caller re-establishes what the new login may
 * have lost (pr.c: our registration), puts the outcome in after_login and calls again, which
 * resends the command on the same path, with the same retry counts.
 */
#define SGPR_EXEC_RELOGGED 1
/*
 * One command: UNIT ATTENTION and BUSY retries, a new login when the session is lost, and on a
 * multipath handle the move to the next working path when one fails (see dev.c).
 */
int sgpr_dev_exec(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_exec *ex,
		  struct sgpr_status *reterr);
/* The same on path i only (no move to another path); the path is marked failed or working. */
int sgpr_dev_exec_path(struct sgpr_dev *d, unsigned i, const struct sgpr_cmd *cmd,
		       struct sgpr_exec *ex, struct sgpr_status *reterr);
/* A struct sgpr_cmd for the handle's timeout; -EINVAL for the arguments sgpr_dev_execute() refuses.
 */
int sgpr_dev_cmd(const struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len, enum sgpr_dir dir,
		 void *data, size_t data_len, struct sgpr_cmd *ret);

/*
 * pr.c: the PR commands, above the device layer. Every command sent on a handle goes through
 * here (sgpr_dev_execute() too), so our registration is re-established after a new login
 * before the command is resent.
 *
 * sgpr_dev_execute() on path i only: the UA/BUSY retries, the new login and the
 * recovery, but no move to another path. The path is marked failed or working.
 */
int sgpr_dev_execute_path(struct sgpr_dev *d, unsigned i, const uint8_t *cdb, size_t cdb_len,
			  enum sgpr_dir dir, void *data, size_t data_len,
			  struct sgpr_status *reterr);
/*
 * Unregister key (0: whatever key each path has, REGISTER AND IGNORE EXISTING KEY with 0) on
 * every path, failed ones included; strict: a path that did not answer is an error (it may
 * still carry a key). SPC-4 5.12.7. Never with key 0 on a holder's nexus.
 */
int sgpr_unregister_every_path(struct sgpr_dev *d, uint64_t key);

/*
 * vpd.c: the logical unit's name from INQUIRY VPD page 0x83 (SPC-4 7.8.6), association
 * "logical unit": "naa.<hex>" (NAA 6, 5, 2, 3 preferred in that order), else "eui.<hex>",
 * else a SCSI name string as is, else "t10.<vendor id>". Returns the length written,
 * -ENODATA if the page has no usable designator, -EBADMSG if malformed, -ENOBUFS.
 */
#define SGPR_LUN_ID_MAX 516 /* "t10." + 2 x 255 hex digits + NUL: the longest form */
int sgpr_vpd83_lun_id(const uint8_t *page, size_t len, char *buf, size_t buflen);
#define SGPR_VPD_ALLOC_FIRST 252u /* page 0x83 is read with this first, */
#define SGPR_VPD_ALLOC_MAX 4096u  /* and again with what it announces, up to this */

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
	dev_t devnum;	/* its device number */
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
/*
 * The errno of a refused iSCSI login (iscsi-url.c) from libiscsi's error text, which carries the
 * login status (RFC 7143 10.13.5) only as "...Status: <words>(<class << 8 | detail>)":
 *   02/03 target not found, 02/04 target removed    -ENXIO
 *   any other class 02 (initiator error), no status  -EACCES
 *   03/01 service unavailable                        -EHOSTDOWN (LIO's answer for a target name
 *                                                    it does not have, or one being torn down)
 *   any other status (target error, redirect)        -ECOMM
 */
int sgpr_iscsi_login_errno(const char *error_text);
