/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlock: the command line of sgpr. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "errors.h" /* EXIT_*, exit_code_from_errno(), errno_words() */
#include "json.h"
#include "sgpr.h"

/* prlockd's control socket (docs/prlockd.md) */
#define PRLOCKD_CONTROL_DEFAULT "/run/prlockd/control.sock"

struct prlock {
	bool json;
	bool pretty;
	struct sgpr_config cfg; /* merged: defaults < config file < command line */
	uint16_t ns;		/* namespace of cfg.cluster */
	struct sgpr_dev_opts dev_opts;
	struct json j;

	/* verb options */
	bool type_set;		/* --type given (else cfg.type or the default) */
	bool static_lease;	/* acquire --static */
	bool force;		/* preempt/clear --force */
	bool no_abort;		/* preempt --no-abort: plain PREEMPT */
	bool keep_registration; /* release --keep-registration */
	uint64_t victim;	/* preempt --victim KEY */
	uint16_t victim_host;	/* preempt --host ID */
	bool if_dead;		/* preempt --if-dead */
	bool wait_timeout_set;	/* preempt --if-dead --timeout given */
	unsigned wait_timeout_ms;
	const char *control; /* --control PATH: prlockd's socket */
	bool wait;	     /* acquire --wait[=SECONDS] */
	unsigned wait_ms;    /* 0: no bound */
	char **cmd;	     /* run: the command after "--" */
	int ncmd;
};

struct verb {
	const char *name;
	int (*fn)(struct prlock *p, int ndev, char **devs);
	int min_args, max_args; /* devices; -1: any number */
	unsigned options;	/* OPT_* bits the verb accepts besides the global ones */
	const char *usage;
	const char *summary;
	bool read_only; /* PR IN only: iscsi:// logs in with the observer ISID (docs/SESSIONS.md) */
};

enum {
	OPT_TYPE = 1u << 0,
	OPT_STATIC = 1u << 1,
	OPT_WAIT = 1u << 2,
	OPT_VICTIM = 1u << 3,
	OPT_HOST = 1u << 4,
	OPT_FORCE = 1u << 5,
	OPT_NO_ABORT = 1u << 6,
	OPT_KEEP_REG = 1u << 7,
	OPT_KILL_GRACE = 1u << 8,
	OPT_IF_DEAD = 1u << 9,
	OPT_TIMEOUT = 1u << 10,
};

/* common.c */
/* "prlock: DEV: what: cause" on stderr; returns the exit code of r. */
int fail(int r, const char *dev, const char *what, const struct sgpr_status *st);
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int open_dev(struct prlock *p, const char *target, struct sgpr_dev **ret);
/* The static key of this host (epoch 0). */
uint64_t own_static_key(const struct prlock *p);
bool key_is_ours(const struct prlock *p, uint64_t key);
/* First key of this host in keys (any epoch), or 0. */
uint64_t find_own_key(const struct prlock *p, const struct sgpr_keys *keys);
unsigned count_key(const struct sgpr_keys *keys, uint64_t key);
/* "host 7 (this host)", "host 7", "foreign" */
const char *owner_label(const struct prlock *p, uint64_t key, char *buf, size_t len);
const char *own_id_holder_words(struct prlock *p, struct sgpr_dev *d, uint64_t holder, char *buf,
				size_t len);
void json_owner(struct prlock *p, uint64_t key);
/*
 * Make sure this nexus is registered with this host's key: adopt the key if
 * READ KEYS lists it (a previous session left it), else REGISTER the static
 * key. Returns the key in *ret_key, or an exit code != 0 after printing.
 */
int ensure_registered(struct prlock *p, struct sgpr_dev *d, uint64_t *ret_key);
/* The reservation type to use: --type, else the config file, else write-exclusive-reg-only. */
int effective_type(const struct prlock *p);

/* Outcome of a state-changing verb on one device (human line and JSON object). */
struct result {
	const char *action;  /* "registered", "acquired", ... */
	const char *message; /* human line, printed after "DEV: " */
	uint64_t key;
	int type;
	uint64_t victim;
	bool has_aborted, aborted;
};
void results_begin(struct prlock *p);
void result_device(struct prlock *p, const char *dev, int code, const struct result *res);
int results_end(struct prlock *p, int ret);

/* verbs */
int verb_status(struct prlock *p, int ndev, char **devs);
int verb_keys(struct prlock *p, int ndev, char **devs);
int verb_caps(struct prlock *p, int ndev, char **devs);
int verb_register(struct prlock *p, int ndev, char **devs);
int verb_unregister(struct prlock *p, int ndev, char **devs);
int verb_acquire(struct prlock *p, int ndev, char **devs);
int verb_release(struct prlock *p, int ndev, char **devs);
int verb_check(struct prlock *p, int ndev, char **devs);
int verb_preempt(struct prlock *p, int ndev, char **devs);
int verb_clear(struct prlock *p, int ndev, char **devs);
int verb_run(struct prlock *p, int ndev, char **devs);
int verb_leases(struct prlock *p, int ndev, char **devs);
int verb_protect(struct prlock *p, int ndev, char **devs);

/* verb-daemon.c: through prlockd */
int acquire_via_daemon(struct prlock *p, int ndev, char **devs);
/* 0 released by prlockd, -1 prlockd does not hold dev (or does not run), else an exit code */
int release_via_daemon(struct prlock *p, const char *dev);

/* progress.c: one line rewritten on stderr during a wait; only on a terminal, never with --json */
struct progress {
	bool on, shown;
	const char *dev;
	uint64_t holder;     /* the holder key last seen (0: none yet) */
	unsigned changes;    /* holder key changes seen */
	uint64_t changed_ms; /* when holder was first seen (monotonic ms) */
};
void progress_init(struct progress *pr, const struct prlock *p, const char *dev);
void progress_show(struct progress *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Erase the line (before another message, and when the wait ends). */
void progress_clear(struct progress *pr);
/* Erase whatever line is shown: before a message of libsgpr's during a wait. */
void progress_clear_any(void);
/* Note the holder key seen at now_ms; a different nonzero key counts as a change. */
void progress_holder(struct progress *pr, uint64_t holder, uint64_t now_ms);

/* verb-run.c: lease options from the configuration and the command line */
struct sgpr_lease_opts lease_opts(const struct prlock *p, bool static_lease);
/* preempt --if-dead */
int preempt_if_dead(struct prlock *p, const char *dev);
