/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim transport: an in-memory SPC-4 persistent reservation target (SPC-4 5.12) for unit tests.
 *
 * One struct sgpr_sim_lun is one logical unit. Every handle opened on it with sgpr_sim_open()
 * is one I_T nexus (one host, or one path of a host). The model parses CDBs and parameter lists
 * itself and never calls the library's encoders or parsers. Fault hooks (SQLite test_vfs style)
 * and a fake clock let tests drive the device layer's retry and recovery paths.
 *
 * Not thread-safe: a LUN and every handle on it are used by one thread at a time (tests that
 * hand sim handles to server threads order those threads themselves).
 */
#pragma once

#include "sgpr-private.h"

#define SGPR_SIM_BLOCK_SIZE 512u
#define SGPR_SIM_DEFAULT_BLOCKS 64u

struct sgpr_sim_config {
	unsigned blocks;	    /* 0: SGPR_SIM_DEFAULT_BLOCKS */
	uint8_t unsupported_prout;  /* bit per PR OUT service action answered ILLEGAL REQUEST 24/00
				     */
	uint8_t unsupported_prin;   /* bit per PR IN service action answered 24/00 */
	bool session_registrations; /* tgt: registrations belong to the session, not the nexus name
				     */
	bool ua_on_login;	    /* 29/00 queued on every new session */
	bool tgt_uas;	     /* 2A/03 on preempt, 2A/04 to the releaser, REQUEST SENSE keeps UA */
	bool tgt_generation; /* +1 on every REGISTER (no-ops too), +2 if it drops the reservation */
	bool tgt_checks;     /* SPEC_I_PT/ALL_TG_PT/APTPL and PREEMPT of key 0 get 24/00 */
	bool descriptor_sense; /* sense in descriptor format (0x72) instead of fixed (0x70) */
	bool no_ptpl; /* cannot persist: PTPL_C 0, APTPL refused (ILLEGAL REQUEST); a restart loses
			 all */
};

/* A compliant target: registrations per nexus name, SPC unit attentions, APTPL, ALL_TG_PT. */
struct sgpr_sim_config sgpr_sim_config_spc(void);
/* tgtd 1.0.85 as described in refs/targets-tgt-libiscsi-sgutils.md section 1, quirks included. */
struct sgpr_sim_config sgpr_sim_config_tgt(void);

struct sgpr_sim_lun *sgpr_sim_lun_new(const struct sgpr_sim_config *cfg);
/* Handles still open on the LUN stay valid but get -ENOTCONN (reconnect: -ENODEV). */
struct sgpr_sim_lun *sgpr_sim_lun_free(struct sgpr_sim_lun *lun);

/*
 * Open a handle as a new session of I_T nexus nexus_name ("iqn.x" or "iqn.x,i,0x<12 hex ISID>",
 * the form READ FULL STATUS reports). Free it with sgpr_dev_free().
 */
int sgpr_sim_open(struct sgpr_sim_lun *lun, const char *nexus_name,
		  const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);

/*
 * Open one handle with several paths, one I_T nexus (and session) per name, as the
 * /dev/sdX of a dm-multipath map: sgpr_dev_path_count() is npaths, path i is names[i].
 */
int sgpr_sim_open_paths(struct sgpr_sim_lun *lun, const char *const names[], unsigned npaths,
			const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);

/* ---- inspection ------------------------------------------------------- */

uint32_t sgpr_sim_lun_generation(const struct sgpr_sim_lun *lun);
unsigned sgpr_sim_lun_registrations(const struct sgpr_sim_lun *lun);
/* The reservation type (0: none) and, for non all-registrants types, the holder's key. */
int sgpr_sim_lun_reservation(const struct sgpr_sim_lun *lun, uint64_t *ret_key);
/*
 * Registration i, 0 .. sgpr_sim_lun_registrations() - 1: its key, the name of the I_T nexus it
 * was made on (also for a tgt orphan whose session is gone) and whether it holds the
 * reservation (every registration does under the all-registrants types). -ENOENT past the end.
 */
int sgpr_sim_lun_registration(const struct sgpr_sim_lun *lun, unsigned i, uint64_t *ret_key,
			      const char **ret_nexus, bool *ret_holder);
/* Block lba of the in-memory store, SGPR_SIM_BLOCK_SIZE bytes, or NULL. */
uint8_t *sgpr_sim_lun_block(struct sgpr_sim_lun *lun, uint64_t lba);
unsigned sgpr_sim_lun_commands(const struct sgpr_sim_lun *lun);

/*
 * Add a registration of key for nexus_name with no live session behind it: another host, or a
 * tgt orphan left by a dead session. Returns 0 or -errno.
 */
int sgpr_sim_lun_add_registration(struct sgpr_sim_lun *lun, const char *nexus_name, uint64_t key);

/*
 * Target restart: PR state is lost unless APTPL was set (generation back to 0). With
 * drop_sessions every handle loses its session (-ENOTCONN until reconnect), else each one
 * gets 29/00 POWER ON OCCURRED.
 */
void sgpr_sim_lun_restart(struct sgpr_sim_lun *lun, bool drop_sessions);

/* execute() calls on this handle, all outcomes included. */
unsigned sgpr_sim_commands(const struct sgpr_dev *d);
/* The last CDB sent on this handle (NULL before the first). */
const uint8_t *sgpr_sim_last_cdb(const struct sgpr_dev *d, size_t *ret_len);
/* Current session number, 0 while disconnected; a reconnect gives a new one. */
unsigned sgpr_sim_session(const struct sgpr_dev *d);
unsigned sgpr_sim_pending_uas(const struct sgpr_dev *d);

/* ---- fault hooks ------------------------------------------------------ */

enum sgpr_sim_fault_kind {
	SGPR_SIM_FAULT_NONE,
	SGPR_SIM_FAULT_STATUS,	   /* answer status (+ sense key/ASC/ASCQ for CHECK CONDITION) */
	SGPR_SIM_FAULT_TIMEOUT,	   /* execute() returns -ETIMEDOUT */
	SGPR_SIM_FAULT_DISCONNECT, /* session lost: -ENOTCONN until reconnect() */
};

struct sgpr_sim_fault {
	enum sgpr_sim_fault_kind kind;
	unsigned skip;	   /* let this many matching commands through first */
	unsigned count;	   /* then fault this many (0 means 1; UINT_MAX: forever) */
	bool match_opcode; /* only commands whose first CDB byte is opcode */
	uint8_t opcode;
	bool executed; /* TIMEOUT, DISCONNECT: the command took effect before it was lost */
	uint8_t status, sense_key, asc, ascq;
};

/* One fault slot per handle; f NULL clears it. -EINVAL if d is not a sim handle. */
int sgpr_sim_set_fault(struct sgpr_dev *d, const struct sgpr_sim_fault *f);
/* Answer the next n commands with status (and sense if CHECK CONDITION). */
int sgpr_sim_fail_next(struct sgpr_dev *d, unsigned n, uint8_t status, uint8_t key, uint8_t asc,
		       uint8_t ascq);
/* Lose the session now. */
int sgpr_sim_disconnect(struct sgpr_dev *d);
/* The next n reconnect() calls fail with -ECONNREFUSED. */
int sgpr_sim_refuse_reconnect(struct sgpr_dev *d, unsigned n);
/* Queue a real unit attention on this nexus (delivered once, FIFO). */
int sgpr_sim_queue_ua(struct sgpr_dev *d, uint8_t asc, uint8_t ascq);

/*
 * Paths of a handle (path 0 is the only one of sgpr_sim_open() handles). The hooks above act
 * on the current path. A path that is down answers nothing (execute() -ENOTCONN, reconnect()
 * -EHOSTUNREACH) but keeps its session and registrations, as a pulled cable would.
 */
int sgpr_sim_path_down(struct sgpr_dev *d, unsigned path, bool down);
unsigned sgpr_sim_path_commands(const struct sgpr_dev *d, unsigned path);
int sgpr_sim_path_fault(struct sgpr_dev *d, unsigned path, const struct sgpr_sim_fault *f);

/* ---- fake clock ------------------------------------------------------- */

#define SGPR_SIM_CLOCK_LOG 64

struct sgpr_sim_clock {
	struct sgpr_clock clock; /* pass &c->clock as sgpr_dev_opts.clock */
	uint64_t now;
	unsigned nsleeps;
	uint64_t slept_ms;
	unsigned sleeps[SGPR_SIM_CLOCK_LOG]; /* the first sleeps, in order */
};

/* sleep_ms advances now instead of sleeping; a timeout fault advances now by the timeout. */
void sgpr_sim_clock_init(struct sgpr_sim_clock *c);
