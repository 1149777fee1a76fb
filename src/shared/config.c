/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
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
	*why = "unknown setting";
	return -ENOKEY;
}

int config_load(const char *path, struct sgpr_config *cfg, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	unsigned lineno = 0;

	if (!f) {
		int r = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *why = NULL;
		char *name, *value, *eq;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
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
