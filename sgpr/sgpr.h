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

/**
 * sgpr_version() - the release of the running library
 *
 * Return: a static string such as "0.1.0" (meson's project version when it was built).
 */
SGPR_PUBLIC const char *sgpr_version(void);

/* ---- pure helpers: names, keys ---------------------------------------- */

/**
 * sgpr_type_to_name() - blkpr name of a reservation type
 * @type: SGPR_TYPE_* code
 *
 * Return: a static string ("write-exclusive", ..., "exclusive-access-all-regs"), or NULL for
 * a code that is not a type of SPC-4 6.15.3.4 table 198 (SGPR_TYPE_NONE included).
 */
SGPR_PUBLIC const char *sgpr_type_to_name(int type);
/**
 * sgpr_type_from_name() - reservation type from text
 * @name: a blkpr name ("write-exclusive-reg-only"), a short form ("wero"), both
 *        case-insensitive, or the decimal SPC-4 code ("5")
 *
 * Return: the type code (1, 3, 5, 6, 7 or 8), or -EINVAL (NULL or unknown).
 */
SGPR_PUBLIC int sgpr_type_from_name(const char *name);
/**
 * sgpr_type_is_all_registrants() - is it an "all registrants" type
 * @type: SGPR_TYPE_* code
 *
 * Return: true for SGPR_TYPE_WEAR and SGPR_TYPE_EAAR (every registrant holds the
 * reservation, SPC-4 5.12.10), false otherwise.
 */
SGPR_PUBLIC bool sgpr_type_is_all_registrants(int type);
/**
 * sgpr_type_is_registrants_only() - is it a "registrants only" type
 * @type: SGPR_TYPE_* code
 *
 * Return: true for SGPR_TYPE_WERO and SGPR_TYPE_EARO, false otherwise.
 */
SGPR_PUBLIC bool sgpr_type_is_registrants_only(int type);

/**
 * sgpr_prout_sa_to_name() - name of a PERSISTENT RESERVE OUT service action
 * @sa: enum sgpr_prout_sa value
 *
 * Return: a static string ("REGISTER", "PREEMPT AND ABORT", ...), or NULL when out of range.
 */
SGPR_PUBLIC const char *sgpr_prout_sa_to_name(int sa);
/**
 * sgpr_prin_sa_to_name() - name of a PERSISTENT RESERVE IN service action
 * @sa: enum sgpr_prin_sa value
 *
 * Return: a static string ("READ KEYS", ...), or NULL when out of range.
 */
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
/**
 * sgpr_key_make() - compose a reservation key
 * @ns: namespace (sgpr_ns_from_cluster())
 * @host_id: host id, 1..65535 for a host's key
 * @epoch: 0 for a static key, else a lease epoch (sgpr_key_make_lease())
 *
 * Return: ns << 48 | host_id << 32 | epoch.
 */
SGPR_PUBLIC uint64_t sgpr_key_make(uint16_t ns, uint16_t host_id, uint32_t epoch);
/**
 * sgpr_key_split() - the parts of a reservation key
 * @key: a reservation key
 *
 * Return: its namespace, host id and epoch (the inverse of sgpr_key_make()).
 */
SGPR_PUBLIC struct sgpr_key_parts sgpr_key_split(uint64_t key);
/**
 * sgpr_ns_from_cluster() - namespace of a cluster name
 * @cluster: the configured cluster name; NULL is treated as ""
 *
 * A stable 16-bit hash (FNV-1a 32-bit folded to 16 bits, see key.c). It is part of the
 * on-storage format and never changes.
 *
 * Return: the namespace, never 0.
 */
SGPR_PUBLIC uint16_t sgpr_ns_from_cluster(const char *cluster);
/**
 * sgpr_key_in_ns() - is a key one of a namespace's host keys
 * @key: a reservation key
 * @ns: the namespace; 0 matches nothing
 *
 * Return: true if the key's namespace is @ns and its host id is not 0.
 */
SGPR_PUBLIC bool sgpr_key_in_ns(uint64_t key, uint16_t ns);
/**
 * sgpr_key_parse() - parse a reservation key
 * @s: "0x" or "0X" and hex digits, or decimal digits; nothing else (no sign, spaces, suffix)
 * @ret: the key, written only on success
 *
 * Return: 0, -EINVAL for malformed text or the value 0 (never a registered key, SPC-4
 * 5.12.7), -ERANGE if the value does not fit in 64 bits.
 */
SGPR_PUBLIC int sgpr_key_parse(const char *s, uint64_t *ret);
/* Writes "0x%016llx" (19 bytes incl. NUL). */
#define SGPR_KEY_STRLEN 19
/**
 * sgpr_key_format() - a key as "0x%016llx"
 * @key: the key
 * @buf: at least SGPR_KEY_STRLEN (19) bytes, written with the text and its NUL
 *
 * Return: @buf.
 */
SGPR_PUBLIC char *sgpr_key_format(uint64_t key, char *buf);

#define SGPR_EPOCH_PERIOD_UNIT_MS 100u
#define SGPR_LEASE_PERIOD_MAX_MS (255u * SGPR_EPOCH_PERIOD_UNIT_MS)
#define SGPR_EPOCH_COUNTER_MASK 0x00ffffffu
#define SGPR_EPOCH_PARKING 0x7061726bu /* "park" */
/**
 * sgpr_key_period_ms() - the renewal period a lease key announces
 * @key: a reservation key
 * @ns: the namespace the key is read in
 *
 * Return: the period in ms, or 0 for static keys, the parking key and keys of other
 * namespaces (their holders announce nothing this library can read).
 */
SGPR_PUBLIC unsigned sgpr_key_period_ms(uint64_t key, uint16_t ns);
/**
 * sgpr_key_make_lease() - a lease key that announces its holder's period
 * @ns: namespace
 * @host_id: host id
 * @period_ms: the holder's renewal period, rounded up to SGPR_EPOCH_PERIOD_UNIT_MS (an
 *             observer never waits less than the holder needs); at most SGPR_LEASE_PERIOD_MAX_MS
 * @counter: the low 24 bits are used; 0 becomes 1 (epoch 0 is static)
 *
 * Return: the key.
 */
SGPR_PUBLIC uint64_t sgpr_key_make_lease(uint16_t ns, uint16_t host_id, unsigned period_ms,
					 uint32_t counter);
/**
 * sgpr_key_parking() - the parking key of a namespace
 * @ns: namespace
 *
 * Return: the key with host id 0 and epoch SGPR_EPOCH_PARKING, which a release leaves
 * holding the reservation (sgpr_lease_release()).
 */
SGPR_PUBLIC uint64_t sgpr_key_parking(uint16_t ns);
/**
 * sgpr_key_is_parking() - is a key the parking key of a namespace
 * @key: a reservation key
 * @ns: namespace; 0 matches nothing
 *
 * Return: true if @key is sgpr_key_parking(@ns).
 */
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

/**
 * sgpr_tid_encode() - encode one TransportID (SPC-4 7.6.4)
 * @tid: FC, SAS or iSCSI (format 00b, or 01b when has_isid)
 * @buf: destination
 * @len: size of @buf
 *
 * Return: bytes written (a multiple of 4), -EINVAL for an unknown protocol or an empty,
 * unterminated or invalid iSCSI name, -ENOBUFS if @buf is too small.
 */
SGPR_PUBLIC int sgpr_tid_encode(const struct sgpr_transport_id *tid, uint8_t *buf, size_t len);
/**
 * sgpr_tid_decode() - decode one TransportID from untrusted bytes
 * @buf: the bytes
 * @len: bytes available; nothing past @len is read
 * @ret: the TransportID, written only on success
 *
 * Return: bytes consumed, -EBADMSG for malformed or truncated data, -EPROTONOSUPPORT for a
 * well-formed TransportID of another protocol.
 */
SGPR_PUBLIC int sgpr_tid_decode(const uint8_t *buf, size_t len, struct sgpr_transport_id *ret);
/**
 * sgpr_tid_format() - human form of a TransportID
 * @tid: the TransportID
 * @buf: destination
 * @len: size of @buf
 *
 * "iqn.x" or "iqn.x,i,0x400001020304", "fc:0x<16 hex>", "sas:0x<16 hex>", "proto:0x<id>".
 *
 * Return: @buf, or NULL if an argument is invalid or the text does not fit.
 */
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
/**
 * sgpr_prout_encode() - build a PERSISTENT RESERVE OUT CDB and parameter list
 * @p: the request; its reserved space must be zero
 * @cdb: receives the CDB: SGPR_PROUT_CDB_LEN (10) bytes (SPC-4 6.16.1 table 217)
 * @param: receives the parameter list (SPC-4 6.16.3, 6.16.4)
 * @param_len: size of @param; SGPR_PROUT_PARAM_MAX is always enough
 *
 * Return: the parameter list length (24 for the basic list, 24 + n with TransportIDs),
 * -EINVAL for an inconsistent request, NULL @p or @cdb, nonzero reserved space or a list
 * longer than SGPR_PROUT_PARAM_MAX, -ENOBUFS if @param is too small.
 */
SGPR_PUBLIC int sgpr_prout_encode(const struct sgpr_prout_params *p, uint8_t *cdb, uint8_t *param,
				  size_t param_len);

#define SGPR_PRIN_CDB_LEN 10
/**
 * sgpr_prin_encode() - build a PERSISTENT RESERVE IN CDB (SPC-4 6.15.1 table 192)
 * @sa: service action
 * @alloc_len: ALLOCATION LENGTH
 * @cdb: receives the CDB: SGPR_PRIN_CDB_LEN (10) bytes; NULL does nothing
 */
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
/**
 * sgpr_caps_type_supported() - is a reservation type in the type mask
 * @caps: parsed capabilities (sgpr_report_caps())
 * @type: SGPR_TYPE_* code
 *
 * Return: false for an invalid type; true when TMV is 0 (the mask carries no information,
 * SPC-4 6.15.4, so the device has to answer for itself); else the bit of table 203.
 */
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

/**
 * sgpr_parse_read_keys() - parse READ KEYS data (SPC-4 6.15.2 table 194)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: on success a malloc()ed list, which the caller frees with free()
 * @ret_needed: optional; on -ENOBUFS the total length the target wants to send
 *
 * Return: 0, -EBADMSG (fewer than 8 bytes, ADDITIONAL LENGTH not a multiple of 8), -ENOBUFS
 * (truncated), -ENOMEM.
 */
SGPR_PUBLIC int sgpr_parse_read_keys(const uint8_t *buf, size_t len, struct sgpr_keys **ret,
				     size_t *ret_needed);
/**
 * sgpr_parse_read_reservation() - parse READ RESERVATION data (SPC-4 6.15.3)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: the reservation; held is false when ADDITIONAL LENGTH is 0 (table 195)
 *
 * Return: 0, -EBADMSG (fewer than 8 bytes, ADDITIONAL LENGTH neither 0 nor 10h), -ENOBUFS
 * (the descriptor was announced but not received).
 */
SGPR_PUBLIC int sgpr_parse_read_reservation(const uint8_t *buf, size_t len,
					    struct sgpr_reservation *ret);
/**
 * sgpr_parse_report_caps() - parse REPORT CAPABILITIES data (SPC-4 6.15.4 table 201)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: the capabilities
 *
 * Return: 0, or -EBADMSG for fewer than 8 bytes or a LENGTH below 8.
 */
SGPR_PUBLIC int sgpr_parse_report_caps(const uint8_t *buf, size_t len, struct sgpr_caps *ret);
/**
 * sgpr_parse_full_status() - parse READ FULL STATUS data (SPC-4 6.15.5)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: on success a malloc()ed list, which the caller frees with free()
 * @ret_needed: optional; on -ENOBUFS the total length the target wants to send
 *
 * Return: 0, -EBADMSG (short header, a descriptor crossing the end of the list, a malformed
 * TransportID), -ENOBUFS (truncated), -ENOMEM.
 */
SGPR_PUBLIC int sgpr_parse_full_status(const uint8_t *buf, size_t len,
				       struct sgpr_full_status **ret, size_t *ret_needed);

/* ---- sense, SPC-4 4.5 ------------------------------------------------- */

struct sgpr_sense {
	uint8_t response_code; /* 0x70/0x71 fixed, 0x72/0x73 descriptor */
	uint8_t key;
	uint8_t asc, ascq;
	bool deferred;
};
/**
 * sgpr_sense_parse() - decode response code, sense key, ASC and ASCQ (SPC-4 4.5)
 * @buf: sense bytes
 * @len: number of sense bytes
 * @ret: the result, written only on success
 *
 * Return: 0, or -EBADMSG for another response code than 70h-73h or too few bytes.
 */
SGPR_PUBLIC int sgpr_sense_parse(const uint8_t *buf, size_t len, struct sgpr_sense *ret);
/**
 * sgpr_sense_key_name() - name of a sense key (SPC-4 4.5.6 table 47)
 * @key: sense key
 *
 * Return: a static string, never NULL.
 */
SGPR_PUBLIC const char *sgpr_sense_key_name(uint8_t key);
/**
 * sgpr_status_describe() - one line of text for an outcome
 * @st: outcome
 * @buf: destination
 * @len: size of @buf; the text is truncated to fit
 *
 * "RESERVATION CONFLICT", "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)", "no status
 * (command did not complete)", ...
 *
 * Return: @buf, or NULL if @st or @buf is NULL or @len is 0.
 */
SGPR_PUBLIC char *sgpr_status_describe(const struct sgpr_status *st, char *buf, size_t len);
/**
 * sgpr_status_to_errno() - errno of a final outcome
 * @st: outcome of the last attempt
 *
 * Return: 0 for GOOD, else the negative errno of the table at the top of this file.
 */
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

/**
 * sgpr_dev_open() - open a logical unit
 * @target: "iscsi://portal[:port]/target-iqn/lun" or a /dev path: a SCSI disk /dev/sdX, an sg
 *          device /dev/sgN, a /dev/disk/by-* link, a dm-multipath map /dev/dm-N or
 *          /dev/mapper/NAME (whose paths all become paths of the handle)
 * @opts: options (size set to sizeof(struct sgpr_dev_opts)), or NULL for the defaults
 * @ret: the new handle, freed with sgpr_dev_free(); written only on success
 *
 * Return: 0, or
 *   -EINVAL    malformed target, NULL @target or @ret, @opts with size 0 or a nonzero
 *              sgpr_clock.reserved
 *   -E2BIG     @opts of a newer header with fields this library does not know set
 *   -ENOENT/-ENODEV no such device, or the node has no device behind it, or a map has no paths
 *   -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH/-ECONNRESET portal unreachable
 *   -ENXIO     no such iSCSI target or LUN; -EACCES login refused or node not openable
 *   -ECOMM     login failed on the target's side, or no path answers INQUIRY
 *   -ENOTBLK   a partition (or a partition map of a multipath map): give the whole disk
 *   -ENOTTY    not a SCSI device (regular file, other character device, loop, NVMe or
 *              virtio disk, a dm device that is not a multipath map)
 *   -EXDEV     the paths of a multipath map name different LUNs (VPD page 0x83)
 *   -EPROTONOSUPPORT the transport is not built in
 * The device errors are all sgpr_err_kind() SGPR_ERR_UNREACHABLE.
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
 *   -EINVAL    @ret is NULL, @opts with size 0 or a nonzero sgpr_clock.reserved
 *   -E2BIG     @opts of a newer header with fields this library does not know set
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
/**
 * sgpr_dev_free() - close a handle
 * @d: the handle, or NULL
 *
 * Registrations and reservations on the device stay as they are.
 *
 * Return: NULL, for "d = sgpr_dev_free(d);".
 */
SGPR_PUBLIC struct sgpr_dev *sgpr_dev_free(struct sgpr_dev *d);
/**
 * sgpr_dev_transport_name() - the transport of a handle
 * @d: the handle
 *
 * Return: "iscsi", "sg" (or "sim" in tests), static; NULL if @d is NULL.
 */
SGPR_PUBLIC const char *sgpr_dev_transport_name(const struct sgpr_dev *d);
/**
 * sgpr_dev_target() - the target a handle was opened with
 * @d: the handle
 *
 * Return: the target string (sgpr_dev_open_fd(): the /dev name or "fd:N"), valid while @d is
 * open; NULL if @d is NULL.
 */
SGPR_PUBLIC const char *sgpr_dev_target(const struct sgpr_dev *d);

/*
 * Paths (I_T nexuses) of the handle: one for an iSCSI URL or a single disk, one per
 * /dev/sdX of a dm-multipath map. REGISTER and REGISTER AND IGNORE EXISTING KEY go to
 * every working path (a registration belongs to one I_T nexus); all other commands go
 * to one working path and move to the next when a path fails at the transport level.
 * A failed path is reported here and skipped while another path works; sgpr_adopt_key()
 * tries every path again and registers those that answer.
 */
/**
 * sgpr_dev_path_count() - number of paths (I_T nexuses) of a handle
 * @d: the handle
 *
 * One for an iSCSI URL or a single disk, one per /dev/sdX of a dm-multipath map. REGISTER
 * and REGISTER AND IGNORE EXISTING KEY go to every working path (a registration belongs to
 * one I_T nexus); other commands go to one working path and move to the next when a path
 * fails at the transport level. sgpr_adopt_key() tries failed paths again.
 *
 * Return: the count, at least 1; -EINVAL if @d is NULL.
 */
SGPR_PUBLIC int sgpr_dev_path_count(const struct sgpr_dev *d);
/**
 * sgpr_dev_path_name() - name of one path
 * @d: the handle
 * @i: path index, below sgpr_dev_path_count()
 *
 * Return: "/dev/sdc" (the target for single-path handles), valid while @d is open; NULL if
 * @d is NULL or @i out of range.
 */
SGPR_PUBLIC const char *sgpr_dev_path_name(const struct sgpr_dev *d, unsigned i);
/**
 * sgpr_dev_path_failed() - is one path failed
 * @d: the handle
 * @i: path index
 *
 * Return: true if path @i failed at the transport level and is skipped while another works.
 */
SGPR_PUBLIC bool sgpr_dev_path_failed(const struct sgpr_dev *d, unsigned i);
/**
 * sgpr_dev_path_error() - why one path failed
 * @d: the handle
 * @i: path index
 *
 * Return: the -errno that failed path @i (-ENOTCONN, -ENODEV, -ECOMM, -ETIMEDOUT, ...), 0 if
 * it works or @d is NULL or @i out of range.
 */
SGPR_PUBLIC int sgpr_dev_path_error(const struct sgpr_dev *d, unsigned i);
/**
 * sgpr_dev_refresh_paths() - follow the paths of a dm-multipath map
 * @d: a handle opened on a map (/dev/dm-N, /dev/mapper/NAME)
 * @ret_added: the number of paths added, or NULL
 * @ret_removed: the number of paths dropped, or NULL
 *
 * Re-reads the map's paths (its slaves in sysfs): a path that joined it since the handle was
 * opened or last refreshed is opened and added once it is shown to lead to the handle's LUN
 * (VPD page 0x83); a path that left it is closed and dropped (the last one is kept, failed).
 * No PR command is sent: a new path carries no registration (an I_T nexus of its own) until
 * one is made, e.g. by sgpr_adopt_key(). Path indexes may change.
 *
 * Return: 0; -EOPNOTSUPP for a handle that is not a map; -ENODEV if the map's device number
 * is now another device; -ENOMEM.
 */
SGPR_PUBLIC int sgpr_dev_refresh_paths(struct sgpr_dev *d, unsigned *ret_added,
				       unsigned *ret_removed);
/**
 * sgpr_dev_add_path() - one more path of a map, before it joins the map
 * @d: a handle opened on a dm-multipath map
 * @node: a whole SCSI disk, "/dev/sdX"
 *
 * Opens @node as a path of @d when it leads to the handle's LUN (VPD page 0x83), so that a
 * registration reaches it before multipathd adds it to the map. It stays a path while the
 * disk exists, in the map or not (sgpr_dev_refresh_paths()). A disk with the device number
 * of one of the handle's paths is that path's disk added again (the old one was removed): the
 * path is reopened on it. No PR command is sent.
 *
 * Return: 0; -EOPNOTSUPP for a handle that is not a map;
 * -ENOTBLK if @node is not a whole SCSI disk; -EXDEV if it leads to another LUN or cannot be
 * named; -E2BIG over the path limit; -ENOENT, -ENOMEM.
 */
SGPR_PUBLIC int sgpr_dev_add_path(struct sgpr_dev *d, const char *node);
/**
 * sgpr_dev_lun_id() - the LUN's name, the same on every path
 * @d: the handle
 *
 * Return: "naa.<hex>" (VPD page 0x83 NAA designator or udev ID_WWN), "eui.<hex>", a SCSI
 * name string, "t10.<vendor id>" or "serial.<ID_SERIAL>", valid while @d is open; NULL if
 * unknown (iSCSI and sim handles do not read it).
 */
SGPR_PUBLIC const char *sgpr_dev_lun_id(const struct sgpr_dev *d);

struct sgpr_dev_stats {
	unsigned reconnects;	  /* new logins this handle went through (iSCSI: also one made by
				     another LUN of its shared session) */
	unsigned recoveries;	  /* own registration re-established after a reconnect */
	unsigned unit_attentions; /* UAs absorbed by retries */
	uint8_t last_ua_asc, last_ua_ascq;
};
/**
 * sgpr_dev_get_stats() - counters of a handle
 * @d: the handle
 * @ret: receives the counters; untouched if @d or @ret is NULL
 */
SGPR_PUBLIC void sgpr_dev_get_stats(const struct sgpr_dev *d, struct sgpr_dev_stats *ret);

/* Data direction of a raw command. */
enum sgpr_dir {
	SGPR_DIR_NONE,
	SGPR_DIR_IN,
	SGPR_DIR_OUT,
};

/**
 * sgpr_dev_execute() - send one CDB
 * @d: the handle
 * @cdb: the CDB
 * @cdb_len: its length (6..16)
 * @dir: data direction
 * @data: data-in or data-out buffer, NULL for SGPR_DIR_NONE
 * @data_len: size of @data
 * @reterr: optional; the status and sense of the last attempt
 *
 * With the bounded UNIT ATTENTION and BUSY retries and the reconnect handling of the device.
 *
 * Return: 0 on GOOD, else the -errno of the table at the top of this file.
 */
SGPR_PUBLIC int sgpr_dev_execute(struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len,
				 enum sgpr_dir dir, void *data, size_t data_len,
				 struct sgpr_status *reterr);

/* ---- PR operations on a device --------------------------------------- */

/**
 * sgpr_prout() - send one PERSISTENT RESERVE OUT command
 * @d: the handle
 * @p: the request (as for sgpr_prout_encode())
 * @reterr: optional; the status and sense of the last attempt
 *
 * REGISTER and REGISTER AND IGNORE EXISTING KEY go to every working path.
 *
 * Return: 0, -EINVAL for an inconsistent request, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_prout(struct sgpr_dev *d, const struct sgpr_prout_params *p,
			   struct sgpr_status *reterr);

/**
 * sgpr_read_keys() - READ KEYS (SPC-4 6.15.2)
 * @d: the handle
 * @ret: on success a malloc()ed list, which the caller frees with free()
 * @reterr: optional; the status and sense of the last attempt
 *
 * Re-reads with a larger allocation length when the list was truncated.
 *
 * Return: 0, -ENOMEM, -EBADMSG for malformed data, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_read_keys(struct sgpr_dev *d, struct sgpr_keys **ret,
			       struct sgpr_status *reterr);
/**
 * sgpr_read_reservation() - READ RESERVATION (SPC-4 6.15.3)
 * @d: the handle
 * @ret: the reservation
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0, -EBADMSG for malformed data, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_read_reservation(struct sgpr_dev *d, struct sgpr_reservation *ret,
				      struct sgpr_status *reterr);
/**
 * sgpr_report_caps() - REPORT CAPABILITIES (SPC-4 6.15.4)
 * @d: the handle
 * @ret: the capabilities
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0, -EOPNOTSUPP if the device lacks it, -EBADMSG for malformed data, else the
 * errno table at the top.
 */
SGPR_PUBLIC int sgpr_report_caps(struct sgpr_dev *d, struct sgpr_caps *ret,
				 struct sgpr_status *reterr);
/**
 * sgpr_read_full_status() - READ FULL STATUS (SPC-4 6.15.5)
 * @d: the handle
 * @ret: on success a malloc()ed list, which the caller frees with free()
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0, -EOPNOTSUPP if the device lacks it, -ENOMEM, -EBADMSG, else the errno table.
 */
SGPR_PUBLIC int sgpr_read_full_status(struct sgpr_dev *d, struct sgpr_full_status **ret,
				      struct sgpr_status *reterr);

/**
 * sgpr_register() - REGISTER or REGISTER AND IGNORE EXISTING KEY
 * @d: the handle
 * @old_key: the key this nexus is registered with (0: none); ignored when @ignore
 * @new_key: the new key; 0 unregisters
 * @ignore: send REGISTER AND IGNORE EXISTING KEY (SPC-4 5.12.7)
 * @reterr: optional; the status and sense of the last attempt
 *
 * Sent on every working path; a SCSI error on any of them is the result.
 *
 * Return: 0, -EBADE if @old_key is not this nexus's key, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_register(struct sgpr_dev *d, uint64_t old_key, uint64_t new_key, bool ignore,
			      struct sgpr_status *reterr);
/**
 * sgpr_reserve() - RESERVE (SPC-4 5.12.9)
 * @d: the handle
 * @key: this nexus's registered key
 * @type: SGPR_TYPE_* code
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0 (also when @key already holds it with @type), -EBADE if another key holds it or
 * @key is not registered, -EINVAL for an invalid type, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_reserve(struct sgpr_dev *d, uint64_t key, int type,
			     struct sgpr_status *reterr);
/**
 * sgpr_release() - RELEASE (SPC-4 5.12.11.2)
 * @d: the handle
 * @key: this nexus's registered key
 * @type: the type of the reservation held
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0 (also when nothing is held), -EBADE if @key is not registered, -EINVAL for a
 * type mismatch, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_release(struct sgpr_dev *d, uint64_t key, int type,
			     struct sgpr_status *reterr);
/**
 * sgpr_clear() - CLEAR: remove every registration and the reservation (SPC-4 5.12.11.6)
 * @d: the handle
 * @key: this nexus's registered key
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0, -EBADE if @key is not registered, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_clear(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr);
/**
 * sgpr_preempt() - PREEMPT AND ABORT or PREEMPT (SPC-4 5.12.11.4)
 * @d: the handle
 * @key: this nexus's registered key
 * @victim: the key to remove (and whose reservation to take)
 * @type: the type of the new reservation
 * @abort: send PREEMPT AND ABORT; it falls back to PREEMPT when the device lacks it
 * @ret_aborted: optional; whether PREEMPT AND ABORT was carried out
 * @reterr: optional; the status and sense of the last attempt
 *
 * Return: 0, -EBADE if @key is not registered, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_preempt(struct sgpr_dev *d, uint64_t key, uint64_t victim, int type,
			     bool abort, bool *ret_aborted, struct sgpr_status *reterr);

/**
 * sgpr_adopt_key() - make this nexus the live registration of a key
 * @d: the handle
 * @key: a key READ KEYS lists, left by an earlier session of this host (tgt ties
 *       registrations to a session, so a re-login leaves an orphan)
 * @reterr: optional; the status and sense of the last attempt
 *
 * REGISTER AND IGNORE EXISTING KEY with @key, then, if @key holds the reservation, PREEMPT
 * of @key by @key with the same type (SPC-4 5.12.11.4.3) so that the reservation moves to
 * this nexus and the orphans of @key go. With several paths every path is registered,
 * failed ones included, and the check is one registration of @key per working path.
 *
 * Return: 0, -ENOKEY if @key is not registered, -EIO if READ KEYS / READ RESERVATION do not
 * confirm it, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_adopt_key(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr);

/**
 * sgpr_dev_probe() - learn which optional service actions the device lacks
 * @d: the handle
 *
 * Changes no state: READ FULL STATUS is read, and PREEMPT AND ABORT is sent with a
 * RESERVATION KEY this nexus is not registered with, so a device that implements it answers
 * RESERVATION CONFLICT (SPC-4 5.12.11.1) and one that does not ILLEGAL REQUEST.
 *
 * Return: 0 (results through sgpr_dev_prout_unsupported() / sgpr_dev_prin_unsupported()),
 * or the errno table at the top when the device did not answer.
 */
SGPR_PUBLIC int sgpr_dev_probe(struct sgpr_dev *d);

/**
 * sgpr_dev_prout_unsupported() - did the device refuse a PR OUT service action
 * @d: the handle
 * @sa: the service action
 *
 * Return: true if @sa was answered as unsupported (-EOPNOTSUPP) on this handle.
 */
SGPR_PUBLIC bool sgpr_dev_prout_unsupported(const struct sgpr_dev *d, enum sgpr_prout_sa sa);
/**
 * sgpr_dev_prin_unsupported() - did the device refuse a PR IN service action
 * @d: the handle
 * @sa: the service action
 *
 * Return: true if @sa was answered as unsupported (-EOPNOTSUPP) on this handle.
 */
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

/**
 * sgpr_lease_new() - a lease on one device
 * @d: the handle, borrowed: it must outlive the lease
 * @opts: the options, size set to sizeof(struct sgpr_lease_opts); copied
 * @ret: the new lease, freed with sgpr_lease_free(); written only on success
 *
 * Return: 0, -EINVAL (NULL argument, size 0, host id or namespace 0, invalid type,
 * dead_after_ms not above period_ms), -E2BIG (unknown fields of a newer header set),
 * -ERANGE (period_ms above SGPR_LEASE_PERIOD_MAX_MS), -ENOMEM.
 */
SGPR_PUBLIC int sgpr_lease_new(struct sgpr_dev *d, const struct sgpr_lease_opts *opts,
			       struct sgpr_lease **ret);
/**
 * sgpr_lease_free() - free a lease's state
 * @l: the lease, or NULL
 *
 * The reservation is left as it is (see sgpr_lease_release()).
 *
 * Return: NULL.
 */
SGPR_PUBLIC struct sgpr_lease *sgpr_lease_free(struct sgpr_lease *l);
/**
 * sgpr_lease_acquire() - take a free LUN, or keep our own
 * @l: the lease
 * @ret_event: SGPR_LEASE_ACQUIRED (register and reserve) or SGPR_LEASE_ADOPTED (our own key
 *             already held it), written on success
 *
 * Return: 0, -EBADE if another key holds it (see sgpr_lease_observe()), else the errno
 * table at the top.
 */
SGPR_PUBLIC int sgpr_lease_acquire(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/**
 * sgpr_lease_renew() - renew a held lease, once per lease period
 * @l: the lease
 * @ret_event: what happened (RENEWED, RECOVERED, UNREACHABLE, PEER_REMOVED or a LOST_* event,
 *             which leaves the lease in SGPR_LEASE_LOST)
 *
 * REGISTER old key -> next epoch, confirm the reservation, remove peers lingering past
 * dead_after.
 *
 * Return: 0 with an event, -ENOLCK if not held, -EINVAL for NULL.
 */
SGPR_PUBLIC int sgpr_lease_renew(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/**
 * sgpr_lease_observe() - watch the holder, once per lease period while not held
 * @l: the lease
 * @ret_event: NONE, ACQUIRED (the LUN was free), TAKEN_OVER or HOLDER_ALIVE
 *
 * When the holder's key has not changed for dead_after, take over with PREEMPT AND ABORT
 * (fallback PREEMPT) of that exact key; the target refuses it if the holder renewed.
 *
 * Return: 0 with an event, -EBADE when never takeable (an all registrants type), else the
 * errno table at the top.
 */
SGPR_PUBLIC int sgpr_lease_observe(struct sgpr_lease *l, enum sgpr_lease_event *ret_event);
/**
 * sgpr_lease_release() - release a lease and park the reservation
 * @l: the lease
 *
 * Our key becomes the namespace's parking key (REGISTER on every path), so the LUN stays
 * reserved and every unregistered nexus (a preempted host included) stays refused; the next
 * acquirer preempts the parking key. The lease becomes IDLE.
 *
 * Return: 0, else the errno table at the top.
 */
SGPR_PUBLIC int sgpr_lease_release(struct sgpr_lease *l);
/**
 * sgpr_park() - park the reservation a key holds, as sgpr_lease_release()
 * @d: the handle
 * @ns: namespace (not 0)
 * @key: the key this nexus holds the reservation with (not 0)
 *
 * Return: 0 once PR IN confirms the parking key holds it, -EINVAL for a 0 argument, else
 * the errno table at the top.
 */
SGPR_PUBLIC int sgpr_park(struct sgpr_dev *d, uint16_t ns, uint64_t key);
/**
 * sgpr_lease_get_state() - the state of a lease
 * @l: the lease
 *
 * Return: IDLE, HELD or LOST; IDLE for NULL.
 */
SGPR_PUBLIC enum sgpr_lease_state sgpr_lease_get_state(const struct sgpr_lease *l);
/**
 * sgpr_lease_key() - the key of a lease
 * @l: the lease
 *
 * Return: the key held (in SGPR_LEASE_LOST: the key that was lost); 0 when idle.
 */
SGPR_PUBLIC uint64_t sgpr_lease_key(const struct sgpr_lease *l);
/**
 * sgpr_lease_last_holder() - the holder key last seen
 * @l: the lease
 *
 * Return: the key (after TAKEN_OVER: the key that was taken over), 0 if none.
 */
SGPR_PUBLIC uint64_t sgpr_lease_last_holder(const struct sgpr_lease *l);
/**
 * sgpr_lease_takeover_aborted() - how the last takeover preempted
 * @l: the lease
 *
 * Return: true when the target carried out PREEMPT AND ABORT, false for PREEMPT.
 */
SGPR_PUBLIC bool sgpr_lease_takeover_aborted(const struct sgpr_lease *l);
/**
 * sgpr_lease_last_renewal_ms() - when the target last confirmed our key
 * @l: the lease
 *
 * Return: the time on the device's clock (sgpr_clock, CLOCK_BOOTTIME), 0 if never.
 */
SGPR_PUBLIC uint64_t sgpr_lease_last_renewal_ms(const struct sgpr_lease *l);
/**
 * sgpr_lease_holder_period_ms() - the period the watched holder's key announces
 * @l: the lease
 *
 * Return: the period in ms, 0 for none (static or foreign key).
 */
SGPR_PUBLIC unsigned sgpr_lease_holder_period_ms(const struct sgpr_lease *l);
/**
 * sgpr_lease_dead_after_ms() - the wait an observer applies to the current holder
 * @l: the lease
 *
 * Return: dead_after_ms, raised to SGPR_LEASE_DEAD_FLOOR_MS() of the holder's period.
 */
SGPR_PUBLIC unsigned sgpr_lease_dead_after_ms(const struct sgpr_lease *l);
/**
 * sgpr_lease_event_name() - name of a lease event
 * @ev: the event
 *
 * Return: a static string ("taken-over", ...), NULL when out of range.
 */
SGPR_PUBLIC const char *sgpr_lease_event_name(enum sgpr_lease_event ev);

#ifdef __cplusplus
}
#endif

#endif /* SGPR_H */
