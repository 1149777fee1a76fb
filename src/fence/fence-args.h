/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parameters of fence_prlock: the fence-agents convention, "name=value" lines on stdin
 * (Pacemaker's stonithd) or long options on the command line. Pure parsing, no I/O on devices.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FENCE_DEVICES_MAX 64
#define FENCE_HOSTS_MAX 256
#define FENCE_LINE_MAX 4096 /* one stdin line, newline excluded */
#define FENCE_DELAY_MAX 3600

enum fence_action {
	FENCE_ACTION_NONE,
	FENCE_ACTION_ON,
	FENCE_ACTION_OFF,
	FENCE_ACTION_REBOOT,
	FENCE_ACTION_STATUS,
	FENCE_ACTION_LIST,
	FENCE_ACTION_LIST_STATUS,
	FENCE_ACTION_MONITOR,
	FENCE_ACTION_METADATA,
	FENCE_ACTION_VALIDATE_ALL,
};

struct fence_host {
	char *name;
	uint16_t id;
};

struct fence_args {
	enum fence_action action; /* FENCE_ACTION_NONE: not given (off, as fence_scsi) */
	char *plug;		  /* the node acted on: a name of hosts= or a host id */
	char *nodename;		  /* the node this agent runs on (Pacemaker passes it) */
	char *devices;		  /* comma-separated LUNs, as given */
	char *hosts;		  /* NAME:ID,..., as given */
	char *config, *initiator, *cluster, *debug_file;
	bool verbose;
	unsigned delay_s;

	/* fence_args_finish(): devices and hosts split */
	char *device[FENCE_DEVICES_MAX];
	unsigned ndevices;
	struct fence_host host[FENCE_HOSTS_MAX];
	unsigned nhosts;
};

/* Warnings of the parser (an ignored parameter), one line without a newline. */
typedef void (*fence_warn_fn)(void *userdata, const char *msg);

/* The action of a name ("off", "list-status", ...; "enable"/"disable" as on/off), or NONE. */
enum fence_action fence_action_from_name(const char *name);
const char *fence_action_name(enum fence_action a);

/*
 * Set parameter name (without "--"; '-' and '_' are the same; "port" is "plug", "option" is
 * "action") to value. Returns 0; 1 for a parameter fence-agents always accept that has no use
 * here (login_timeout, power_wait, ...: ignored); -ENOENT for an unknown name; -EINVAL for a
 * bad value, with the cause in err ("NAME: ...").
 */
int fence_args_set(struct fence_args *a, const char *name, const char *value, char *err,
		   size_t errlen);

/* Whether name (as for fence_args_set()) is a parameter, known or ignored. */
bool fence_param_known(const char *name);

/*
 * Parse stdin text of len bytes: "name=value" lines, blank lines and '#' comments ignored,
 * blanks around name and value stripped. An unknown or ignored name is passed to warn (may be
 * NULL) and skipped, as fence-agents do. Returns 0, or -EINVAL with "line N: ..." in err (no
 * '=', a NUL byte, a line longer than FENCE_LINE_MAX, a bad value).
 */
int fence_args_parse_text(struct fence_args *a, const char *text, size_t len, fence_warn_fn warn,
			  void *userdata, char *err, size_t errlen);

/*
 * Split devices and hosts into device[] and host[], and check them: no empty item, no
 * duplicate, host ids 1..65535, names without blanks. Returns 0 or -EINVAL with err.
 */
int fence_args_finish(struct fence_args *a, char *err, size_t errlen);

/*
 * The host id of a node: its entry in hosts=, else a decimal host id 1..65535. -ENOENT when
 * neither (an unknown node name).
 */
int fence_host_lookup(const struct fence_args *a, const char *node, uint16_t *ret);
/* The name hosts= gives a host id, or NULL. */
const char *fence_host_name(const struct fence_args *a, uint16_t id);

void fence_args_free(struct fence_args *a);
