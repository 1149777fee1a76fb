/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A deterministic multi-host simulator: several hosts, each with its own handles (I_T nexuses)
 * and its own clock, run decision code ("drivers") against one sim LUN on a virtual clock, with
 * faults drawn from a seed. After every step the world checks invariants from the target's
 * point of view (sgpr_sim_lun_registration()), not from what the hosts believe:
 *
 *   I1 no write is accepted from a host while another host's nexus holds the reservation;
 *   I2 no write is accepted from a host after another host removed its registration (a
 *      takeover), until that host acquires again;
 *   I3 no owner is taken over before its renewal was due (last confirmed renewal or
 *      acquisition less than its period L ago);
 *   I4 a host whose registration another host removed learns LOST_* (or -EBADE) at its next
 *      renewal that reaches the target, and a host that reports a held lease (acquired,
 *      adopted, taken over, renewed, recovered) is the holder the target names;
 *   I5 with self_fence_after S set, a renewal that did not reach the target more than S after
 *      the last one that did (in real time) reports LOST_SELF_FENCED.
 *
 * A driver is a small vtable, so decision code other than the lease engine (prlockd's lease
 * table) can be run in the same world.
 */
#pragma once

#include <stdio.h>

#include "sim-fixture.h"

#define SIMH_MAX_HOSTS 4
#define SIMH_MAX_PATHS 2
#define SIMH_NAME_PREFIX "iqn.2026-01.test:h"

enum simh_role {
	SIMH_HOLDER,  /* acquire, renew each period, write; release after a while */
	SIMH_STANDBY, /* observe each period (preempt --if-dead, acquire --wait), then hold */
	SIMH_RUNNER,  /* acquire, run ~0.6 L writing, release, again (prlock run in a loop) */
	SIMH_DAEMON,  /* prlockd: acquire, protect a process that writes, release when it ends */
	SIMH_DAEMON_WAIT, /* prlockd: acquire --wait (takes a dead holder over), then as daemon */
	_SIMH_ROLE_MAX,
};

/* Lease engine calls a driver step made, for the invariants and the trace. */
enum simh_op {
	SIMH_OP_NONE,
	SIMH_OP_ACQUIRE,
	SIMH_OP_RENEW,
	SIMH_OP_OBSERVE,
	SIMH_OP_RELEASE,
	SIMH_OP_RESTART, /* fresh decision state on a new session of the same nexus, acquire */
	_SIMH_OP_MAX,
};

struct simh_act {
	enum simh_op op;
	int rc;
	enum sgpr_lease_event ev;
	bool held; /* the host believes it holds the LUN after the step */
	uint64_t key;
};

struct simh_host;

struct simh_driver_ops {
	const char *name;
	/* Fresh decision state for h (start, or a daemon restart); h->dev is open. */
	int (*init)(struct simh_host *h);
	void (*fini)(struct simh_host *h);
	/*
	 * One action at host time now (h's clock). Returns the host time of the next one.
	 * restarted: the first step after init() following a restart (re-adopt).
	 */
	uint64_t (*step)(struct simh_host *h, uint64_t now, bool restarted, struct simh_act *act);
	/* The protected workload runs and writes now. */
	bool (*may_write)(const struct simh_host *h, uint64_t now);
	/* Optional: checks of the driver's own, at each turn of the host (world time w->now). */
	void (*check)(struct simh_host *h);
	/* Optional: free h->keep (what survives a restart) at the end of the episode. */
	void (*free_keep)(struct simh_host *h);
};

extern const struct simh_driver_ops simh_lease_driver;
/* prlockd's lease table (src/prlockd/table.h) with inline jobs: sim-driver-prlockd.c */
extern const struct simh_driver_ops simh_prlockd_driver;

struct simh_host_cfg {
	enum simh_role role;
	unsigned npaths;
	struct sgpr_lease_opts lease;
	unsigned hold_periods;	/* holder: release after this many renewals */
	unsigned kill_grace_ms; /* daemon roles: SIGTERM to SIGKILL */
};

struct simh_host {
	struct simh_world *w;
	unsigned idx; /* hosts are "h1" .. "hN" */
	struct simh_host_cfg cfg;
	char names[SIMH_MAX_PATHS][64];
	struct sgpr_sim_clock clock; /* this host's CLOCK_MONOTONIC: world time + offset */
	int64_t clock_offset;
	struct sgpr_dev_opts opts;
	struct sgpr_dev *dev;
	const struct simh_driver_ops *ops;
	void *drv;
	void *keep; /* the driver's state that a restart keeps (state file, processes) */

	uint64_t next_step;  /* host time */
	uint64_t next_write; /* world time */
	uint64_t next_probe; /* world time: a write attempted whatever the host believes */
	uint64_t paused_until, down_until; /* world time; down: the driver only */
	bool killed, restart_pending;
	/* what a daemon's state file keeps across a restart: the key held, its last confirmation */
	uint64_t rec_key, rec_confirmed;
	unsigned write_seq;

	/* what the world knows from the target */
	bool fenced; /* a registration removed by another host: no write until acquired */
	/*
	 * The last acquire/observe failed (the target did not answer): the registration of a
	 * failed takeover may still be there, and its withdrawal is retried at the next call.
	 * A registrant can write under the registrants-only types; a standby has no workload,
	 * so only probes write then: not counted as I1/I2 (docs/SIMULATOR.md).
	 */
	bool unsure;
	/*
	 * Its own last registration change parked the LUN (a release took effect, whatever its
	 * answer said): no longer an owner for I3, until it holds again.
	 */
	bool parked;
	bool loss_pending;     /* ... and the next renewal that reaches the target must say so */
	uint64_t last_conf;    /* world time of the last confirmed renewal or acquisition */
	uint64_t last_reached; /* world time a renewal or acquisition of ours last took effect */
	bool believes_held;
	uint64_t fenced_at;
	int fenced_by;
};

/* One episode's parameters, all drawn from its seed. */
struct simh_params {
	unsigned steps;	  /* world ticks */
	bool verbose;	  /* print the trace as it goes */
	int force_model;  /* -1 random, 0 SPC, 1 tgt */
	unsigned faults;  /* at most this many faults (default 6) */
	unsigned without; /* SIMH_NO_* features not drawn */
	/*
	 * Hosts' clocks stop during a suspend (CLOCK_MONOTONIC), as libsgpr's clock did before
	 * issue 8; default: they count it (CLOCK_BOOTTIME, what sgpr_clock_default() reads).
	 */
	bool monotonic;
	FILE *out; /* failure report and verbose trace; NULL: stderr */
};

enum simh_fault_kind {
	SIMH_F_PAUSE,	       /* hung: no step, no write */
	SIMH_F_KILL,	       /* crashed: nothing more; registrations stay */
	SIMH_F_RESTART,	       /* daemon down for a while (the workload keeps writing), restarted */
	SIMH_F_PATH_DOWN,      /* one path answers nothing for a while */
	SIMH_F_TARGET_RESTART, /* PR state lost (no APTPL) */
	SIMH_F_TIMEOUT,	       /* the next matching commands time out, executed or not */
	SIMH_F_SUSPEND,	       /* paused with sessions dropped; the clock stops or jumps */
	_SIMH_F_MAX,
};

const char *simh_fault_name(enum simh_fault_kind k);

/* Features an episode may draw, which simh_params.without can leave out. */
#define SIMH_NO_CLONE (1u << 0)	     /* two hosts with one host id */
#define SIMH_NO_MISMATCH (1u << 1)   /* different L and dead_after per host */
#define SIMH_NO_RUNNER (1u << 2)     /* short runs in a loop */
#define SIMH_NO_SELF_FENCE (1u << 3) /* self_fence_after */
#define SIMH_NO_MULTIPATH (1u << 4)  /* hosts with two paths */
#define SIMH_NO_DAEMON (1u << 5)     /* prlockd roles (the same episodes as before they were) */
#define SIMH_NO_FAULT(kind) (1u << (8 + (kind)))

enum simh_inv { SIMH_OK, SIMH_I1, SIMH_I2, SIMH_I3, SIMH_I4, SIMH_I5, SIMH_ERR };

struct simh_result {
	enum simh_inv inv;
	uint64_t seed;
	unsigned step;
	uint64_t t_ms; /* world time since the start */
	char what[256];
	char tags[128]; /* the episode's faults and settings, for bucketing */
	unsigned actions, writes;
};

int simh_run_episode(uint64_t seed, const struct simh_params *p, struct simh_result *res);
const char *simh_inv_name(enum simh_inv inv);
