/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlockd: the daemon that holds this host's leases (docs/prlockd.md). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "sgpr.h"
#include "table.h"

#define PRLOCKD_CONTROL_DEFAULT "/run/prlockd/control.sock"
#define PRLOCKD_STATE_DIR_DEFAULT "/run/prlockd"
#define PRLOCKD_PR_SOCKET_DEFAULT "/run/prlockd/pr-helper.sock"
#define PRLOCKD_PR_SOCKET_MODE 0660 /* prlockd's and prlockd-pr-helper's socket */
#define PRLOCKD_REQUEST_MAX 4096
#define PRLOCKD_HOOK_TIMEOUT_MS 30000u /* a loss hook is SIGKILLed after this */
#define PRLOCKD_CLIENT_IDLE_MS 10000u  /* a client must send its request line within this */
/*
 * Control socket connections held at once by allowed peers (root, the group): at most
 * PRLOCKD_CLIENTS_MAX, of which PRLOCKD_CLIENTS_ROOT_RESERVE only for uid 0, and at most
 * PRLOCKD_CLIENTS_PER_UID for each other uid. A peer refused (not allowed, over a limit, or
 * prlockd out of file descriptors) gets its error line at accept and is closed at once.
 */
#define PRLOCKD_CLIENTS_MAX 256u
#define PRLOCKD_CLIENTS_ROOT_RESERVE 16u
#define PRLOCKD_CLIENTS_PER_UID 16u
#define PRLOCKD_ACCEPT_PAUSE_MS 100u   /* the listener rests after EMFILE/ENFILE on accept */
#define PRLOCKD_LOG_BURST 5u	       /* a repeated message: so many lines per interval, */
#define PRLOCKD_LOG_INTERVAL_MS 10000u /* then one "suppressed N similar" line */
#define PRLOCKD_LOG_UID_BURST 20u      /* the lines one member can provoke, per interval */
#define PRLOCKD_LOG_UIDS 64u	       /* members limited apart; more share one limit */
#define PRLOCKD_DEFAULT_WORKERS 4u     /* device I/O threads (pool.c) */
#define PRLOCKD_WORKERS_MAX 256u

/* log.c-style helpers (main.c): "<N>message" lines on stderr, journal format. */
extern int log_max_level;
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One kind of repeated message, rate-limited (one thread's): PRLOCKD_LOG_BURST per interval. */
struct log_limit {
	const char *what; /* names the kind in the "suppressed" line */
	uint64_t begin;	  /* the interval's start (mono_ms) */
	unsigned n, suppressed;
	unsigned burst; /* lines per interval; 0: PRLOCKD_LOG_BURST */
};
void log_limited(struct log_limit *ll, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Log the count of messages suppressed in an interval that ended; when to call again. */
uint64_t log_limit_flush(struct log_limit *ll);

/* The lines of one non-root uid (main thread): PRLOCKD_LOG_UID_BURST per interval. */
struct uid_log {
	uid_t uid;
	char what[32]; /* "uid N" */
	struct log_limit ll;
};
struct daemon;
void log_uid(struct daemon *dm, uid_t uid, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* log_limit_flush() of every uid's limit; when one has a "suppressed" line to say. */
void log_uid_flush(struct daemon *dm);
uint64_t log_uid_next(const struct daemon *dm);

/* CLOCK_BOOTTIME in ms: the lease table's clock (table.h) and the library's */
uint64_t mono_ms(void);

struct client;
struct procs;
struct pool;
struct prh_server;
struct prh_ident;
struct held_dev;
struct paths;

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

	struct table *table; /* the leases: every decision about them (table.h) */
	struct procs *procs; /* the pidfds of the protected processes (procs.h) */
	struct sgpr_clock clock;

	int listen_fd, signal_fd, lock_fd;
	ino_t control_ino; /* the control socket bound: removed at exit only if still there */
	dev_t control_dev;
	int state_fd;	   /* STATE_DIR/state: the state file's directory, of the run user */
	uid_t state_owner; /* who owned it at start: an earlier run user's state file is read */
	struct client **clients;
	size_t n_clients;
	int reserve_fd;		      /* /dev/null, given up to accept-and-close on EMFILE */
	uint64_t accept_paused_until; /* EMFILE/ENFILE: the listener is not polled until then */
	struct log_limit refused_log, busy_log, emfile_log, state_log;
	struct uid_log uid_logs[PRLOCKD_LOG_UIDS]; /* members' own lines (log_uid) */
	size_t n_uid_logs;
	struct log_limit uid_log_rest; /* members past PRLOCKD_LOG_UIDS at once */
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
	struct prh_ident *idents; /* what prh.c learnt of each entry's device (main thread) */
	size_t n_idents;
	/* --pr-socket-mode (0: PRLOCKD_PR_SOCKET_MODE), --pr-socket-group: prlockd's own socket */
	mode_t pr_socket_mode;
	bool pr_socket_mode_given, pr_socket_has_gid;
	gid_t pr_socket_gid;

	/* the paths of held multipath maps (paths.c): a udev monitor; -1 none */
	struct paths *paths;
	int paths_fd;

	/* privileges (privs.c) */
	bool drop_user, drop_group;
	uid_t run_uid;
	gid_t run_gid;
	bool keep_privileges;
};

/* paths.c: block device events for the paths of held multipath maps (docs/MULTIPATH.md) */
int paths_open(struct daemon *dm);
void paths_close(struct daemon *dm);
void paths_event(struct daemon *dm); /* dm->paths_fd readable */
uint64_t paths_next_wakeup(const struct daemon *dm);
void paths_tick(struct daemon *dm);

/* leases.c: the daemon's side of the lease table (processes, hook, state file, devices) */
int leases_open(struct daemon *dm);
void leases_close(struct daemon *dm);
void leases_reap_children(struct daemon *dm);
/* Main loop: close the pidfds of processes no lease protects any more (once a second). */
void leases_gc(struct daemon *dm);
#include "errors.h"

/* pool.c: the worker threads that run the table's jobs (device I/O) */
int pool_start(struct daemon *dm);
void pool_stop(struct daemon *dm);
void pool_submit(struct daemon *dm, struct table_job *job);
/* A finished job (NULL: none); clears the eventfd when the queue is empty. */
struct table_job *pool_take_done(struct daemon *dm);
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
/* The policy hook of prh.c (prh_policy_fn; userdata: the daemon), for prlockd-pr-helper. */
struct prh_request_info;
struct prh_verdict;
int prh_policy_check(void *userdata, const struct prh_request_info *info, struct prh_verdict *v);
/* The "held" reply: [{device, state, lun_id, devnums: ["MAJ:MIN"...]}...] */
struct json;
void prh_held_json(struct daemon *dm, struct json *j);
/* Replace the held set (prlockd-pr-helper: as the running prlockd reported it). */
struct prh_held_desc {
	const char *dev, *lun_id; /* lun_id may be NULL */
	const dev_t *rdevs;
	size_t n_rdevs;
	enum entry_state state;
};
int prh_held_publish(struct daemon *dm, const struct prh_held_desc *d, size_t n);

/* pr-helper.c: prlockd started as prlockd-pr-helper (a qemu-pr-helper drop-in for libvirt) */
bool pr_helper_name(const char *argv0);
int pr_helper_main(int argc, char **argv);

/* privs.c: keep only the capabilities prlockd needs, optionally change user and group */
int drop_privileges(struct daemon *dm);
/*
 * A user or group by name, else by number (--user, --group, the config's user). lookup_user()
 * returns 1 and the user's primary group for a name, 0 for a number (no group), -ENOENT.
 */
int lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_primary_gid);
int lookup_group(const char *name, gid_t *ret_gid);

/* main.c */
int mkdir_parents_of(const char *path);

/* control.c */
int control_listen(struct daemon *dm);
void control_close(struct daemon *dm);
/* Poll the signal fd, the listening socket and the clients once, up to timeout_ms, and serve. */
void serve(struct daemon *dm, int timeout_ms);
uint64_t clients_next_wakeup(const struct daemon *dm);
/* The table's answer to a client's request (table_ops.reply). */
void control_reply(void *userdata, void *waiter, const struct table_reply *rp);
