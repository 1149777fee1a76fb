/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The multi-host simulator's world: internal to sim-world.c, sim-check.c and the drivers. */
#pragma once

#include "sim-hosts.h"

#define SIMH_TRACE 64
#define SIMH_MAX_FAULTS 10
#define SIMH_MAX_REGS 32

struct simh_fault {
	uint64_t at; /* world time */
	enum simh_fault_kind kind;
	unsigned host, path;
	uint64_t dur;
	bool flag; /* TIMEOUT: executed; TARGET_RESTART: drop sessions; SUSPEND: clock stops */
	uint8_t opcode;
	bool match;
	unsigned skip, count;
	bool started, ended;
};

enum simh_tr_kind {
	SIMH_TR_ACT,
	SIMH_TR_WRITE,
	SIMH_TR_FAULT,
	SIMH_TR_FAULT_END,
	SIMH_TR_HOLDER,
	SIMH_TR_FENCED,
	SIMH_TR_REGS, /* the actor's registrations changed */
};

struct simh_tr {
	uint64_t t;
	int host; /* -1: the target */
	enum simh_tr_kind kind;
	unsigned op; /* op, fault kind, write path */
	int rc;
	enum sgpr_lease_event ev;
	bool flag;	    /* ACT: held after; WRITE: probe */
	uint64_t key, key2; /* REGS: the keys of its first two registrations */
};

struct simh_reg {
	const char *name; /* stable: the sim keeps its nexus names */
	int host;	  /* index, -1 not one of ours */
	uint64_t key;
	bool holder;
};

struct simh_snap {
	unsigned n;
	struct simh_reg r[SIMH_MAX_REGS];
	int res_type;
	uint64_t holder_key;
	int holder_host; /* -1: none or not ours */
};

struct simh_world {
	uint64_t rng, seed;
	const struct simh_params *p;
	struct simh_result *res;
	struct sim_fx fx;
	bool tgt;
	uint16_t ns;
	uint64_t now, t0; /* world time */
	unsigned step;
	unsigned nhosts;
	struct simh_host hosts[SIMH_MAX_HOSTS];
	unsigned nfaults;
	struct simh_fault faults[SIMH_MAX_FAULTS];
	struct simh_snap snap;
	struct simh_tr trace[SIMH_TRACE];
	unsigned ntrace;
	bool failed;
	uint64_t state_lost_at; /* last target restart that lost the PR state (no APTPL); 0: none */
};

/* xorshift64* seeded through splitmix64: the only source of randomness. */
static inline uint64_t simh_rand(struct simh_world *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi]. */
static inline uint64_t simh_range(struct simh_world *w, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + simh_rand(w) % (hi - lo + 1);
}

/* True with probability pct / 100. */
static inline bool simh_chance(struct simh_world *w, unsigned pct)
{
	return simh_rand(w) % 100 < pct;
}

static inline uint64_t simh_host_now(const struct simh_host *h)
{
	return (uint64_t)((int64_t)h->w->now + h->clock_offset);
}

/* sim-check.c */
void simh_snap_take(struct simh_world *w, struct simh_snap *s);
void simh_trace(struct simh_world *w, const struct simh_tr *tr);
void simh_fail(struct simh_world *w, enum simh_inv inv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After host actor's step (-1: a fault of the target): fencing, takeovers (I3). */
void simh_after_change(struct simh_world *w, int actor);
/* After a driver step of h: I4, I5. */
void simh_check_act(struct simh_world *w, struct simh_host *h, const struct simh_act *act);
/* After an accepted write of h: I1, I2. */
void simh_check_write(struct simh_world *w, struct simh_host *h, bool probe);
void simh_print_trace(struct simh_world *w, FILE *out);
const char *simh_op_name(enum simh_op op);
