/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration file shared by prlock and prlockd: "name = value" lines, '#' comments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SGPR_CONFIG_DEFAULT "/etc/sgpr/sgpr.conf"
#define SGPR_CLUSTER_DEFAULT "default"
#define SGPR_CLUSTER_MAX 64
#define SGPR_IQN_MAX 224
#define SGPR_GROUP_MAX 64
#define SGPR_USER_MAX 64
#define SGPR_LOSS_ACTION_MAX 4096
#define SGPR_MACHINE_ID "/etc/machine-id"
/* SIGTERM -> SIGKILL of a protected process on a lost lease (prlock run, prlockd) */
#define SGPR_KILL_GRACE_MS_DEFAULT 5000u

struct sgpr_config {
	uint16_t host_id; /* 0: not set */
	char cluster[SGPR_CLUSTER_MAX];
	char initiator[SGPR_IQN_MAX];
	int type;		      /* 0: not set */
	unsigned timeout_ms;	      /* 0: not set */
	unsigned lease_period_ms;     /* 0: not set (config_resolve() fills in the default) */
	unsigned dead_after_ms;	      /* 0: not set (idem) */
	unsigned kill_grace_ms;	      /* SIGTERM -> SIGKILL on a lost lease; 0: not set (idem) */
	unsigned self_fence_after_ms; /* 0: never */
	/* prlockd only */
	char group[SGPR_GROUP_MAX];		/* control socket access besides root; "" none */
	char user[SGPR_USER_MAX];		/* run as this user after start; "" root */
	char loss_action[SGPR_LOSS_ACTION_MAX]; /* "kill" or "hook:/path"; "" = kill */
	unsigned workers;			/* device I/O threads; 0: not set */
	char pr_socket[108]; /* pr-manager-helper socket path or "none"; "" not set */
	/* the pr-helper server's limits (prh-server.h); 0: not set, the server's defaults */
	unsigned pr_max_connections, pr_max_per_uid, pr_max_per_pid;
	unsigned pr_deadline_ms; /* handshake, rest of a request, each reply */
};

/*
 * Read path into cfg (settings present in the file overwrite cfg). A missing
 * file is -ENOENT. Errors are described in err ("FILE:LINE: ...").
 */
int config_load(const char *path, struct sgpr_config *cfg, char *err, size_t errlen);

/* Parse a host id 1..65535. */
int parse_host_id(const char *s, uint16_t *ret);
/* Seconds with an optional fraction ("2", "0.5") as milliseconds in [min_ms, max_ms]. */
int parse_seconds(const char *s, unsigned min_ms, unsigned max_ms, unsigned *ret_ms);
/* Parse an unsigned decimal in [min, max]. */
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);
/* A stable host id from /etc/machine-id (1..65535). */
int host_id_from_machine_id(const char *path, uint16_t *ret);
/* Syntax check of an iSCSI name (RFC 3720 3.2.6.3): iqn.YYYY-MM.reversed.domain[:x] or eui.<16
 * hex>. */
bool iscsi_name_valid(const char *s);

/* The command-line options shared by prlock and prlockd; NULL: not given. */
struct config_args {
	const char *config; /* --config: must exist; NULL: SGPR_CONFIG_DEFAULT, may be missing */
	const char *host_id, *cluster, *initiator, *type, *timeout;
	const char *lease_period, *dead_after, *kill_grace;
	const char *machine_id; /* NULL: SGPR_MACHINE_ID (tests) */
};

/*
 * The identity and settings of this host, the one merge for prlock and prlockd: defaults <
 * the configuration file < the command line. Afterwards cfg has a host id (derived from the
 * machine id if neither the file nor the command line gave one), a cluster, an initiator
 * (iqn.2026-11.io.sgpr:host-<id> unless given), and the lease period, dead_after and kill
 * grace with their defaults filled in (SGPR_LEASE_PERIOD_MS_DEFAULT,
 * SGPR_LEASE_DEAD_AFTER_MS_DEFAULT(), SGPR_KILL_GRACE_MS_DEFAULT); *ret_ns is the key
 * namespace of the cluster. cfg must be zeroed or hold earlier defaults.
 *
 * Returns 0, and in msg "" or a warning to log (the host id was derived); -EINVAL for a
 * usage error (a bad value in the file or on the command line, no host id), or the -errno of
 * a configuration file that cannot be read; msg then says why, without a program prefix.
 */
int config_resolve(const struct config_args *a, struct sgpr_config *cfg, uint16_t *ret_ns,
		   char *msg, size_t msglen);
