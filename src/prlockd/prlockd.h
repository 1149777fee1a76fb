/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlockd: the daemon that holds this host's leases (docs/prlockd.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "sgpr.h"

#define PRLOCKD_CONTROL_DEFAULT "/run/prlockd/control.sock"
#define PRLOCKD_STATE_DIR_DEFAULT "/run/prlockd"
#define PRLOCKD_REQUEST_MAX 4096
#define PRLOCKD_HOOK_TIMEOUT_MS 30000u	/* a loss hook is SIGKILLed after this */
#define PRLOCKD_CLIENT_IDLE_MS 10000u	/* a client must send its request line within this */
#define PRLOCKD_DEFAULT_PERIOD_MS 2000u /* the lease engine's default */
#define PRLOCKD_DEFAULT_KILL_GRACE_MS 5000u

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
};

struct client;

/* One device prlockd holds, waits for, or lost. */
struct entry {
	char *dev; /* as given by the client: the identity of the device */
	int type;
	enum entry_state state;
	struct sgpr_dev *d;
	struct sgpr_lease *l;
	uint64_t next_due; /* next renewal / observation / adoption attempt */
	bool unreachable;  /* the last renewal did not reach the device */

	struct client *waiter;		    /* ENTRY_WAITING: the client that waits */
	uint64_t wait_start, wait_deadline; /* deadline 0: no bound */

	struct protected_proc *procs;
	size_t n_procs;

	/* ENTRY_LOST */
	enum sgpr_lease_event lost_event;
	uint64_t lost_key, lost_holder;
	uint64_t kill_at; /* SIGKILL the survivors of SIGTERM then; 0: none pending */
	pid_t hook_pid;
	uint64_t hook_deadline;
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

	struct entry **entries;
	size_t n_entries;

	int listen_fd, signal_fd, lock_fd;
	struct client **clients;
	size_t n_clients;
	bool quit;
};

/* leases.c */
struct entry *entry_find(struct daemon *dm, const char *dev);
int entry_add(struct daemon *dm, const char *dev, int type, struct entry **ret);
void entry_remove(struct daemon *dm, struct entry *e);
struct sgpr_lease_opts entry_lease_opts(const struct daemon *dm, int type);
/* Open the device and create the lease object if not done yet. */
int entry_open(struct daemon *dm, struct entry *e);
/* Renew, observe or adopt the entries that are due, serving the control socket in between. */
void leases_run_due(struct daemon *dm);
/* SIGKILL deadlines and hook timeouts. */
void leases_timers(struct daemon *dm);
/* Earliest time something in the lease table is due (UINT64_MAX: nothing). */
uint64_t leases_next_wakeup(const struct daemon *dm);
void leases_reap_children(struct daemon *dm);
int state_save(struct daemon *dm);
int state_load(struct daemon *dm);
/* Adopt every recorded device now (start-up). */
void leases_adopt_all(struct daemon *dm);
int proc_starttime(pid_t pid, unsigned long long *ret);
bool proc_alive(const struct protected_proc *p);
/* "held by host 7 (key 0x...)" */
const char *holder_words(const struct daemon *dm, uint64_t holder, char *buf, size_t len);
const char *errno_words(int r);
/* "conflict", "unreachable", ...: the error word of the control protocol for -errno */
const char *error_kind(int r);

/* control.c */
int control_listen(struct daemon *dm);
void control_close(struct daemon *dm);
/* Poll the signal fd, the listening socket and the clients once, up to timeout_ms, and serve. */
void serve(struct daemon *dm, int timeout_ms);
uint64_t clients_next_wakeup(const struct daemon *dm);
/* Answer the client waiting on e (acquire --wait) and detach it. */
void waiter_done(struct daemon *dm, struct entry *e, int r, enum sgpr_lease_event ev);
