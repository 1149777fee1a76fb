/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlockd: the daemon that holds this host's leases (docs/prlockd.md). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "sgpr.h"

#define PRLOCKD_CONTROL_DEFAULT "/run/prlockd/control.sock"
#define PRLOCKD_STATE_DIR_DEFAULT "/run/prlockd"
#define PRLOCKD_PR_SOCKET_DEFAULT "/run/prlockd/pr-helper.sock"
#define PRLOCKD_REQUEST_MAX 4096
#define PRLOCKD_HOOK_TIMEOUT_MS 30000u /* a loss hook is SIGKILLed after this */
#define PRLOCKD_CLIENT_IDLE_MS 10000u  /* a client must send its request line within this */
#define PRLOCKD_DEFAULT_WORKERS 4u     /* device I/O threads (pool.c) */
#define PRLOCKD_WORKERS_MAX 256u

/* log.c-style helpers (main.c): "<N>message" lines on stderr, journal format. */
extern int log_max_level;
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint64_t mono_ms(void);

struct protected_proc {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime: a reused PID is not ours */
};

enum entry_state {
	ENTRY_ADOPTING, /* recorded in the state file, not confirmed yet (device unreachable) */
	ENTRY_HELD,
	ENTRY_WAITING, /* acquire --wait: observing the holder */
	ENTRY_LOST,
	ENTRY_ACQUIRING, /* the first acquire of a client request is running on a worker */
};

/* What a worker does with an entry (job_run). */
enum job_kind {
	JOB_RENEW,   /* ENTRY_HELD, each period */
	JOB_OBSERVE, /* ENTRY_WAITING, each period */
	JOB_ADOPT,   /* ENTRY_ADOPTING: open, sgpr_lease_acquire */
	JOB_ACQUIRE, /* ENTRY_ACQUIRING: open, sgpr_lease_acquire */
	JOB_RELEASE, /* release request on ENTRY_HELD */
};

struct client;
struct pool;
struct prh_server;
struct held_dev;

/*
 * One device prlockd holds, waits for, or lost. Everything here belongs to the main thread,
 * except while busy: then d, l, job_r and job_ev belong to the one worker running the job
 * (pool.c), and the main thread reads the snapshot (key, holder, last_renewal_ms) instead.
 */
struct entry {
	char *dev; /* as given by the client: the identity of the device */
	int type;
	enum entry_state state;
	struct sgpr_dev *d;
	struct sgpr_lease *l;
	uint64_t next_due; /* next renewal / observation / adoption attempt */
	bool unreachable;  /* the last renewal did not reach the device */

	/* snapshot of l, taken by the main thread after each job */
	uint64_t key, holder, last_renewal_ms;

	/* the pool */
	bool busy; /* handed to the pool, not collected back yet */
	enum job_kind job;
	int job_r;
	enum sgpr_lease_event job_ev;
	uint64_t job_start;	 /* when it was handed to the pool */
	struct entry *job_next;	 /* pool queues */
	struct client *deferred; /* acquire/release requests that wait for the job to end */

	struct client *waiter;		    /* the client answered when the job ends */
	bool waiter_left;		    /* ... which closed its connection meanwhile */
	unsigned req_uid;		    /* the uid of that request, for the log */
	bool acq_wait;			    /* acquire request with --wait */
	unsigned acq_wait_ms;		    /* its bound; 0: none */
	uint64_t wait_start, wait_deadline; /* acquire --wait; deadline 0: no bound */

	struct protected_proc *procs;
	size_t n_procs;

	/* the state file: the key recorded and its last confirmed renewal (CLOCK_BOOTTIME) */
	uint64_t rec_key, rec_confirmed_ms;
	int lock_fd;	    /* lunlock.h: this host's one holder of the LUN; -1 before open */
	pid_t lock_owner;   /* entry_open() -EBUSY: the process that holds the LUN's lock */
	bool mismatch_told; /* logged that the holder's key announces a longer period */

	/* identity for the pr-helper policy (prh.c; main thread) */
	char *ident_lun_id;
	dev_t *ident_rdevs;
	size_t ident_n_rdevs;
	bool ident_rdevs_done, ident_lun_done;

	/* ENTRY_LOST */
	enum sgpr_lease_event lost_event;
	uint64_t lost_key, lost_holder;
	pid_t hook_pid;
	uint64_t hook_deadline;
};

/*
 * A protected process sent SIGTERM on a loss, to be SIGKILLed at kill_at if it still runs. Kept
 * by the daemon, not by the lease: a release or a new acquire of the device does not cancel it,
 * and the state file records it so that a restarted prlockd still kills the survivor.
 */
struct pending_kill {
	char *dev; /* for the log */
	struct protected_proc proc;
	uint64_t kill_at; /* CLOCK_MONOTONIC ms: the same clock after a restart of prlockd */
};

struct daemon {
	struct sgpr_config cfg;
	uint16_t ns;
	struct sgpr_dev_opts dev_opts;
	unsigned period_ms, dead_after_ms, kill_grace_ms;
	const char *control_path, *state_dir;
	bool has_group;
	gid_t group;
	const char *hook; /* loss_action = hook:PATH; NULL: kill */
	unsigned n_workers;
	struct pool *pool;
	int pool_fd; /* eventfd: jobs done */

	struct entry **entries;
	size_t n_entries;
	uint64_t state_saved_ms; /* renewals refresh the state file at most once a period */
	struct pending_kill *kills;
	size_t n_kills;

	int listen_fd, signal_fd, lock_fd;
	struct client **clients;
	size_t n_clients;
	struct client *ready; /* deferred requests whose entry is idle again */
	bool quit;

	/* the pr-manager-helper socket (prh.c) */
	const char *pr_socket; /* NULL: none ("--pr-socket none") */
	bool pr_socket_given;  /* on the command line or in the config */
	bool prh_activated;    /* fd 3 from systemd */
	int prh_fd;	       /* listening, until the server takes it */
	struct prh_server *prh;
	pthread_mutex_t held_lock; /* guards held/n_held: the policy hook reads them */
	struct held_dev *held;
	size_t n_held;

	/* privileges (privs.c) */
	bool drop_user, drop_group;
	uid_t run_uid;
	gid_t run_gid;
	bool keep_privileges;
};

/* leases.c */
struct entry *entry_find(struct daemon *dm, const char *dev);
int entry_add(struct daemon *dm, const char *dev, int type, struct entry **ret);
void entry_remove(struct daemon *dm, struct entry *e);
struct sgpr_lease_opts entry_lease_opts(const struct daemon *dm, int type);
/* Open the device and create the lease object if not done yet. */
int entry_open(struct daemon *dm, struct entry *e);
/* Hand the entries that are due (renewal, observation, adoption) to the pool. */
void leases_run_due(struct daemon *dm);
/* Apply the results of the jobs the workers finished. */
void leases_collect(struct daemon *dm);
/* Worker side: run e->job on e->d and e->l (no other field, no logging). */
void job_run(struct daemon *dm, struct entry *e);
/* Main side: refresh the snapshot of e->l (key, holder, last renewal); e must not be busy. */
void entry_snap(struct entry *e);
/* Main side: hand e to the pool for kind. */
void entry_submit(struct daemon *dm, struct entry *e, enum job_kind kind);
/* Pending SIGKILLs and hook timeouts. */
void leases_timers(struct daemon *dm);
/* Earliest time something in the lease table is due (UINT64_MAX: nothing). */
uint64_t leases_next_wakeup(const struct daemon *dm);
void leases_reap_children(struct daemon *dm);
/* Remember a SIGKILL due at kill_at (CLOCK_MONOTONIC ms) for p; leases_timers() sends it. */
int kill_add(struct daemon *dm, const char *dev, const struct protected_proc *p, uint64_t kill_at);
void kills_free(struct daemon *dm);
int state_save(struct daemon *dm);
int state_load(struct daemon *dm);
/* Adopt every recorded device at once (start-up). */
void leases_adopt_all(struct daemon *dm);
int proc_starttime(pid_t pid, unsigned long long *ret);
bool proc_alive(const struct protected_proc *p);
/* "held by host 7 (key 0x...)" */
const char *holder_words(const struct daemon *dm, uint64_t holder, char *buf, size_t len);
#include "errors.h"

/* pool.c: the worker threads that run device I/O */
int pool_start(struct daemon *dm);
void pool_stop(struct daemon *dm);
void pool_submit(struct daemon *dm, struct entry *e);
/* A finished job (NULL: none); clears the eventfd when the queue is empty. */
struct entry *pool_take_done(struct daemon *dm);
/* Log once when every worker is stuck in a command for longer than a lease period. */
void pool_check_stuck(struct daemon *dm);
/* When pool_check_stuck() should look again (UINT64_MAX: no job running). */
uint64_t pool_next_wakeup(struct daemon *dm);

/* prh.c: the pr-manager-helper socket and its policy */
int prh_open_socket(struct daemon *dm);
int prh_start(struct daemon *dm);
void prh_stop(struct daemon *dm);
/* Main thread: publish the devices under a lease for the policy hook, if they changed. */
void prh_policy_refresh(struct daemon *dm);

/* privs.c: keep only the capabilities prlockd needs, optionally change user and group */
int drop_privileges(struct daemon *dm);

/* main.c */
int mkdir_parents_of(const char *path);

/* control.c */
int control_listen(struct daemon *dm);
void control_close(struct daemon *dm);
/* Poll the signal fd, the listening socket and the clients once, up to timeout_ms, and serve. */
void serve(struct daemon *dm, int timeout_ms);
uint64_t clients_next_wakeup(const struct daemon *dm);
/* Answer the client waiting on e (acquire, acquire --wait) and detach it. */
void waiter_done(struct daemon *dm, struct entry *e, int r, enum sgpr_lease_event ev);
/* Apply the result of an acquire or release request's job (the reply to its client). */
void acquire_done(struct daemon *dm, struct entry *e);
void release_done(struct daemon *dm, struct entry *e);
/* e's job ended or e goes away: its deferred requests are run again (control_run_ready). */
void control_entry_idle(struct daemon *dm, struct entry *e);
void control_run_ready(struct daemon *dm);
