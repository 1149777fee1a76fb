/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lease table's structures, shared by table.c, table-request.c and table-state.c only. */
#pragma once

#include "table.h"

/* A request that waits for its entry's job to end (requests on one device keep their order). */
struct table_request {
	bool release; /* else acquire */
	void *waiter;
	struct table_cred cred; /* deferred: groups is a copy the request owns */
	char *dev;
	int type;
	bool wait;
	unsigned wait_ms;
	struct table_request *next;
};

/*
 * One device the table holds, waits for, re-adopts or lost. While busy, d, l, lock,
 * lock_owner, job_r and job_ev belong to the runner of the job; the table reads the snapshot
 * (key, holder, last_renewal_ms) instead.
 */
struct table_entry {
	struct table_job job; /* first: the runner's link */
	struct table *t;
	uint64_t serial;
	char *dev;		 /* as given by the client: the identity of the device */
	struct table_cred owner; /* groups: the entry's own copy */
	int type;
	enum entry_state state;
	struct sgpr_dev *d;
	struct sgpr_lease *l;
	int lock;	    /* ops->lun_lock: -1 not taken yet, -2 none to take */
	pid_t lock_owner;   /* -EBUSY: the process that holds the LUN's lock */
	bool mismatch_told; /* logged that the holder's key announces a longer period */
	uint64_t next_due;
	bool unreachable; /* the last renewal did not reach the device */
	/* table_paths_changed(): a map's paths are re-read before its next renewal */
	bool paths_dirty, paths_none; /* none: not a map, nothing to re-read */
	bool job_paths;		      /* this renewal re-reads them (the runner's result below) */
	/* SCSI disks added since: tried as paths of the map first (sgpr_dev_add_path()) */
	char paths_new[TABLE_PATHS_NEW_MAX][TABLE_PATH_NAME_MAX];
	unsigned n_paths_new;
	char job_paths_new[TABLE_PATHS_NEW_MAX][TABLE_PATH_NAME_MAX];
	unsigned job_n_paths_new;
	int job_paths_r;
	unsigned job_paths_added, job_paths_removed;

	/* snapshot of l after each job */
	uint64_t key, holder, last_renewal_ms;

	bool busy; /* handed to ops->submit, not done yet */
	enum job_kind kind;
	int job_r;
	enum sgpr_lease_event job_ev;
	unsigned job_reconnects, job_recoveries; /* the device's new logins during the job */
	uint64_t job_start;
	struct table_request *deferred;

	void *waiter;	  /* the client answered when the job (or the wait) ends */
	bool waiter_left; /* ... which left while the job ran */
	uid_t req_uid;
	bool acq_wait;
	unsigned acq_wait_ms;
	uint64_t wait_start, wait_deadline; /* deadline 0: no bound */

	struct protected_proc *procs;
	size_t n_procs;

	/* the state file: the key recorded and its last confirmed renewal (table clock) */
	uint64_t rec_key, rec_confirmed_ms;

	/* ENTRY_LOST */
	enum sgpr_lease_event lost_event;
	uint64_t lost_key, lost_holder;
	pid_t hook_pid;
	uint64_t hook_deadline;
};

/*
 * A protected process sent SIGTERM on a loss, SIGKILLed at kill_at if it still runs. The
 * table keeps it, not the entry: a release or a new acquire does not cancel it, and the
 * state file records it so that the next table still kills the survivor.
 */
struct pending_kill {
	char *dev; /* for the log */
	struct protected_proc proc;
	uint64_t kill_at; /* table clock */
};

struct table {
	struct table_config cfg;
	struct table_ops ops;
	void *userdata;
	uint64_t serial;

	struct table_entry **entries;
	size_t n_entries;
	uint64_t state_saved_ms; /* renewals refresh the state file at most once a period */
	struct pending_kill *kills;
	size_t n_kills;
	struct table_request *ready; /* deferred requests whose entry is idle again */
};

void tlog(const struct table *t, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* tlog() for a line of owner's lease that a non-root owner can repeat (ops.log_owner) */
void tlog_owner(const struct table *t, uid_t owner, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool table_proc_alive(const struct table *t, const struct protected_proc *p);

/* table.c */
struct table_entry *entry_find(struct table *t, const char *dev);
int entry_add(struct table *t, const char *dev, int type, const struct table_cred *owner,
	      struct table_entry **ret);
gid_t *groups_dup(const struct table_cred *c);
void request_free(struct table_request *q);
void entry_remove(struct table_entry *e);
void entry_submit(struct table_entry *e, enum job_kind kind);
void entry_snap(struct table_entry *e);
int kill_add(struct table *t, const char *dev, const struct protected_proc *p, uint64_t kill_at);
int proc_add(struct table_entry *e, const struct protected_proc *p);
/* Forget the protected processes of e that have ended. */
void prune_procs(struct table_entry *e);
int table_state_save(struct table *t);

/* table-request.c */
void waiter_done(struct table_entry *e, int r, enum sgpr_lease_event ev);
void acquire_done(struct table_entry *e);
void release_done(struct table_entry *e);
/* e's job ended or e goes away: its deferred requests run next (requests_run_ready). */
void requests_entry_idle(struct table_entry *e);
void requests_run_ready(struct table *t);
