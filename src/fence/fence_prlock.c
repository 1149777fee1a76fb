/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fence_prlock: a fence agent for Pacemaker (the fence-agents protocol) over libsgpr.
 * "off" removes every registration of the victim host from every device with PREEMPT AND
 * ABORT (SPC-4 5.12.11.4), leaving the LUN reserved; "on" registers this node (unfencing).
 * docs/FENCE-AGENT.md has the parameters, the host id mapping and the comparison with
 * fence_scsi.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "errors.h"
#include "fence-args.h"
#include "sgpr.h"

#define PROG "fence_prlock"
#define STDIN_MAX (1u << 20)
/* PREEMPT rounds when a live victim renews (changes its key) between READ KEYS and PREEMPT */
#define OFF_ROUNDS 8
#define VICTIM_KEYS_MAX 16

/* fence-agents exit codes; status answers 0 (on) or 2 (off) */
enum { FENCE_OK = 0, FENCE_ERROR = 1, FENCE_STATUS_OFF = 2 };

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

struct fence {
	struct fence_args a;
	struct sgpr_config cfg;
	uint16_t ns;
	struct sgpr_dev_opts dev_opts;
	FILE *debug; /* debug_file=, else NULL */
};

static void vlog_to(struct fence *f, bool error, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vlog_to(struct fence *f, bool error, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (error || (f->a.verbose && !f->debug))
		fprintf(stderr, PROG ": %s\n", line);
	if (f->debug && (error || f->a.verbose)) {
		fprintf(f->debug, PROG ": %s\n", line);
		fflush(f->debug);
	}
}

/* A progress line: with verbose=1, to debug_file= or stderr. */
static void say(struct fence *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct fence *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_to(f, false, fmt, ap);
	va_end(ap);
}

/* One line on stderr (and the debug file): "fence_prlock: WHAT: CAUSE". Returns FENCE_ERROR. */
static int fail(struct fence *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct fence *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_to(f, true, fmt, ap);
	va_end(ap);
	return FENCE_ERROR;
}

static int fail_cmd(struct fence *f, const char *dev, const char *what, int r,
		    const struct sgpr_status *st)
{
	char buf[128] = "";

	if (st && st->answered && st->status != SGPR_STATUS_GOOD && r != -EBADE)
		sgpr_status_describe(st, buf, sizeof(buf));
	return fail(f, "%s: %s: %s%s%s%s", dev, what, errno_words(r), buf[0] ? " [" : "", buf,
		    buf[0] ? "]" : "");
}

static void lib_log(void *userdata, int priority, const char *msg)
{
	struct fence *f = userdata;

	if (priority <= LOG_WARNING)
		say(f, "%s", msg);
}

static int open_dev(struct fence *f, const char *dev, struct sgpr_dev **ret)
{
	int r = sgpr_dev_open(dev, &f->dev_opts, ret);

	if (r < 0)
		return fail(f, "%s: cannot open: %s", dev, open_error_words(dev, r));
	return 0;
}

static bool key_of_host(const struct fence *f, uint64_t key, uint16_t host)
{
	return sgpr_key_in_ns(key, f->ns) && sgpr_key_split(key).host_id == host;
}

static bool has_key(const struct sgpr_keys *keys, uint64_t key)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (keys->keys[i] == key)
			return true;
	return false;
}

static bool host_registered(const struct fence *f, const struct sgpr_keys *keys, uint16_t host)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (key_of_host(f, keys->keys[i], host))
			return true;
	return false;
}

static int read_state(struct fence *f, struct sgpr_dev *d, const char *dev, struct sgpr_keys **keys,
		      struct sgpr_reservation *res)
{
	struct sgpr_status st;
	int r;

	free(*keys);
	*keys = NULL;
	r = sgpr_read_keys(d, keys, &st);
	if (r < 0)
		return fail_cmd(f, dev, "READ KEYS", r, &st);
	r = sgpr_read_reservation(d, res, &st);
	if (r < 0)
		return fail_cmd(f, dev, "READ RESERVATION", r, &st);
	return 0;
}

/*
 * Register this node's static key on this nexus: re-register it if READ KEYS lists it (an
 * earlier run left it; sgpr_adopt_key() also moves a reservation it holds to this nexus), else
 * REGISTER it.
 */
static int register_self(struct fence *f, struct sgpr_dev *d, const char *dev,
			 const struct sgpr_keys *keys, uint64_t *ret_key)
{
	uint64_t key = sgpr_key_make(f->ns, f->cfg.host_id, 0);
	struct sgpr_status st;
	int r;

	if (has_key(keys, key)) {
		r = sgpr_adopt_key(d, key, &st);
		if (r < 0)
			return fail_cmd(f, dev, "re-registering this node's key", r, &st);
	} else {
		r = sgpr_register(d, 0, key, false, &st);
		/* SPC-4 5.12.7: REGISTER with key 0 conflicts only on a nexus registered already */
		if (r == -EBADE)
			return fail(
				f,
				"%s: REGISTER: reservation conflict: this node's nexus is "
				"registered with another key (prlockd's lease key, or the parking "
				"key of a release from this node)",
				dev);
		if (r < 0)
			return fail_cmd(f, dev, "REGISTER", r, &st);
	}
	*ret_key = key;
	return 0;
}

/*
 * A parked LUN (docs/FENCE.md): the nexus that parked it still writes, and it may be the
 * victim's. Adopt the parking key on this nexus: REGISTER AND IGNORE EXISTING KEY, then PREEMPT
 * of the parking key by itself, which moves the reservation here and removes the key's other
 * registrations (SPC-4 5.12.11.4.3). The LUN stays parked, by this node; the parking key is then
 * this node's key for the PREEMPTs of the victim. This also works when this nexus is the parker
 * already (a plain REGISTER of our key conflicts there, on targets where the nexus outlives the
 * session: LIO).
 */
static int adopt_parking(struct fence *f, struct sgpr_dev *d, const char *dev, uint64_t parking,
			 uint64_t *ret_key)
{
	struct sgpr_status st;
	int r;

	say(f, "%s: parked; taking the parking key over on this nexus", dev);
	r = sgpr_adopt_key(d, parking, &st);
	if (r < 0)
		return fail_cmd(f, dev, "adopting the parking key", r, &st);
	*ret_key = parking;
	return 0;
}

/* off on one device: no registration of host victim is left, and the LUN stays reserved. */
static int off_one(struct fence *f, const char *dev, uint16_t victim)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	struct sgpr_status st;
	char k[SGPR_KEY_STRLEN];
	uint64_t own = 0;
	bool victim_held = false, reparked = false;
	int r, type;

	r = open_dev(f, dev, &d);
	if (r)
		return r;
	for (unsigned round = 0;; round++) {
		uint64_t vk[VICTIM_KEYS_MAX];
		unsigned n = 0;
		bool conflict = false;

		r = read_state(f, d, dev, &keys, &res);
		if (r)
			return r;
		/* the holder's key first: PREEMPT of the holder moves the reservation to us */
		if (res.held && key_of_host(f, res.key, victim))
			vk[n++] = res.key;
		for (uint32_t i = 0; i < keys->count && n < VICTIM_KEYS_MAX; i++) {
			bool seen = false;

			if (!key_of_host(f, keys->keys[i], victim))
				continue;
			for (unsigned j = 0; j < n; j++)
				seen |= vk[j] == keys->keys[i];
			if (!seen)
				vk[n++] = keys->keys[i];
		}
		if (!n)
			break;
		if (round == OFF_ROUNDS)
			return fail(f,
				    "%s: host %u keeps changing its key (%u rounds of PREEMPT); "
				    "not fenced",
				    dev, victim, OFF_ROUNDS);
		if (!own) {
			if (res.held && sgpr_key_is_parking(res.key, f->ns))
				r = adopt_parking(f, d, dev, res.key, &own);
			else
				r = register_self(f, d, dev, keys, &own);
			if (r)
				return r;
		}
		type = res.held ? res.type : (f->cfg.type ? f->cfg.type : SGPR_TYPE_WERO);
		for (unsigned j = 0; j < n; j++) {
			bool aborted = false;

			say(f, "%s: PREEMPT AND ABORT of key %s (host %u)", dev,
			    sgpr_key_format(vk[j], k), victim);
			r = sgpr_preempt(d, own, vk[j], type, true, &aborted, &st);
			if (r == -EBADE) {
				/* the key changed meanwhile (a renewal), or we were preempted */
				conflict = true;
				break;
			}
			if (r < 0)
				return fail_cmd(f, dev, "PREEMPT", r, &st);
			if (res.held && res.key == vk[j])
				victim_held = true;
			if (!aborted)
				say(f, "%s: the target lacks PREEMPT AND ABORT; used PREEMPT", dev);
		}
		if (!conflict)
			continue;
		/*
		 * A victim's key changed (a renewal): read again and retry. But when our own key
		 * is gone, another node preempted this one (a fence race): registering again would
		 * undo that fence, so stop here.
		 */
		r = read_state(f, d, dev, &keys, &res);
		if (r)
			return r;
		if (!has_key(keys, own))
			return fail(f,
				    "%s: this node's key %s was removed meanwhile (preempted by "
				    "another node?); host %u not fenced",
				    dev, sgpr_key_format(own, k), victim);
	}

	/* A parked LUN: the parker may be the victim; park it from this nexus (adopt_parking()) */
	if (res.held && sgpr_key_is_parking(res.key, f->ns)) {
		if (own != res.key) {
			r = adopt_parking(f, d, dev, res.key, &own);
			if (r)
				return r;
		}
		reparked = true;
	} else if (!res.held) {
		/* No reservation: an unregistered nexus could still write. Reserve it. */
		if (!own) {
			r = register_self(f, d, dev, keys, &own);
			if (r)
				return r;
		}
		type = f->cfg.type ? f->cfg.type : SGPR_TYPE_WERO;
		say(f, "%s: not reserved; reserving %s with key %s", dev, sgpr_type_to_name(type),
		    sgpr_key_format(own, k));
		r = sgpr_reserve(d, own, type, &st);
		if (r < 0)
			return fail_cmd(f, dev, "RESERVE", r, &st);
	}

	/* Confirm by PR IN: no key of the victim, the LUN reserved, ours if it was the victim's. */
	r = read_state(f, d, dev, &keys, &res);
	if (r)
		return r;
	if (host_registered(f, keys, victim))
		return fail(f, "%s: host %u is still registered after PREEMPT", dev, victim);
	if (!res.held)
		return fail(f, "%s: not reserved after the fence", dev);
	if (victim_held && !reparked && res.key != own)
		return fail(f, "%s: the reservation did not move to this node (holder %s)", dev,
			    sgpr_key_format(res.key, k));
	say(f, "%s: host %u fenced; holder %s", dev, victim, sgpr_key_format(res.key, k));
	return 0;
}

/* on (unfence) on one device: this node's key is registered on this nexus. */
static int on_one(struct fence *f, const char *dev)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	uint64_t own;
	char k[SGPR_KEY_STRLEN];
	int r;

	r = open_dev(f, dev, &d);
	if (!r)
		r = read_state(f, d, dev, &keys, &res);
	if (!r)
		r = register_self(f, d, dev, keys, &own);
	if (!r)
		r = read_state(f, d, dev, &keys, &res);
	if (r)
		return r;
	if (!has_key(keys, own))
		return fail(f, "%s: key %s not listed by READ KEYS after REGISTER", dev,
			    sgpr_key_format(own, k));
	say(f, "%s: registered key %s", dev, sgpr_key_format(own, k));
	return 0;
}

/* PR IN on each device (observer nexus): which hosts are registered where. */
static int read_hosts(struct fence *f, const char *dev, struct sgpr_keys **keys)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	struct sgpr_status st;
	int r;

	r = open_dev(f, dev, &d);
	if (r)
		return r;
	r = sgpr_read_keys(d, keys, &st);
	if (r < 0)
		return fail_cmd(f, dev, "READ KEYS", r, &st);
	return 0;
}

static int action_status(struct fence *f, uint16_t host)
{
	unsigned on = 0;

	for (unsigned i = 0; i < f->a.ndevices; i++) {
		_cleanup_free_ struct sgpr_keys *keys = NULL;
		int r = read_hosts(f, f->a.device[i], &keys);

		if (r)
			return r;
		if (host_registered(f, keys, host))
			on++;
		say(f, "%s: host %u %sregistered", f->a.device[i], host,
		    host_registered(f, keys, host) ? "" : "not ");
	}
	/* "off" only when fenced on every device: a partial fence is no fence */
	printf("Status: %s\n", on ? "ON" : "OFF");
	return on ? FENCE_OK : FENCE_STATUS_OFF;
}

static int action_list(struct fence *f, bool with_status)
{
	static uint8_t seen[65536];

	for (unsigned i = 0; i < f->a.ndevices; i++) {
		_cleanup_free_ struct sgpr_keys *keys = NULL;
		int r = read_hosts(f, f->a.device[i], &keys);

		if (r)
			return r;
		for (uint32_t j = 0; j < keys->count; j++)
			if (sgpr_key_in_ns(keys->keys[j], f->ns) &&
			    !sgpr_key_is_parking(keys->keys[j], f->ns))
				seen[sgpr_key_split(keys->keys[j]).host_id] = 1;
	}
	/* hosts= first (in its order), then registered host ids it does not name */
	for (unsigned i = 0; i < f->a.nhosts; i++) {
		const struct fence_host *h = &f->a.host[i];

		if (with_status)
			printf("%s,%u,%s\n", h->name, h->id, seen[h->id] ? "on" : "off");
		else if (seen[h->id])
			printf("%s,%u\n", h->name, h->id);
		seen[h->id] = 0;
	}
	for (unsigned id = 1; id < 65536; id++)
		if (seen[id])
			printf(with_status ? "%u,,on\n" : "%u,\n", id);
	return FENCE_OK;
}

static int action_monitor(struct fence *f)
{
	for (unsigned i = 0; i < f->a.ndevices; i++) {
		_cleanup_free_ struct sgpr_keys *keys = NULL;
		int r = read_hosts(f, f->a.device[i], &keys);

		if (r)
			return r;
		say(f, "%s: reachable, %u registrations", f->a.device[i], keys->count);
	}
	return FENCE_OK;
}

static void print_metadata(void)
{
	fputs("<?xml version=\"1.0\" ?>\n"
	      "<resource-agent name=\"fence_prlock\" shortdesc=\"Fence agent for SCSI-3 "
	      "persistent reservations through sgpr\">\n"
	      "<longdesc>fence_prlock fences a node from shared LUNs: off removes every "
	      "registration of the node's sgpr host id with PREEMPT AND ABORT and leaves the LUN "
	      "reserved (by this node when the victim held it); on registers the key of the node "
	      "it runs on (unfencing). Node names map to sgpr host ids with the hosts parameter "
	      "(NODE:ID,...) or the plug is a host id. Keys are sgpr's: namespace of the cluster, "
	      "host id, epoch (docs/FENCE-AGENT.md).</longdesc>\n"
	      "<vendor-url>https://www.t10.org/</vendor-url>\n"
	      "<parameters>\n",
	      stdout);
	static const struct {
		const char *name, *getopt, *type, *def, *desc;
		bool required;
		const char *obsoletes;
	} p[] = {
		{"action", "-o, --action=[action]", "string", "off", "Fencing action", false, NULL},
		{"plug", "-n, --plug=[node]", "string", NULL,
		 "The node to act on: a name of hosts, or an sgpr host id", true, "port"},
		{"port", "-n, --plug=[node]", "string", NULL, "Alias of plug", false, NULL},
		{"nodename", "--nodename=[node]", "string", NULL,
		 "The node running the agent (set by Pacemaker): with hosts, gives this node's "
		 "host id",
		 false, NULL},
		{"devices", "-d, --devices=[list]", "string", NULL,
		 "Comma-separated LUNs: iscsi://PORTAL[:PORT]/IQN/LUN URLs or /dev paths", true,
		 NULL},
		{"hosts", "--hosts=[NODE:ID,...]", "string", NULL,
		 "Node names and their sgpr host ids (1..65535), comma-separated", false, NULL},
		{"config", "--config=[file]", "string", "/etc/sgpr/sgpr.conf",
		 "sgpr configuration: cluster, host_id, initiator, type", false, NULL},
		{"initiator", "--initiator=[iqn]", "string", NULL,
		 "iSCSI initiator name of this node (iscsi:// devices)", false, NULL},
		{"cluster", "--cluster=[name]", "string", "default", "sgpr key namespace", false,
		 NULL},
		{"delay", "--delay=[seconds]", "integer", "0",
		 "Wait this many seconds before off or reboot", false, NULL},
		{"verbose", "-v, --verbose", "boolean", NULL, "Verbose mode", false, NULL},
		{"debug_file", "-D, --debug-file=[file]", "string", NULL,
		 "Write debug information to this file", false, NULL},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		printf("\t<parameter name=\"%s\" unique=\"0\" required=\"%d\"", p[i].name,
		       p[i].required);
		if (p[i].obsoletes)
			printf(" obsoletes=\"%s\"", p[i].obsoletes);
		if (!strcmp(p[i].name, "port"))
			printf(" deprecated=\"1\"");
		printf(">\n\t\t<getopt mixed=\"%s\" />\n\t\t<content type=\"%s\"", p[i].getopt,
		       p[i].type);
		if (p[i].def)
			printf(" default=\"%s\"", p[i].def);
		printf(" />\n\t\t<shortdesc lang=\"en\">%s</shortdesc>\n\t</parameter>\n",
		       p[i].desc);
	}
	fputs("</parameters>\n"
	      "<actions>\n"
	      "\t<action name=\"on\" on_target=\"1\" automatic=\"1\" />\n"
	      "\t<action name=\"off\" />\n"
	      "\t<action name=\"reboot\" />\n"
	      "\t<action name=\"status\" />\n"
	      "\t<action name=\"list\" />\n"
	      "\t<action name=\"list-status\" />\n"
	      "\t<action name=\"monitor\" />\n"
	      "\t<action name=\"metadata\" />\n"
	      "\t<action name=\"validate-all\" />\n"
	      "</actions>\n"
	      "</resource-agent>\n",
	      stdout);
}

static void help(void)
{
	printf("Usage: " PROG " [OPTIONS]   (or name=value lines on stdin, without options)\n\n"
	       "Fence agent for Pacemaker over sgpr's SCSI-3 persistent reservations.\n\n"
	       "  -o, --action=ACTION     on, off, reboot, status, list, list-status, monitor,\n"
	       "                          metadata, validate-all (default off)\n"
	       "  -n, --plug=NODE         the node to act on: a name of --hosts or a host id\n"
	       "      --nodename=NODE     the node running the agent (its id from --hosts)\n"
	       "  -d, --devices=LIST      comma-separated iscsi:// URLs or /dev paths\n"
	       "      --hosts=NODE:ID,... node names and their sgpr host ids\n"
	       "      --config=FILE       sgpr configuration (default " SGPR_CONFIG_DEFAULT ")\n"
	       "      --initiator=IQN     iSCSI initiator name of this node\n"
	       "      --cluster=NAME      sgpr key namespace\n"
	       "      --delay=SECONDS     wait before off/reboot\n"
	       "  -v, --verbose           progress on stderr (or --debug-file)\n"
	       "  -D, --debug-file=FILE   append progress and errors to FILE\n"
	       "  -h, --help              this help\n"
	       "\nExit status: 0 success (status: on), 1 error, 2 status: off.\n");
}

static void warn_line(void *userdata, const char *msg)
{
	fprintf(stderr, PROG ": %s\n", msg);
}

static int read_stdin(struct fence *f)
{
	_cleanup_free_ char *buf = malloc(STDIN_MAX + 1);
	char err[FENCE_LINE_MAX + 128];
	size_t len = 0, n;

	if (!buf)
		return fail(f, "stdin: out of memory");
	while ((n = fread(buf + len, 1, STDIN_MAX + 1 - len, stdin)) > 0) {
		len += n;
		if (len > STDIN_MAX)
			return fail(f, "stdin: more than %u bytes of parameters", STDIN_MAX);
	}
	if (ferror(stdin))
		return fail(f, "stdin: read error");
	if (fence_args_parse_text(&f->a, buf, len, warn_line, f, err, sizeof(err)) < 0)
		return fail(f, "stdin: %s", err);
	return 0;
}

/* Long options as fence-agents spell them: --name=value, --name value, a few short ones. */
static int parse_argv(struct fence *f, int argc, char **argv)
{
	static const struct {
		char c;
		const char *name;
	} shorts[] = {{'o', "action"},	   {'n', "plug"},    {'d', "devices"},
		      {'D', "debug_file"}, {'v', "verbose"}, {'h', "help"}};
	char err[512], name[64];

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;
		bool flag;
		int r;

		if (arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2]) {
			const char *lname = NULL;

			for (size_t j = 0; j < sizeof(shorts) / sizeof(shorts[0]); j++)
				if (shorts[j].c == arg[1])
					lname = shorts[j].name;
			if (!lname)
				return fail(f, "unknown option '%s' (try --help)", arg);
			snprintf(name, sizeof(name), "%s", lname);
		} else if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
			eq = strchr(arg + 2, '=');
			snprintf(name, sizeof(name), "%.*s",
				 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
			if (eq)
				value = eq + 1;
		} else {
			return fail(f, "unexpected argument '%s' (try --help)", arg);
		}
		for (char *c = name; *c; c++)
			if (*c == '-')
				*c = '_';
		if (!strcmp(name, "help")) {
			help();
			return -1;
		}
		if (!fence_param_known(name))
			return fail(f, "unknown option '%s' (try --help)", arg);
		flag = !strcmp(name, "verbose") || !strcmp(name, "quiet") ||
		       !strcmp(name, "debug") || !strcmp(name, "aptpl") ||
		       !strcmp(name, "readonly");
		if (!value && !flag) {
			if (i + 1 >= argc)
				return fail(f, "option '%s' needs a value", arg);
			value = argv[++i];
		}
		r = fence_args_set(&f->a, name, value ? value : "", err, sizeof(err));
		if (r == -ENOENT)
			return fail(f, "unknown option '%s' (try --help)", arg);
		if (r < 0)
			return fail(f, "%s", err);
		if (r == 1)
			say(f, "ignoring '%s' (no use in storage fencing)", arg);
	}
	return 0;
}

/* This node's identity: hosts[nodename] if given, else sgpr.conf (host_id or the machine id). */
static int resolve_identity(struct fence *f)
{
	struct config_args ca = {
		.config = f->a.config,
		.cluster = f->a.cluster,
		.initiator = f->a.initiator,
	};
	char msg[768], idbuf[8];
	uint16_t id;
	int r;

	if (f->a.nodename && fence_host_lookup(&f->a, f->a.nodename, &id) == 0) {
		snprintf(idbuf, sizeof(idbuf), "%u", id);
		ca.host_id = idbuf;
	}
	r = config_resolve(&ca, &f->cfg, &f->ns, msg, sizeof(msg));
	if (r < 0)
		return fail(f, "%s", msg);
	if (msg[0])
		say(f, "%s", msg);
	f->dev_opts = (struct sgpr_dev_opts){
		.size = sizeof(struct sgpr_dev_opts),
		.initiator = f->cfg.initiator,
		.host_id = f->cfg.host_id,
		.timeout_ms = f->cfg.timeout_ms,
		.log_fn = lib_log,
		.log_userdata = f,
	};
	return 0;
}

static bool needs_plug(enum fence_action a)
{
	return a == FENCE_ACTION_ON || a == FENCE_ACTION_OFF || a == FENCE_ACTION_REBOOT ||
	       a == FENCE_ACTION_STATUS;
}

static int run(struct fence *f)
{
	enum fence_action act = f->a.action;
	uint16_t plug = 0;
	int r;

	if (!f->a.ndevices)
		return fail(f, "devices: missing (comma-separated iscsi:// URLs or /dev paths)");
	for (unsigned i = 0; i < f->a.ndevices; i++)
		if (strncmp(f->a.device[i], "iscsi://", 8) && strncmp(f->a.device[i], "/dev/", 5))
			return fail(f, "%s: not an iscsi:// URL or a /dev path", f->a.device[i]);
	if (needs_plug(act) && !f->a.plug)
		return fail(f, "plug: missing (the node to %s)", fence_action_name(act));
	if (f->a.plug && fence_host_lookup(&f->a, f->a.plug, &plug) < 0)
		return fail(f, "plug '%s': unknown node (not in hosts=, not a host id 1..65535)",
			    f->a.plug);
	r = resolve_identity(f);
	if (r)
		return r;
	if (act == FENCE_ACTION_ON && plug != f->cfg.host_id)
		return fail(f,
			    "on: plug '%s' is host %u, but this node is host %u; on registers the "
			    "node it runs on",
			    f->a.plug, plug, f->cfg.host_id);
	if ((act == FENCE_ACTION_OFF || act == FENCE_ACTION_REBOOT) && plug == f->cfg.host_id)
		return fail(f, "%s: plug '%s' is this node (host %u); refusing to fence itself",
			    fence_action_name(act), f->a.plug, plug);
	/* PR IN only: the observer ISID never ends the session of prlockd on this host */
	f->dev_opts.observer_isid = act == FENCE_ACTION_STATUS || act == FENCE_ACTION_LIST ||
				    act == FENCE_ACTION_LIST_STATUS || act == FENCE_ACTION_MONITOR;

	switch (act) {
	case FENCE_ACTION_VALIDATE_ALL:
		return FENCE_OK;
	case FENCE_ACTION_STATUS:
		return action_status(f, plug);
	case FENCE_ACTION_LIST:
	case FENCE_ACTION_LIST_STATUS:
		return action_list(f, act == FENCE_ACTION_LIST_STATUS);
	case FENCE_ACTION_MONITOR:
		return action_monitor(f);
	case FENCE_ACTION_ON:
		for (unsigned i = 0; i < f->a.ndevices; i++) {
			r = on_one(f, f->a.device[i]);
			if (r)
				return r;
		}
		printf("Success: Powered ON\n");
		return FENCE_OK;
	case FENCE_ACTION_OFF:
	case FENCE_ACTION_REBOOT:
		if (f->a.delay_s) {
			say(f, "delay: waiting %u s", f->a.delay_s);
			sleep(f->a.delay_s);
		}
		/* every device, even after a failure: fence as much as can be fenced */
		r = FENCE_OK;
		for (unsigned i = 0; i < f->a.ndevices; i++)
			if (off_one(f, f->a.device[i], plug))
				r = FENCE_ERROR;
		if (r)
			return r;
		/* reboot of storage fencing is off: the node is unfenced when it comes back */
		printf("Success: %s\n", act == FENCE_ACTION_REBOOT ? "Rebooted" : "Powered OFF");
		return FENCE_OK;
	default:
		return fail(f, "action '%s': not handled", fence_action_name(act));
	}
}

int main(int argc, char **argv)
{
	struct fence f = {};
	char err[512];
	int r;

	r = argc > 1 ? parse_argv(&f, argc, argv) : read_stdin(&f);
	if (r)
		goto out;
	if (f.a.action == FENCE_ACTION_NONE)
		f.a.action = FENCE_ACTION_OFF;
	if (f.a.action == FENCE_ACTION_METADATA) {
		print_metadata();
		goto out;
	}
	if (fence_args_finish(&f.a, err, sizeof(err)) < 0) {
		r = fail(&f, "%s", err);
		goto out;
	}
	if (f.a.debug_file) {
		f.debug = fopen(f.a.debug_file, "ae");
		if (!f.debug) {
			r = fail(&f, "debug_file %s: %s", f.a.debug_file, strerror(errno));
			goto out;
		}
	}
	say(&f, "action %s, plug %s, %u devices", fence_action_name(f.a.action),
	    f.a.plug ? f.a.plug : "-", f.a.ndevices);
	r = run(&f);
out:
	if (f.debug)
		fclose(f.debug);
	fence_args_free(&f.a);
	/* --help: parse_argv() answered */
	return r < 0 ? FENCE_OK : r;
}
