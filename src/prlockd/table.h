/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd's lease table: every decision of the daemon about its leases, without sockets,
 * threads, global clocks or log sinks, so that prlockd and the multi-host simulator
 * (tests/unit/sim-driver-prlockd.c) run the same code.
 *
 * The table owns the entries (one per device held, waited for, re-adopted or lost), their
 * schedule (one due time each), the requests of clients (acquire, release, protect), the loss
 * actions and the pending SIGKILLs, and the content of the state file. It reads time from an
 * injectable struct sgpr_clock (CLOCK_BOOTTIME in the daemon) and asks its owner, through
 * struct table_ops, for every side effect: run a job on a worker, open and lock a device,
 * signal a protected process, run the loss hook, write the state file, answer a client, log.
 *
 * Threads: every table_* function belongs to one thread (the daemon's main thread), except
 * table_job_run(), which the runner of a submitted job calls (a worker), and table_job_device().
 * While a job runs, the table does not touch the entry's device and lease.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sgpr.h"

struct table;
struct table_entry;

/* A process stopped when its lease is lost; start tells a reused PID apart. */
struct protected_proc {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime */
};

enum entry_state {
	ENTRY_ADOPTING, /* recorded in the state file, not confirmed yet (device unreachable) */
	ENTRY_HELD,
	ENTRY_WAITING, /* acquire --wait: observing the holder */
	ENTRY_LOST,
	ENTRY_ACQUIRING, /* the first acquire of a client request is running on a worker */
};

/* What a job does with an entry. */
enum job_kind {
	JOB_RENEW,   /* ENTRY_HELD, each period */
	JOB_OBSERVE, /* ENTRY_WAITING, each period */
	JOB_ADOPT,   /* ENTRY_ADOPTING: open, sgpr_lease_acquire */
	JOB_ACQUIRE, /* ENTRY_ACQUIRING: open, sgpr_lease_acquire */
	JOB_RELEASE, /* release request on ENTRY_HELD */
};

/*
 * A job handed to ops->submit. The runner may use next for its queues; the rest is the
 * table's. It runs table_job_run() once (any thread), then gives the job back with
 * table_job_done() on the table's thread.
 */
struct table_job {
	struct table_job *next;
};

/*
 * Who asks (SO_PEERCRED, SO_PEERGROUPS). A lease belongs to the uid whose acquire created it;
 * re-adopted from a state file, only the uid is known (groups_known false: the daemon looks
 * the groups up when it opens the device).
 */
struct table_cred {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	bool groups_known;
};

/* Pending or running acquires (acquiring, waiting, queued) of one non-root uid at most. */
#define TABLE_ACQUIRES_PER_UID 8
/* Live protected processes (each a pidfd in prlockd) under the leases of one non-root uid. */
#define TABLE_PROCS_PER_UID 1024

/* The answer to a request of a client (ops->reply). */
enum table_reply_kind {
	TABLE_REPLY_LEASE,    /* held: event, key, type, victim, waited_ms */
	TABLE_REPLY_RELEASED, /* released, cancelled, forgotten: event, key */
	TABLE_REPLY_ERROR,    /* error (a word of the control protocol), message */
};

struct table_reply {
	enum table_reply_kind kind;
	const char *dev;
	const char *event;
	uint64_t key;
	int type;
	uint64_t victim; /* taken-over: the dead holder's key */
	bool waited;	 /* acquire --wait: waited_ms is set */
	uint64_t waited_ms;
	const char *error;
	const char *message;
};

struct table_ops {
	/* Run the job on a worker (or inline, later); it comes back through table_job_done(). */
	void (*submit)(void *userdata, struct table_job *job);
	/* Answer the client waiter of a request (the token given to table_acquire/release). */
	void (*reply)(void *userdata, void *waiter, const struct table_reply *rp);
	/*
	 * Runner's thread: open dev (sgpr_dev_open()) for the lease's owner: a non-root owner
	 * may only get a device it could open itself (-EPERM otherwise; -EACCES: prlockd
	 * itself may not open it).
	 */
	int (*dev_open)(void *userdata, const char *dev, const struct table_cred *owner,
			struct sgpr_dev **ret);
	/* Close a device of dev_open. NULL: sgpr_dev_free(). */
	void (*dev_close)(void *userdata, struct sgpr_dev *d);
	/*
	 * Runner's thread: this host's one holder of the LUN (lunlock.h). Returns a lock handle
	 * >= 0, -EBUSY when another process holds it (*ret_owner), another -errno when there is
	 * no lock to take (the lease engine's key check remains). NULL: no lock.
	 */
	int (*lun_lock)(void *userdata, struct sgpr_dev *d, pid_t *ret_owner);
	void (*lun_unlock)(void *userdata, int lock);
	bool (*proc_alive)(void *userdata, const struct protected_proc *p);
	/* Send sig (SIGTERM, SIGKILL); -errno on failure. */
	int (*proc_signal)(void *userdata, const struct protected_proc *p, int sig);
	/*
	 * Start the loss hook for dev, the lease of uid owner; its pid (> 0), or -errno after
	 * logging why (the table does not log it again). Its end: table_hook_exited().
	 */
	pid_t (*hook_start)(void *userdata, const char *dev, uid_t owner, enum sgpr_lease_event ev,
			    uint64_t key, const struct protected_proc *procs, size_t n_procs);
	void (*hook_kill)(void *userdata, pid_t pid);
	/* Replace the state file with buf (the daemon: temporary file, fsync, rename). */
	int (*state_write)(void *userdata, const char *buf, size_t len);
	/* One message at a syslog priority. */
	void (*log)(void *userdata, int prio, const char *msg);
	/*
	 * One message about a lease of non-root uid owner that its owner can provoke at will
	 * (requests, renewals of its devices): the daemon rate-limits them per uid. NULL: log.
	 */
	void (*log_owner)(void *userdata, uid_t owner, int prio, const char *msg);
};

struct table_config {
	const struct sgpr_clock *clock; /* the lease engine's clock (CLOCK_BOOTTIME) */
	uint16_t ns, host_id;
	unsigned period_ms, dead_after_ms, kill_grace_ms, self_fence_after_ms;
	bool loss_hook;		  /* a loss runs ops->hook_start; false: SIGTERM, then SIGKILL */
	unsigned hook_timeout_ms; /* a hook still running after this is killed */
};

/* ops and cfg are copied; userdata is passed to every op. */
int table_new(const struct table_config *cfg, const struct table_ops *ops, void *userdata,
	      struct table **ret);
/* Frees the entries, their leases and devices: no job may run any more. Leases are kept. */
struct table *table_free(struct table *t);

/*
 * The state file (docs/prlockd.md): load the text of a previous table's file (name only for
 * messages) before anything else; table_state_format() is what ops->state_write receives.
 */
int table_state_load(struct table *t, const char *text, const char *name);
int table_state_format(struct table *t, char **ret_buf, size_t *ret_len);
/* Re-adopt every recorded device now (start-up). */
void table_adopt_all(struct table *t);

/*
 * Requests of a client. waiter is its token for ops->reply, which is called exactly once
 * for it (perhaps from within the call), unless table_waiter_gone() comes first. cred is
 * copied. Only the lease's owner or root may release it (or cancel its acquire --wait).
 */
void table_acquire(struct table *t, void *waiter, const struct table_cred *cred, const char *dev,
		   int type, bool wait, unsigned wait_ms);
void table_release(struct table *t, void *waiter, uid_t uid, const char *dev);
/*
 * Stop p on a loss of dev's lease, asked by uid. -ENOENT: dev is not held (or re-adopted);
 * -EPERM: uid is neither root nor the lease's owner.
 */
int table_protect(struct table *t, const char *dev, uid_t uid, const struct protected_proc *p);
/* table_protect's checks, before prlockd holds the process: and -EDQUOT, over the bound. */
int table_may_protect(struct table *t, const char *dev, uid_t uid);
/* The client of waiter left: no reply; a pending acquire --wait is cancelled. */
void table_waiter_gone(struct table *t, void *waiter);

/* Runner's side: the library calls of the job (no other state, no log). */
void table_job_run(struct table_job *job);
/* What a job does (any thread: set before ops->submit). */
enum job_kind table_job_kind(const struct table_job *job);
/* The uid that owns the lease a job works on (any thread: set before ops->submit). */
uid_t table_job_owner(const struct table_job *job);
/* The device a job works on (any thread, for the runner's messages). */
const char *table_job_device(const struct table_job *job);
/* What a job that ran did: its kind, the library's return value and event. */
enum job_kind table_job_result(const struct table_job *job, int *ret_r,
			       enum sgpr_lease_event *ret_ev);
/* Apply the result of a finished job: state, loss actions, state file, replies. */
void table_job_done(struct table *t, struct table_job *job);
/* Pending SIGKILLs and hook timeouts, then hand the entries that are due to ops->submit. */
void table_tick(struct table *t);
/* The table's clock time when table_tick() has something to do (UINT64_MAX: nothing). */
uint64_t table_next_wakeup(const struct table *t);
/*
 * The block devices changed (paths.c: a map's table, a SCSI disk added or removed): every held
 * dm-multipath map renews now, first re-reading its paths (sgpr_dev_refresh_paths()) and
 * registering a path that joined it with the lease's current key (sgpr_adopt_key()). added: a
 * SCSI disk just added ("/dev/sdX", or NULL), tried as a path of each map before multipathd
 * puts it in one (sgpr_dev_add_path(): only if it leads to the map's LUN).
 */
#define TABLE_PATHS_NEW_MAX 8 /* disks remembered per map between two renewals */
#define TABLE_PATH_NAME_MAX 32
void table_paths_changed(struct table *t, const char *added);
/* The loss hook pid ended with a waitpid() status. */
void table_hook_exited(struct table *t, pid_t pid, int status);
uint64_t table_now(const struct table *t);

/* Reading the entries (status, the pr-helper policy, the simulator). */
struct table_info {
	const char *dev;
	uint64_t serial; /* unique for the table's life: an entry re-added is a new one */
	uid_t owner;	 /* the uid whose acquire created it (0: root, or an old state file) */
	enum entry_state state;
	int type;
	uint64_t key, holder; /* LOST: the key lost and the holder then */
	uint64_t last_renewal_ms;
	bool unreachable, busy;
	uint64_t job_start, next_due;
	enum sgpr_lease_event lost_event;
	const struct protected_proc *procs;
	size_t n_procs;
	struct sgpr_dev *d; /* NULL while a job runs or before the device is open */
};

size_t table_count(const struct table *t);
void table_info(const struct table *t, size_t i, struct table_info *ret);
size_t table_count_held(const struct table *t); /* held or being re-adopted */
size_t table_count_kills(const struct table *t);
const char *entry_state_name(enum entry_state s);
/* "held by host 7 (key 0x...)" */
const char *table_holder_words(const struct table *t, uint64_t holder, char *buf, size_t len);
