/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fence_prlock's parameters: stdin lines and long options (see fence-args.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* parse_uint(), parse_host_id() */
#include "fence-args.h"

static const char *const action_names[] = {
	[FENCE_ACTION_NONE] = "",
	[FENCE_ACTION_ON] = "on",
	[FENCE_ACTION_OFF] = "off",
	[FENCE_ACTION_REBOOT] = "reboot",
	[FENCE_ACTION_STATUS] = "status",
	[FENCE_ACTION_LIST] = "list",
	[FENCE_ACTION_LIST_STATUS] = "list-status",
	[FENCE_ACTION_MONITOR] = "monitor",
	[FENCE_ACTION_METADATA] = "metadata",
	[FENCE_ACTION_VALIDATE_ALL] = "validate-all",
};

/*
 * Parameters every fence-agents agent accepts (power and login timing, retries, the
 * fencing.py plumbing) that mean nothing to storage fencing: accepted and ignored.
 */
static const char *const ignored_names[] = {
	"power_timeout",      "power_wait",    "shell_timeout",
	"login_timeout",      "retry_on",      "stonith_status_sleep",
	"disable_timeout",    "quiet",	       "separator",
	"plug_separator",     "key",	       "aptpl",
	"corosync_cmap_path", "readonly",      "method",
	"pcmk_host_list",     "pcmk_host_map", "pcmk_host_check",
};

enum fence_action fence_action_from_name(const char *name)
{
	for (size_t i = 1; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(name, action_names[i]) == 0)
			return (enum fence_action)i;
	/* fence-agents' old names */
	if (strcmp(name, "enable") == 0)
		return FENCE_ACTION_ON;
	if (strcmp(name, "disable") == 0)
		return FENCE_ACTION_OFF;
	if (strcmp(name, "list_status") == 0)
		return FENCE_ACTION_LIST_STATUS;
	if (strcmp(name, "validate_all") == 0)
		return FENCE_ACTION_VALIDATE_ALL;
	return FENCE_ACTION_NONE;
}

const char *fence_action_name(enum fence_action a)
{
	if ((size_t)a >= sizeof(action_names) / sizeof(action_names[0]))
		return "?";
	return action_names[a];
}

static int errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int set_string(char **field, const char *name, const char *value, char *err, size_t errlen)
{
	char *s;

	if (!value[0])
		return errf(err, errlen, "%s: needs a value", name);
	s = strdup(value);
	if (!s)
		return errf(err, errlen, "%s: out of memory", name);
	free(*field);
	*field = s;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	/* fence-agents: a flag line without '=' sets it */
	if (!v[0] || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
	    !strcasecmp(v, "true")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
	    !strcasecmp(v, "false")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

int fence_args_set(struct fence_args *a, const char *name, const char *value, char *err,
		   size_t errlen)
{
	char n[64];
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(n))
		return -ENOENT;
	for (size_t i = 0; i <= len; i++)
		n[i] = name[i] == '-' ? '_' : name[i];

	if (!strcmp(n, "action") || !strcmp(n, "option")) {
		a->action = fence_action_from_name(value);
		if (a->action == FENCE_ACTION_NONE)
			return errf(err, errlen,
				    "action '%s': unknown (on, off, reboot, status, list, "
				    "list-status, monitor, metadata, validate-all)",
				    value);
		return 0;
	}
	if (!strcmp(n, "plug") || !strcmp(n, "port"))
		return set_string(&a->plug, "plug", value, err, errlen);
	if (!strcmp(n, "nodename"))
		return set_string(&a->nodename, "nodename", value, err, errlen);
	if (!strcmp(n, "devices"))
		return set_string(&a->devices, "devices", value, err, errlen);
	if (!strcmp(n, "hosts"))
		return set_string(&a->hosts, "hosts", value, err, errlen);
	if (!strcmp(n, "config"))
		return set_string(&a->config, "config", value, err, errlen);
	if (!strcmp(n, "initiator"))
		return set_string(&a->initiator, "initiator", value, err, errlen);
	if (!strcmp(n, "cluster"))
		return set_string(&a->cluster, "cluster", value, err, errlen);
	if (!strcmp(n, "debug_file") || !strcmp(n, "debug")) /* "debug": its old name */
		return set_string(&a->debug_file, "debug_file", value, err, errlen);
	if (!strcmp(n, "verbose")) {
		if (parse_bool(value, &a->verbose) < 0)
			return errf(err, errlen, "verbose '%s': expected 1/0, yes/no, on/off",
				    value);
		return 0;
	}
	if (!strcmp(n, "delay")) {
		if (parse_uint(value, 0, FENCE_DELAY_MAX, &a->delay_s) < 0)
			return errf(err, errlen, "delay '%s': expected 0..%u seconds", value,
				    FENCE_DELAY_MAX);
		return 0;
	}
	for (size_t i = 0; i < sizeof(ignored_names) / sizeof(ignored_names[0]); i++)
		if (!strcmp(n, ignored_names[i]))
			return 1;
	return -ENOENT;
}

bool fence_param_known(const char *name)
{
	struct fence_args probe = {};
	char err[256];
	int r = fence_args_set(&probe, name, "1", err, sizeof(err));

	fence_args_free(&probe);
	return r != -ENOENT;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int fence_args_parse_text(struct fence_args *a, const char *text, size_t len, fence_warn_fn warn,
			  void *userdata, char *err, size_t errlen)
{
	char line[FENCE_LINE_MAX + 1], msg[FENCE_LINE_MAX + 128], sub[256];
	unsigned lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *name, *value, *eq, *end;
		int r;

		lineno++;
		if (n > FENCE_LINE_MAX)
			return errf(err, errlen, "line %u: longer than %u bytes", lineno,
				    FENCE_LINE_MAX);
		if (memchr(text + pos, '\0', n))
			return errf(err, errlen, "line %u: contains a NUL byte", lineno);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);

		name = line;
		while (is_blank(*name))
			name++;
		if (!*name || *name == '#')
			continue;
		eq = strchr(name, '=');
		value = eq ? eq + 1 : name + strlen(name);
		if (eq)
			*eq = '\0';
		for (end = name + strlen(name); end > name && is_blank(end[-1]); end--)
			;
		*end = '\0';
		while (is_blank(*value))
			value++;
		for (end = value + strlen(value); end > value && is_blank(end[-1]); end--)
			;
		*end = '\0';
		/* fence-agents' stdin names have no dashes in front; tolerate them */
		while (*name == '-')
			name++;

		r = fence_args_set(a, name, value, sub, sizeof(sub));
		if (r == -ENOENT) {
			snprintf(msg, sizeof(msg), "line %u: ignoring unknown parameter '%.64s'",
				 lineno, name);
			if (warn)
				warn(userdata, msg);
		} else if (r == 1) {
			snprintf(msg, sizeof(msg),
				 "line %u: ignoring '%.64s' (no use in storage fencing)", lineno,
				 name);
			if (warn)
				warn(userdata, msg);
		} else if (r < 0) {
			return errf(err, errlen, "line %u: %s", lineno, sub);
		}
	}
	return 0;
}

static bool valid_node_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == ',' || s[i] == ':')
			return false;
	return true;
}

static int split_devices(struct fence_args *a, char *err, size_t errlen)
{
	const char *p = a->devices;

	while (p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *dev;

		while (n && is_blank(*p))
			p++, n--;
		while (n && is_blank(p[n - 1]))
			n--;
		if (!n)
			return errf(err, errlen, "devices: empty item in '%s'", a->devices);
		if (a->ndevices == FENCE_DEVICES_MAX)
			return errf(err, errlen, "devices: more than %u", FENCE_DEVICES_MAX);
		dev = strndup(p, n);
		if (!dev)
			return errf(err, errlen, "devices: out of memory");
		for (unsigned i = 0; i < a->ndevices; i++)
			if (!strcmp(a->device[i], dev)) {
				errf(err, errlen, "devices: '%s' listed twice", dev);
				free(dev);
				return -EINVAL;
			}
		a->device[a->ndevices++] = dev;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int split_hosts(struct fence_args *a, char *err, size_t errlen)
{
	const char *p = a->hosts;

	while (p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *colon;
		char id[8];
		size_t nl, il;
		uint16_t hid;

		while (n && is_blank(*p))
			p++, n--;
		while (n && is_blank(p[n - 1]))
			n--;
		colon = memchr(p, ':', n);
		if (!colon)
			return errf(err, errlen, "hosts: '%.*s': expected NODE:HOST-ID", (int)n, p);
		nl = (size_t)(colon - p);
		il = n - nl - 1;
		if (!valid_node_name(p, nl))
			return errf(err, errlen, "hosts: '%.*s': bad node name", (int)n, p);
		if (il == 0 || il >= sizeof(id))
			return errf(err, errlen, "hosts: '%.*s': expected a host id 1..65535",
				    (int)n, p);
		memcpy(id, colon + 1, il);
		id[il] = '\0';
		if (parse_host_id(id, &hid) < 0)
			return errf(err, errlen, "hosts: '%.*s': expected a host id 1..65535",
				    (int)n, p);
		for (unsigned i = 0; i < a->nhosts; i++)
			if ((strlen(a->host[i].name) == nl && !memcmp(a->host[i].name, p, nl)) ||
			    a->host[i].id == hid)
				return errf(err, errlen,
					    "hosts: '%.*s': node or host id listed twice", (int)n,
					    p);
		if (a->nhosts == FENCE_HOSTS_MAX)
			return errf(err, errlen, "hosts: more than %u", FENCE_HOSTS_MAX);
		a->host[a->nhosts].name = strndup(p, nl);
		if (!a->host[a->nhosts].name)
			return errf(err, errlen, "hosts: out of memory");
		a->host[a->nhosts++].id = hid;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

int fence_args_finish(struct fence_args *a, char *err, size_t errlen)
{
	int r;

	if (a->devices) {
		r = split_devices(a, err, errlen);
		if (r < 0)
			return r;
	}
	if (a->hosts) {
		r = split_hosts(a, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int fence_host_lookup(const struct fence_args *a, const char *node, uint16_t *ret)
{
	for (unsigned i = 0; i < a->nhosts; i++)
		if (!strcmp(a->host[i].name, node)) {
			*ret = a->host[i].id;
			return 0;
		}
	return parse_host_id(node, ret) < 0 ? -ENOENT : 0;
}

const char *fence_host_name(const struct fence_args *a, uint16_t id)
{
	for (unsigned i = 0; i < a->nhosts; i++)
		if (a->host[i].id == id)
			return a->host[i].name;
	return NULL;
}

void fence_args_free(struct fence_args *a)
{
	free(a->plug);
	free(a->nodename);
	free(a->devices);
	free(a->hosts);
	free(a->config);
	free(a->initiator);
	free(a->cluster);
	free(a->debug_file);
	for (unsigned i = 0; i < a->ndevices; i++)
		free(a->device[i]);
	for (unsigned i = 0; i < a->nhosts; i++)
		free(a->host[i].name);
	*a = (struct fence_args){};
}
