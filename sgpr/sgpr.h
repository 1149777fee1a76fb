/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsgpr: SCSI-3 persistent reservations (SPC-4 5.12, 6.15, 6.16).
 *
 * Every fallible function returns 0 (or a positive count) on success and a
 * negative errno on failure. The library never prints and never exits.
 * SCSI outcomes map to fixed errnos:
 *   RESERVATION CONFLICT                          -EBADE
 *   ILLEGAL REQUEST 20/00, 24/00, 26/00 (feature) -EOPNOTSUPP
 *   other ILLEGAL REQUEST                         -EINVAL
 *   UNIT ATTENTION / BUSY / NOT READY after retry -EAGAIN
 *   other CHECK CONDITION, a read-back that does
 *   not confirm the change                        -EIO
 *   transport lost / timed out / other failure    -ENOTCONN / -ETIMEDOUT / -ECOMM
 * Each errno has one meaning; sgpr_err_kind() sorts them into what a caller
 * does next (the table is in errclass.c). The status byte and sense of the
 * last attempt are returned through the optional "reterr" struct sgpr_status
 * argument.
 *
 * A struct sgpr_dev belongs to one thread at a time.
 */
#ifndef SGPR_H
#define SGPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported functions; plain declarations for other compilers. */
#if defined(__GNUC__)
#define SGPR_PUBLIC __attribute__((visibility("default")))
#else
#define SGPR_PUBLIC
#endif

/* PERSISTENT RESERVE OUT service actions, SPC-4 6.16.2 table 218 */
enum sgpr_prout_sa {
	SGPR_PROUT_REGISTER = 0x00,
	SGPR_PROUT_RESERVE = 0x01,
	SGPR_PROUT_RELEASE = 0x02,
	SGPR_PROUT_CLEAR = 0x03,
	SGPR_PROUT_PREEMPT = 0x04,
	SGPR_PROUT_PREEMPT_AND_ABORT = 0x05,
	SGPR_PROUT_REGISTER_AND_IGNORE = 0x06,
	SGPR_PROUT_REGISTER_AND_MOVE = 0x07,
	_SGPR_PROUT_SA_MAX,
};

/* PERSISTENT RESERVE IN service actions, SPC-4 6.15.1 table 193 */
enum sgpr_prin_sa {
	SGPR_PRIN_READ_KEYS = 0x00,
	SGPR_PRIN_READ_RESERVATION = 0x01,
	SGPR_PRIN_REPORT_CAPABILITIES = 0x02,
	SGPR_PRIN_READ_FULL_STATUS = 0x03,
	_SGPR_PRIN_SA_MAX,
};

/* Persistent reservation types, SPC-4 6.15.3.4 table 198 */
enum sgpr_type {
	SGPR_TYPE_NONE = 0,
	SGPR_TYPE_WE = 1,   /* write exclusive */
	SGPR_TYPE_EA = 3,   /* exclusive access */
	SGPR_TYPE_WERO = 5, /* write exclusive, registrants only */
	SGPR_TYPE_EARO = 6, /* exclusive access, registrants only */
	SGPR_TYPE_WEAR = 7, /* write exclusive, all registrants */
	SGPR_TYPE_EAAR = 8, /* exclusive access, all registrants */
};

/* SAM-5 status codes */
#define SGPR_STATUS_GOOD 0x00
#define SGPR_STATUS_CHECK_CONDITION 0x02
#define SGPR_STATUS_BUSY 0x08
#define SGPR_STATUS_RESERVATION_CONFLICT 0x18
#define SGPR_STATUS_TASK_SET_FULL 0x28

/* SPC-4 4.5.1: sense data is at most 252 bytes */
#define SGPR_SENSE_MAX 252

/* Outcome of the last attempt of one command. */
struct sgpr_status {
	bool answered;	    /* the target returned a status byte */
	uint8_t status;	    /* SAM status byte */
	bool sense_valid;   /* sense_key/asc/ascq were decoded */
	uint8_t sense_key;  /* SPC-4 4.5.6 */
	uint8_t asc, ascq;  /* SPC-4 4.5.6 table 48 */
	uint16_t sense_len; /* raw bytes in sense[] */
	uint8_t sense[SGPR_SENSE_MAX];
	uint32_t resid;	   /* data-in residual */
	unsigned attempts; /* times the command was sent */
};

SGPR_PUBLIC const char *sgpr_version(void);

/* ---- pure helpers: names, keys ---------------------------------------- */

/* blkpr names: "write-exclusive", ..., "exclusive-access-all-regs". */
SGPR_PUBLIC const char *sgpr_type_to_name(int type);
/* Returns the type code (1..8) or -EINVAL. Also accepts short forms "we", "wero", ... */
SGPR_PUBLIC int sgpr_type_from_name(const char *name);
SGPR_PUBLIC bool sgpr_type_is_all_registrants(int type);
SGPR_PUBLIC bool sgpr_type_is_registrants_only(int type);

SGPR_PUBLIC const char *sgpr_prout_sa_to_name(int sa);
SGPR_PUBLIC const char *sgpr_prin_sa_to_name(int sa);

/*
 * Key layout (DESIGN.md): namespace:16 | host_id:16 | epoch:32.
 * epoch 0 is a static reservation, never considered dead. A lease epoch is
 * period:8 | counter:24: the holder's renewal period in units of 100 ms
 * (rounded up, 1..255) so that every observer knows how long to wait, and a
 * counter that starts at a random value at each acquisition (never 0), so a
 * key does not repeat across acquisitions. Host id 0 with epoch
 * SGPR_EPOCH_PARKING is the parking key of the namespace: the reservation a
 * release leaves behind (the fence stays up until the next acquirer).
 */
struct sgpr_key_parts {
	uint16_t ns;
	uint16_t host_id;
	uint32_t epoch;
};
SGPR_PUBLIC uint64_t sgpr_key_make(uint16_t ns, uint16_t host_id, uint32_t epoch);
SGPR_PUBLIC struct sgpr_key_parts sgpr_key_split(uint64_t key);
/* Namespace of a cluster name: a stable 16-bit hash, never 0. */
SGPR_PUBLIC uint16_t sgpr_ns_from_cluster(const char *cluster);
/* True if key is of namespace ns and carries a valid host id. */
SGPR_PUBLIC bool sgpr_key_in_ns(uint64_t key, uint16_t ns);
/* "0x1a2b" or decimal; rejects 0, junk and overflow with -EINVAL/-ERANGE. */
SGPR_PUBLIC int sgpr_key_parse(const char *s, uint64_t *ret);
/* Writes "0x%016llx" (19 bytes incl. NUL). */
#define SGPR_KEY_STRLEN 19
SGPR_PUBLIC char *sgpr_key_format(uint64_t key, char *buf);

#define SGPR_EPOCH_PERIOD_UNIT_MS 100u
#define SGPR_LEASE_PERIOD_MAX_MS (255u * SGPR_EPOCH_PERIOD_UNIT_MS)
#define SGPR_EPOCH_COUNTER_MASK 0x00ffffffu
#define SGPR_EPOCH_PARKING 0x7061726bu /* "park" */
/* The renewal period a lease key announces (ms); 0 for static or foreign keys. */
SGPR_PUBLIC unsigned sgpr_key_period_ms(uint64_t key, uint16_t ns);
/* Lease key with the period code of period_ms and the given counter (0 -> 1). */
SGPR_PUBLIC uint64_t sgpr_key_make_lease(uint16_t ns, uint16_t host_id, unsigned period_ms,
					 uint32_t counter);
SGPR_PUBLIC uint64_t sgpr_key_parking(uint16_t ns);
SGPR_PUBLIC bool sgpr_key_is_parking(uint64_t key, uint16_t ns);

/* ---- TransportIDs, SPC-4 7.6.4 ---------------------------------------- */

enum sgpr_proto {
	SGPR_PROTO_FC = 0x0,	/* SPC-4 7.6.4.2 */
	SGPR_PROTO_ISCSI = 0x5, /* SPC-4 7.6.4.6 */
	SGPR_PROTO_SAS = 0x6,	/* SPC-4 7.6.4.7 */
};

#define SGPR_ISCSI_NAME_MAX 224 /* RFC 3720 3.2.6.1 */

struct sgpr_transport_id {
	enum sgpr_proto proto;
	uint64_t port_name;		      /* FC N_Port name or SAS address */
	char iscsi_name[SGPR_ISCSI_NAME_MAX]; /* NUL-terminated */
	bool has_isid;			      /* format 01b: name,i,0x<isid> */
	uint8_t isid[6];
};

/* Encode one TransportID into buf; returns the length written (multiple of 4) or -errno. */
SGPR_PUBLIC int sgpr_tid_encode(const struct sgpr_transport_id *tid, uint8_t *buf, size_t len);
/* Decode one TransportID; returns the bytes consumed or -EBADMSG. */
SGPR_PUBLIC int sgpr_tid_decode(const uint8_t *buf, size_t len, struct sgpr_transport_id *ret);
/* "iqn.x,i,0x400001020304" / "fc:0x..." / "sas:0x..." */
SGPR_PUBLIC char *sgpr_tid_format(const struct sgpr_transport_id *tid, char *buf, size_t len);

/* ---- PR OUT encoding, SPC-4 6.16 -------------------------------------- */

struct sgpr_prout_params {
	enum sgpr_prout_sa sa;
	uint8_t type;	 /* RESERVE, RELEASE, PREEMPT*, REGISTER AND MOVE */
	uint64_t key;	 /* RESERVATION KEY */
	uint64_t sa_key; /* SERVICE ACTION RESERVATION KEY */
	bool spec_i_pt;	 /* REGISTER only (SPC-4 5.12.7) */
	bool all_tg_pt;
	bool aptpl;
	bool unreg;	       /* REGISTER AND MOVE */
	uint16_t rel_tgt_port; /* REGISTER AND MOVE */
	const uint8_t *tids; /* encoded TransportIDs: SPEC_I_PT list or the REGISTER AND MOVE one */
	size_t tids_len;
	uint64_t reserved[4]; /* for new fields: must be zero (-EINVAL) */
};

#define SGPR_PROUT_CDB_LEN 10
#define SGPR_PROUT_PARAM_MAX 8192
/*
 * Encode the PR OUT CDB and parameter list. Returns the parameter list length
 * (24 for the basic list, SPC-4 6.16.3; 24 + n for SPEC_I_PT and REGISTER AND
 * MOVE, SPC-4 6.16.4) or -EINVAL for an inconsistent request or -ENOBUFS.
 */
SGPR_PUBLIC int sgpr_prout_encode(const struct sgpr_prout_params *p, uint8_t *cdb, uint8_t *param,
				  size_t param_len);

#define SGPR_PRIN_CDB_LEN 10
SGPR_PUBLIC void sgpr_prin_encode(enum sgpr_prin_sa sa, uint16_t alloc_len, uint8_t *cdb);

/* ---- PR IN decoding, SPC-4 6.15 --------------------------------------- */

struct sgpr_keys {
	uint32_t generation;
	uint32_t count;
	uint64_t keys[];
};

struct sgpr_reservation {
	uint32_t generation;
	bool held;
	uint64_t key; /* 0 for all-registrants types */
	uint8_t scope;
	uint8_t type;
};

struct sgpr_caps {
	bool crh, sip_c, atp_c, ptpl_c, tmv, ptpl_a;
	uint8_t allow_commands;
	uint16_t type_mask; /* SPC-4 6.15.4 table 203: bit per type */
};

/* bits of sgpr_caps.type_mask */
#define SGPR_TYPE_MASK_WE (1u << 9)
#define SGPR_TYPE_MASK_EA (1u << 11)
#define SGPR_TYPE_MASK_WERO (1u << 13)
#define SGPR_TYPE_MASK_EARO (1u << 14)
#define SGPR_TYPE_MASK_WEAR (1u << 15)
#define SGPR_TYPE_MASK_EAAR (1u << 0)
SGPR_PUBLIC bool sgpr_caps_type_supported(const struct sgpr_caps *caps, int type);

struct sgpr_fs_entry {
	uint64_t key;
	bool all_tg_pt;
	bool holder;
	uint8_t scope, type;
	uint16_t rel_tgt_port;
	struct sgpr_transport_id tid;
};

struct sgpr_full_status {
	uint32_t generation;
	uint32_t count;
	struct sgpr_fs_entry entries[];
};

/*
 * Parsers. buf/len are the bytes actually received. If the target announced
 * more data than was received, they return -ENOBUFS and, when ret_needed is
 * not NULL, store the total length the target wants to send. Malformed data
 * (lengths that do not add up) gives -EBADMSG. On success the caller frees
 * *ret with free().
 */
SGPR_PUBLIC int sgpr_parse_read_keys(const uint8_t *buf, size_t len, struct sgpr_keys **ret,
				     size_t *ret_needed);
SGPR_PUBLIC int sgpr_parse_read_reservation(const uint8_t *buf, size_t len,
					    struct sgpr_reservation *ret);
SGPR_PUBLIC int sgpr_parse_report_caps(const uint8_t *buf, size_t len, struct sgpr_caps *ret);
SGPR_PUBLIC int sgpr_parse_full_status(const uint8_t *buf, size_t len,
				       struct sgpr_full_status **ret, size_t *ret_needed);

/* ---- sense, SPC-4 4.5 ------------------------------------------------- */

struct sgpr_sense {
	uint8_t response_code; /* 0x70/0x71 fixed, 0x72/0x73 descriptor */
	uint8_t key;
	uint8_t asc, ascq;
	bool deferred;
};
/* Returns 0, or -EBADMSG if buf holds no decodable sense data. */
SGPR_PUBLIC int sgpr_sense_parse(const uint8_t *buf, size_t len, struct sgpr_sense *ret);
SGPR_PUBLIC const char *sgpr_sense_key_name(uint8_t key);
/* "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)", "RESERVATION CONFLICT", ... */
SGPR_PUBLIC char *sgpr_status_describe(const struct sgpr_status *st, char *buf, size_t len);
/* Map a final status to 0 or the errno of the table at the top of this file. */
SGPR_PUBLIC int sgpr_status_to_errno(const struct sgpr_status *st);

/* ---- error classes ----------------------------------------------------- */

/*
 * What an error of libsgpr means for the caller's next step. The values are the
 * exit codes of prlock(8) for the same outcome, but a program maps them itself.
 */
enum sgpr_err_kind {
	SGPR_ERR_OK = 0,	  /* r >= 0 */
	SGPR_ERR_RUNTIME = 1,	  /* anything else: the target answered with an outcome we cannot
				     act on (-EIO), out of memory, permission (-EPERM), ... */
	SGPR_ERR_USAGE = 2,	  /* the request is invalid (-EINVAL) or names a partition */
	SGPR_ERR_CONFLICT = 3,	  /* RESERVATION CONFLICT, held by another key (-EBADE) */
	SGPR_ERR_UNSUPPORTED = 4, /* no persistent reservations, or not this service action */
	SGPR_ERR_UNREACHABLE = 5, /* the device or transport did not take the command: gone,
				     refused, timed out, lost, busy after the retries */
};

/**
 * sgpr_err_kind() - the class of a return value of libsgpr
 * @r: 0 or more (success), or a -errno returned by a libsgpr function
 *
 * One table for every program and for the lease engine: an unreachable device
 * is not a lost lease, a conflict is. Errnos libsgpr never returns are
 * SGPR_ERR_RUNTIME.
 *
 * Return: the kind of r.
 */
SGPR_PUBLIC enum sgpr_err_kind sgpr_err_kind(int r);

/* ---- devices ---------------------------------------------------------- */

struct sgpr_dev;

typedef void (*sgpr_log_fn)(void *userdata, int priority, const char *msg);

struct sgpr_clock {
	uint64_t (*now_ms)(void *userdata); /* CLOCK_BOOTTIME: suspend counts */
	void (*sleep_ms)(void *userdata, unsigned ms);
	void *userdata;
	uint32_t (*random_u32)(void *userdata); /* key counters; NULL: getrandom() */
	void *reserved[4];			/* for new hooks: must be NULL (-EINVAL) */
};

/*
 * Options of a handle. Zero the struct and set size to sizeof(struct sgpr_dev_opts): a zero
 * field is its default. New fields are only ever appended; the library reads size bytes and
 * takes the fields past them as zero, and refuses a larger size than it knows with -E2BIG
 * unless the bytes it does not know are zero (docs/LIBSGPR.md "ABI").
 */
struct sgpr_dev_opts {
	size_t size;			/* sizeof(struct sgpr_dev_opts); 0 is -EINVAL */
	const char *initiator;		/* iSCSI initiator IQN (iscsi:// targets) */
	uint16_t host_id;		/* selects the fixed ISID */
	unsigned timeout_ms;		/* per command, default 10000 */
	unsigned ua_retries;		/* UNIT ATTENTION resends, default 8 */
	unsigned busy_retries;		/* BUSY/TASK SET FULL/NOT READY resends, default 6 */
	unsigned connect_timeout_ms;	/* login, default 5000 */
	const struct sgpr_clock *clock; /* NULL: the real monotonic clock */
	sgpr_log_fn log_fn;		/* debug messages, may be NULL */
	void *log_userdata;
	/*
	 * iscsi://: log in with this host's observer ISID, not the registering one, so that
	 * the session never reinstates (ends) the session of the process of this host that
	 * holds registrations (prlockd, prlock run). For read-only use: a registration made
	 * on it belongs to the observer nexus. Ignored by the other transports.
	 */
	bool observer_isid;
};

/*
 * Open a LUN: "iscsi://portal[:port]/target-iqn/lun" or a /dev path.
 * Errors: -EINVAL malformed target, -ENOENT/-ENODEV no such device,
 * -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH/-ECONNRESET portal unreachable, -ENXIO no
 * such target or LUN, -EACCES login refused, -ECOMM login failed on the target's side,
 * -EPROTONOSUPPORT transport not built in (all of them sgpr_err_kind() UNREACHABLE).
 * /dev paths (SCSI disks /dev/sdX, sg devices /dev/sgN, their /dev/disk/by-* links,
 * dm-multipath maps /dev/dm-N and /dev/mapper/NAME, whose paths all become paths of
 * the handle) also give:
 *   -ENOENT    no such file
 *   -ENODEV    the device node has no device behind it (removed), or a map has no paths
 *   -ENOTBLK   a partition (or a partition map of a multipath map): give the whole disk
 *   -ENOTTY    not a SCSI device: a regular file, another character device, a loop,
 *              NVMe or virtio disk, a dm device that is not a multipath map
 *   -EACCES    the device node cannot be opened (permissions)
 *   -EXDEV     the paths of a multipath map name different LUNs (VPD page 0x83)
 *   -ECOMM and the other errors of the commands above when no path answers INQUIRY
 */
SGPR_PUBLIC int sgpr_dev_open(const char *target, const struct sgpr_dev_opts *opts,
			      struct sgpr_dev **ret);
/**
 * sgpr_dev_open_fd() - open a SCSI device from a descriptor the caller already has
 * @fd: an open block device (/dev/sdX, a dm-multipath map /dev/dm-N) or sg char device
 *	(/dev/sgN), e.g. one QEMU passed over a unix socket; any access mode
 * @opts: as for sgpr_dev_open(), may be NULL
 * @ret: the new handle, free with sgpr_dev_free()
 *
 * The handle works on its own duplicate of @fd (F_DUPFD_CLOEXEC): the caller keeps @fd and
 * closes it when it likes, before or after the handle. The file status flags are shared with
 * @fd and are not changed. The device is validated as by sgpr_dev_open(), from fstat()'s
 * st_rdev and sysfs; no device node is opened for a single disk or sg device, so SG_IO with
 * CAP_SYS_RAWIO is the only privilege needed (PERSISTENT RESERVE IN/OUT are not on the
 * kernel's SG_IO allow list). A dm-multipath map's fd only identifies the map: its paths
 * (/dev/sdX of /sys/block/dm-N/slaves) are opened by name, which needs the right to open
 * those nodes (uid 0 or the disk group), as for sgpr_dev_open(); paths that cannot be opened
 * are failed paths. sgpr_dev_target() is the /dev name of the device when that node exists
 * here and is this device, else "fd:@fd".
 *
 * Return: 0, or
 *   -EBADF     @fd is not an open descriptor, or an O_PATH one
 *   -EINVAL    @ret is NULL
 *   -ENOTTY    not a SCSI device: a regular file, a pipe or socket, another character
 *              device (/dev/null), a loop, NVMe or virtio disk, a dm device that is not a
 *              multipath map
 *   -ENOTBLK   a partition (or a partition map of a multipath map)
 *   -ENODEV    no device behind the number in sysfs (removed), or a map has no paths
 *   -EPROTONOSUPPORT  built without the sg transport (for a device not refused above)
 *   and, when no path works, the errors of sgpr_dev_open() for opening a map's paths
 *   (-EACCES) and for INQUIRY.
 */
SGPR_PUBLIC int sgpr_dev_open_fd(int fd, const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);
SGPR_PUBLIC struct sgpr_dev *sgpr_dev_free(struct sgpr_dev *d);
SGPR_PUBLIC const char *sgpr_dev_transport_name(const struct sgpr_dev *d);
SGPR_PUBLIC const char *sgpr_dev_target(const struct sgpr_dev *d);

/*
 * Paths (I_T nexuses) of the handle: one for an iSCSI URL or a single disk, one per
 * /dev/sdX of a dm-multipath map. REGISTER and REGISTER AND IGNORE EXISTING KEY go to
 * every working path (a registration belongs to one I_T nexus); all other commands go
 * to one working path and move to the next when a path fails at the transport level.
 * A failed path is reported here and skipped while another path works; sgpr_adopt_key()
 * tries every path again and registers those that answer.
 */
/* Number of paths, at least 1; -EINVAL if d is NULL. */
SGPR_PUBLIC int sgpr_dev_path_count(const struct sgpr_dev *d);
/* "/dev/sdc" (the target for single-path handles); NULL if i is out of range. */
SGPR_PUBLIC const char *sgpr_dev_path_name(const struct sgpr_dev *d, unsigned i);
SGPR_PUBLIC bool sgpr_dev_path_failed(const struct sgpr_dev *d, unsigned i);
/* The -errno that failed path i (-ENOTCONN, -ENODEV, -ECOMM, -ETIMEDOUT, ...), 0 if working. */
SGPR_PUBLIC int sgpr_dev_path_error(const struct sgpr_dev *d, unsigned i);
/*
 * The LUN's name, the same on every path: "naa.<hex>" (VPD page 0x83 NAA designator or
 * udev ID_WWN), "eui.<hex>", a SCSI name string, "t10.<vendor id>" or "serial.<ID_SERIAL>".
 * NULL if unknown (iSCSI and sim handles do not read it). Valid while d is open.
 */
SGPR_PUBLIC const char *sgpr_dev_lun_id(const struct sgpr_dev *d);

struct sgpr_dev_stats {
	unsigned reconnects;	  /* new logins this handle went through (iSCSI: also one made by
				     another LUN of its shared session) */
	unsigned recoveries;	  /* own registration re-established after a reconnect */
	unsigned unit_attentions; /* UAs absorbed by retries */
	uint8_t last_ua_asc, last_ua_ascq;
};
SGPR_PUBLIC void sgpr_dev_get_stats(const struct sgpr_dev *d, struct sgpr_dev_stats *ret);

/* Data direction of a raw command. */
enum sgpr_dir {
	SGPR_DIR_NONE,
	SGPR_DIR_IN,
	SGPR_DIR_OUT,
};

/*
 * Send one CDB, with the bounded UNIT ATTENTION and BUSY retries and the
 * reconnect handling of the device. Returns 0 on GOOD, else -errno (table above).
 */
SGPR_PUBLIC int sgpr_dev_execute(struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len,
				 enum sgpr_dir dir, void *data, size_t data_len,
				 struct sgpr_status *reterr);

/* ---- PR operations on a device --------------------------------------- */

SGPR_PUBLIC int sgpr_prout(struct sgpr_dev *d, const struct sgpr_prout_params *p,
			   struct sgpr_status *reterr);

/* Re-read with a larger allocation length when the list was truncated. */
SGPR_PUBLIC int sgpr_read_keys(struct sgpr_dev *d, struct sgpr_keys **ret,
			       struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_read_reservation(struct sgpr_dev *d, struct sgpr_reservation *ret,
				      struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_report_caps(struct sgpr_dev *d, struct sgpr_caps *ret,
				 struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_read_full_status(struct sgpr_dev *d, struct sgpr_full_status **ret,
				      struct sgpr_status *reterr);

/*
 * REGISTER (old_key -> new_key), or REGISTER AND IGNORE EXISTING KEY when ignore. new_key 0
 * unregisters. Sent on every working path; a SCSI error on any of them is the result.
 */
SGPR_PUBLIC int sgpr_register(struct sgpr_dev *d, uint64_t old_key, uint64_t new_key, bool ignore,
			      struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_reserve(struct sgpr_dev *d, uint64_t key, int type,
			     struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_release(struct sgpr_dev *d, uint64_t key, int type,
			     struct sgpr_status *reterr);
SGPR_PUBLIC int sgpr_clear(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr);
/*
 * PREEMPT AND ABORT (abort=true) or PREEMPT. When the device does not support
 * PREEMPT AND ABORT, falls back to PREEMPT and sets *ret_aborted = false.
 */
SGPR_PUBLIC int sgpr_preempt(struct sgpr_dev *d, uint64_t key, uint64_t victim, int type,
			     bool abort, bool *ret_aborted, struct sgpr_status *reterr);

/*
 * Make this nexus the live registration of key, which READ KEYS lists (left by
 * an earlier session of this host: tgt ties registrations to a session, so a
 * re-login leaves an orphan). REGISTER AND IGNORE with key, then, if key holds
 * the reservation, PREEMPT of key by key with the same type (SPC-4 5.12.11.4.3)
 * so the reservation moves to this nexus and orphans of key are removed.
 * Verified with READ KEYS / READ RESERVATION: -EIO if they do not confirm it.
 * -ENOKEY if key is not registered.
 * With several paths every path is registered, failed ones included (those that
 * answer work again), and the check is one registration of key per working path.
 */
SGPR_PUBLIC int sgpr_adopt_key(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr);

/*
 * Learn which optional service actions the device lacks without changing any
 * state: READ FULL STATUS is read, and PREEMPT AND ABORT is sent with a
 * RESERVATION KEY this nexus is not registered with, so a device that
 * implements it answers RESERVATION CONFLICT (SPC-4 5.12.11.1, 5.12.11.4) and
 * one that does not answers ILLEGAL REQUEST. Results through
 * sgpr_dev_prout_unsupported()/sgpr_dev_prin_unsupported().
 */
SGPR_PUBLIC int sgpr_dev_probe(struct sgpr_dev *d);

/* Service actions this device answered as unsupported (-EOPNOTSUPP), remembered per handle. */
SGPR_PUBLIC bool sgpr_dev_prout_unsupported(const struct sgpr_dev *d, enum sgpr_prout_sa sa);
SGPR_PUBLIC bool sgpr_dev_prin_unsupported(const struct sgpr_dev *d, enum sgpr_prin_sa sa);

/* ---- leases (DESIGN.md "Keys and leases") ------------------------------ */

struct sgpr_lease;

/*
 * The lease defaults (docs/TIMING.md), the only definition: the lease engine uses
 * them for a 0 in struct sgpr_lease_opts, and prlock and prlockd for what the
 * configuration leaves unset.
 */
#define SGPR_LEASE_PERIOD_MS_DEFAULT 2000u
/* dead_after of a lease period L: 3.5 L (3 renewals missed, plus half a period of margin) */
#define SGPR_LEASE_DEAD_AFTER_MS_DEFAULT(period_ms) (3u * (period_ms) + (period_ms) / 2u)

/* Zero it and set size to sizeof(struct sgpr_lease_opts), as struct sgpr_dev_opts. */
struct sgpr_lease_opts {
	size_t size;		      /* sizeof(struct sgpr_lease_opts); 0 is -EINVAL */
	uint16_t ns;		      /* sgpr_ns_from_cluster() */
	uint16_t host_id;	      /* 1..65535 */
	int type;		      /* default SGPR_TYPE_WERO */
	unsigned period_ms;	      /* L: renew every L, default SGPR_LEASE_PERIOD_MS_DEFAULT */
	unsigned dead_after_ms;	      /* holder key unchanged this long = dead; default 3.5 L */
	unsigned self_fence_after_ms; /* lost after this long without a renewal; 0 = never */
	bool static_lease;	      /* epoch 0: never renewed, never considered dead */
	bool force;		      /* may take over from a foreign (other namespace) holder */
	/*
	 * Re-adoption after a restart: the key this host recorded as holding the LUN, and the
	 * clock time (sgpr_clock, CLOCK_BOOTTIME) of its last renewal the target confirmed. Only
	 * that exact key is adopted; a key of this host id that was not recorded is another
	 * holder (a host-id clash, or an earlier holder here that died). 0: none.
	 */
	uint64_t adopt_key;
	uint64_t adopt_confirmed_ms;
};

/* The shortest time any sgpr observer waits before it takes over a holder of period L. */
#define SGPR_LEASE_DEAD_FLOOR_MS(period_ms) ((period_ms) / 2u * 7u)

enum sgpr_lease_state {
	SGPR_LEASE_IDLE,
	SGPR_LEASE_HELD,
	SGPR_LEASE_LOST,
};

enum sgpr_lease_event {
	SGPR_LEASE_NONE,	 /* nothing changed (observer: holder alive or not dead yet) */
	SGPR_LEASE_ACQUIRED,	 /* a free LUN was reserved */
	SGPR_LEASE_ADOPTED,	 /* our own key already held it (restart): kept */
	SGPR_LEASE_RENEWED,	 /* key moved to the next epoch, reservation confirmed */
	SGPR_LEASE_RECOVERED,	 /* re-established: own orphan, or the target lost its state */
	SGPR_LEASE_UNREACHABLE,	 /* no renewal, the device did not answer: not a loss */
	SGPR_LEASE_TAKEN_OVER,	 /* a dead holder was preempted: we hold it now */
	SGPR_LEASE_HOLDER_ALIVE, /* takeover refused by the target: the holder renewed */
	SGPR_LEASE_PEER_REMOVED, /* renewed, and a registration lingering past dead_after removed */
	SGPR_LEASE_LOST_PREEMPTED, /* our key was removed; another key holds the LUN */
	SGPR_LEASE_LOST_CLEARED, /* our key was removed and nobody holds it (CLEAR, preempt+release)
				  */
	SGPR_LEASE_LOST_TARGET,	 /* the target lost its state and another key holds it now */
	SGPR_LEASE_LOST_SELF_FENCED, /* no renewal for self_fence_after_ms */
	/*
	 * our key is gone and no renewal was confirmed within the recovery window (the dead
	 * floor): another host may have held the LUN meanwhile, so it is never re-established
	 */
	SGPR_LEASE_LOST_EXPIRED,
	SGPR_LEASE_PARKED, /* released: the parking key keeps fencing unregistered nexuses */
};

/* A lease on one device; d is borrowed and must outlive the lease. */
SGPR_PUBLIC int sgpr_lease_new(struct sgpr_dev *d, const struct sgpr_lease_opts *opts,
			       struct sgpr_lease **ret);
/* Frees the state only: the reservation is left as it is (see sgpr_lease_release). */
SGPR_PUBLIC struct sgpr_lease *sgpr_lease_free(struct sgpr_lease *l);
/*
 * Free LUN: register and reserve (ACQUIRED). Held by our own key: adopt it
 * (ADOPTED). Held by another key: -EBADE (see sgpr_lease_observe).
 */
SGPR_PUBLIC int sgpr_lease_acquire(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/*
 * Once per lease period while held: REGISTER old key -> next epoch, confirm the
 * reservation, remove peers lingering past dead_after. Returns 0 with an event;
 * a LOST_* event leaves the lease in SGPR_LEASE_LOST. -ENOLCK if not held.
 */
SGPR_PUBLIC int sgpr_lease_renew(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/*
 * Once per lease period while not held: watch the holder's key; when it has
 * not changed for dead_after, take over with PREEMPT AND ABORT (fallback
 * PREEMPT) of that exact key (TAKEN_OVER), or learn that the holder is alive
 * (HOLDER_ALIVE). A free LUN is acquired. -EBADE: never takeable (all
 * registrants type).
 */
SGPR_PUBLIC int sgpr_lease_observe(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/*
 * Release: our key becomes the namespace's parking key (REGISTER on every path), so the LUN
 * stays reserved and every unregistered nexus (a preempted host included) stays refused;
 * the next acquirer preempts the parking key. The lease becomes IDLE.
 */
SGPR_PUBLIC int sgpr_lease_release(struct sgpr_lease *l);
/* Park the reservation key holds on d (as sgpr_lease_release), confirmed by PR IN. */
SGPR_PUBLIC int sgpr_park(struct sgpr_dev *d, uint16_t ns, uint64_t key);
SGPR_PUBLIC enum sgpr_lease_state sgpr_lease_get_state(const struct sgpr_lease *l);
/* The key held (or, in SGPR_LEASE_LOST, the key that was lost); 0 when idle. */
SGPR_PUBLIC uint64_t sgpr_lease_key(const struct sgpr_lease *l);
/* The holder key last seen (after TAKEN_OVER: the key that was taken over). */
SGPR_PUBLIC uint64_t sgpr_lease_last_holder(const struct sgpr_lease *l);
/* After TAKEN_OVER: true when the target carried out PREEMPT AND ABORT, false for PREEMPT. */
SGPR_PUBLIC bool sgpr_lease_takeover_aborted(const struct sgpr_lease *l);
SGPR_PUBLIC uint64_t sgpr_lease_last_renewal_ms(const struct sgpr_lease *l);
/* Observer: the period the watched holder's key announces (0: none), and the wait applied. */
SGPR_PUBLIC unsigned sgpr_lease_holder_period_ms(const struct sgpr_lease *l);
SGPR_PUBLIC unsigned sgpr_lease_dead_after_ms(const struct sgpr_lease *l);
SGPR_PUBLIC const char *sgpr_lease_event_name(enum sgpr_lease_event ev);

#ifdef __cplusplus
}
#endif

#endif /* SGPR_H */
