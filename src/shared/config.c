/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "sgpr.h"

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

int parse_seconds(const char *s, unsigned min_ms, unsigned max_ms, unsigned *ret_ms)
{
	unsigned long long ms = 0;
	const char *p = s;
	unsigned frac = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		ms = ms * 10 + (unsigned)(*p - '0');
		if (ms > 10000000ull)
			return -ERANGE;
	}
	ms *= 1000;
	if (*p == '.') {
		unsigned scale = 100;

		for (p++; isdigit((unsigned char)*p); p++, frac++) {
			if (frac >= 3)
				return -EINVAL; /* finer than a millisecond */
			ms += (unsigned)(*p - '0') * scale;
			scale /= 10;
		}
		if (!frac)
			return -EINVAL;
	}
	if (*p || ms < min_ms || ms > max_ms)
		return -ERANGE;
	*ret_ms = (unsigned)ms;
	return 0;
}

int parse_host_id(const char *s, uint16_t *ret)
{
	unsigned v;
	int r = parse_uint(s, 1, 65535, &v);

	if (r < 0)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

bool iscsi_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 5 || n >= SGPR_IQN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return false;
	if (strncmp(s, "iqn.", 4) == 0)
		/* iqn.YYYY-MM.<reversed domain> */
		return n > 12 && isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[7]) &&
		       s[8] == '-' && s[11] == '.';
	if (strncmp(s, "eui.", 4) == 0)
		return n == 20 && strspn(s + 4, "0123456789abcdefABCDEF") == 16;
	if (strncmp(s, "naa.", 4) == 0)
		return (n == 20 || n == 36) && strspn(s + 4, "0123456789abcdefABCDEF") == n - 4;
	return false;
}

int host_id_from_machine_id(const char *path, uint16_t *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[128];
	uint32_t h = 2166136261u;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		return -ENODATA;
	line[strcspn(line, "\n")] = 0;
	if (strlen(line) < 16)
		return -EBADMSG;
	for (const char *p = line; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	*ret = (uint16_t)(h % 65535u + 1);
	return 0;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_one(struct sgpr_config *cfg, const char *name, const char *value, const char **why)
{
	int r;

	if (strcmp(name, "host_id") == 0) {
		r = parse_host_id(value, &cfg->host_id);
		*why = "must be 1..65535";
		return r;
	}
	if (strcmp(name, "cluster") == 0) {
		*why = "must be 1..63 characters";
		if (!*value || strlen(value) >= sizeof(cfg->cluster))
			return -EINVAL;
		strcpy(cfg->cluster, value);
		return 0;
	}
	if (strcmp(name, "initiator") == 0) {
		*why = "is not an iSCSI name (iqn.YYYY-MM.domain...)";
		if (!iscsi_name_valid(value))
			return -EINVAL;
		strcpy(cfg->initiator, value);
		return 0;
	}
	if (strcmp(name, "type") == 0) {
		*why = "is not a reservation type";
		r = sgpr_type_from_name(value);
		if (r < 0)
			return r;
		cfg->type = r;
		return 0;
	}
	if (strcmp(name, "timeout_ms") == 0) {
		*why = "must be 100..600000";
		return parse_uint(value, 100, 600000, &cfg->timeout_ms);
	}
	if (strcmp(name, "lease_period") == 0) {
		*why = "must be 0.1..3600 seconds";
		return parse_seconds(value, 100, 3600000, &cfg->lease_period_ms);
	}
	if (strcmp(name, "dead_after") == 0) {
		*why = "must be 0.2..86400 seconds";
		return parse_seconds(value, 200, 86400000, &cfg->dead_after_ms);
	}
	if (strcmp(name, "kill_grace") == 0) {
		*why = "must be 0..3600 seconds";
		return parse_seconds(value, 0, 3600000, &cfg->kill_grace_ms);
	}
	if (strcmp(name, "self_fence_after") == 0) {
		*why = "must be 0..86400 seconds (0: never)";
		return parse_seconds(value, 0, 86400000, &cfg->self_fence_after_ms);
	}
	if (strcmp(name, "group") == 0) {
		/* a group name (POSIX portable filename characters), resolved by prlockd */
		*why = "must be a group name (1..63 of a-z A-Z 0-9 . _ -)";
		if (!*value || strlen(value) >= sizeof(cfg->group) || value[0] == '-' ||
		    strspn(value,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			    strlen(value))
			return -EINVAL;
		strcpy(cfg->group, value);
		return 0;
	}
	if (strcmp(name, "user") == 0) {
		/* a user name (as for group), resolved by prlockd */
		*why = "must be a user name (1..63 of a-z A-Z 0-9 . _ -)";
		if (!*value || strlen(value) >= sizeof(cfg->user) || value[0] == '-' ||
		    strspn(value,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			    strlen(value))
			return -EINVAL;
		strcpy(cfg->user, value);
		return 0;
	}
	if (strcmp(name, "loss_action") == 0) {
		*why = "must be 'kill' or 'hook:/absolute/path'";
		if (strcmp(value, "kill") != 0 &&
		    (strncmp(value, "hook:/", 6) != 0 || strlen(value) >= sizeof(cfg->loss_action)))
			return -EINVAL;
		strcpy(cfg->loss_action, value);
		return 0;
	}
	if (strcmp(name, "pr_socket") == 0) {
		*why = "must be an absolute path (at most 107 bytes) or 'none'";
		if (strcmp(value, "none") != 0 &&
		    (value[0] != '/' || strlen(value) >= sizeof(cfg->pr_socket)))
			return -EINVAL;
		strcpy(cfg->pr_socket, value);
		return 0;
	}
	if (strcmp(name, "workers") == 0) {
		*why = "must be 1..256";
		return parse_uint(value, 1, 256, &cfg->workers);
	}
	/* the pr-helper server's limits (docs/prlockd.md, "QEMU pr-manager socket") */
	if (strcmp(name, "pr_max_connections") == 0) {
		*why = "must be 1..65536";
		return parse_uint(value, 1, 65536, &cfg->pr_max_connections);
	}
	if (strcmp(name, "pr_max_per_uid") == 0) {
		*why = "must be 1..65536";
		return parse_uint(value, 1, 65536, &cfg->pr_max_per_uid);
	}
	if (strcmp(name, "pr_max_per_pid") == 0) {
		*why = "must be 1..65536";
		return parse_uint(value, 1, 65536, &cfg->pr_max_per_pid);
	}
	if (strcmp(name, "pr_deadline") == 0) {
		*why = "must be 0.1..600 seconds";
		return parse_seconds(value, 100, 600000, &cfg->pr_deadline_ms);
	}
	*why = "unknown setting";
	return -ENOKEY;
}

int config_load(const char *path, struct sgpr_config *cfg, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	unsigned lineno = 0;
	size_t cap = 0;
	ssize_t len;

	if (!f) {
		int r = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		const char *why = NULL;
		char *name, *value, *eq;

		lineno++;
		if (strlen(line) != (size_t)len) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			return -EINVAL;
		}
		if (len - (line[len - 1] == '\n') > 511) {
			snprintf(err, errlen, "%s:%u: line too long (more than 511 bytes)", path,
				 lineno);
			return -EINVAL;
		}
		line[strcspn(line, "#\n")] = 0;
		name = strip(line);
		if (!*name)
			continue;
		eq = strchr(name, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected 'name = value'", path, lineno);
			return -EINVAL;
		}
		*eq = 0;
		name = strip(name);
		value = strip(eq + 1);
		if (set_one(cfg, name, value, &why) < 0) {
			if (strcmp(why, "unknown setting") == 0)
				snprintf(err, errlen, "%s:%u: unknown setting '%s'", path, lineno,
					 name);
			else
				snprintf(err, errlen, "%s:%u: %s '%s' %s", path, lineno, name,
					 value, why);
			return -EINVAL;
		}
	}
	return 0;
}

static int usage(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int config_resolve(const struct config_args *a, struct sgpr_config *cfg, uint16_t *ret_ns,
		   char *msg, size_t msglen)
{
	const char *config = a->config ?: SGPR_CONFIG_DEFAULT;
	const char *machine_id = a->machine_id ?: SGPR_MACHINE_ID;
	char err[512];
	int r;

	msg[0] = 0;
	if (!cfg->cluster[0])
		strcpy(cfg->cluster, SGPR_CLUSTER_DEFAULT);
	r = config_load(config, cfg, err, sizeof(err));
	if (r < 0 && !(r == -ENOENT && !a->config)) {
		snprintf(msg, msglen, "config %s", err);
		return r;
	}
	if (a->host_id && parse_host_id(a->host_id, &cfg->host_id) < 0)
		return usage(msg, msglen, "--host-id '%s': expected a number 1..65535", a->host_id);
	if (a->cluster) {
		if (!*a->cluster || strlen(a->cluster) >= sizeof(cfg->cluster))
			return usage(msg, msglen, "--cluster '%s': expected 1..63 characters",
				     a->cluster);
		strcpy(cfg->cluster, a->cluster);
	}
	if (a->initiator) {
		if (!iscsi_name_valid(a->initiator))
			return usage(msg, msglen,
				     "--initiator '%s': not an iSCSI name (iqn.YYYY-MM.domain:id)",
				     a->initiator);
		strcpy(cfg->initiator, a->initiator);
	}
	if (a->type) {
		r = sgpr_type_from_name(a->type);
		if (r < 0)
			return usage(msg, msglen, "--type '%s': unknown reservation type", a->type);
		cfg->type = r;
	}
	if (a->timeout && parse_uint(a->timeout, 100, 600000, &cfg->timeout_ms) < 0)
		return usage(msg, msglen, "--command-timeout '%s': expected 100..600000 ms",
			     a->timeout);
	if (a->lease_period && parse_seconds(a->lease_period, 100, 3600000, &cfg->lease_period_ms))
		return usage(msg, msglen, "--lease-period '%s': expected 0.1..3600 seconds",
			     a->lease_period);
	if (a->dead_after && parse_seconds(a->dead_after, 200, 86400000, &cfg->dead_after_ms))
		return usage(msg, msglen, "--dead-after '%s': expected 0.2..86400 seconds",
			     a->dead_after);
	if (a->kill_grace && parse_seconds(a->kill_grace, 0, 3600000, &cfg->kill_grace_ms))
		return usage(msg, msglen, "--kill-grace '%s': expected 0..3600 seconds",
			     a->kill_grace);

	/* the lease defaults: one place for every program (and the same as the engine's) */
	if (!cfg->lease_period_ms)
		cfg->lease_period_ms = SGPR_LEASE_PERIOD_MS_DEFAULT;
	if (!cfg->dead_after_ms)
		cfg->dead_after_ms = SGPR_LEASE_DEAD_AFTER_MS_DEFAULT(cfg->lease_period_ms);
	if (cfg->dead_after_ms <= cfg->lease_period_ms)
		return usage(msg, msglen,
			     "--dead-after must be longer than the lease period (%u ms <= %u ms)",
			     cfg->dead_after_ms, cfg->lease_period_ms);
	if (!cfg->kill_grace_ms) /* 0 is "not set", as in the file */
		cfg->kill_grace_ms = SGPR_KILL_GRACE_MS_DEFAULT;

	if (!cfg->host_id) {
		r = host_id_from_machine_id(machine_id, &cfg->host_id);
		if (r < 0)
			return usage(msg, msglen,
				     "no host id: set host_id in %s or pass --host-id (%s: %s)",
				     config, machine_id, strerror(-r));
		snprintf(msg, msglen,
			 "host_id not configured, using %u derived from %s; set host_id in %s",
			 cfg->host_id, machine_id, config);
	}
	if (!cfg->initiator[0])
		snprintf(cfg->initiator, sizeof(cfg->initiator), "iqn.2026-11.io.sgpr:host-%u",
			 cfg->host_id);
	*ret_ns = sgpr_ns_from_cluster(cfg->cluster);
	return 0;
}
