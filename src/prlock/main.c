/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlock: option parsing, identity, and the verb table (wg.c style). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "prlock.h"

static const struct verb verbs[] = {
	{"status", verb_status, 1, -1, 0, "DEV...",
	 "registrations, reservation, capabilities and owners", true},
	{"keys", verb_keys, 1, 1, 0, "DEV", "registered keys (READ KEYS)", true},
	{"caps", verb_caps, 1, 1, 0, "DEV", "PR capabilities and unsupported service actions",
	 true},
	{"register", verb_register, 1, -1, 0, "DEV...", "register this host's key", false},
	{"unregister", verb_unregister, 1, -1, 0, "DEV...", "remove this host's key", false},
	{"acquire", verb_acquire, 1, -1, OPT_TYPE | OPT_STATIC | OPT_WAIT,
	 "DEV... [--type T] [--wait[=S]] | DEV... --static",
	 "hand a lease to prlockd (--wait: until a dead holder can be taken over);\n"
	 "                  --static: one-shot register and reserve, no daemon",
	 false},
	{"release", verb_release, 1, -1, OPT_KEEP_REG | OPT_FORCE,
	 "DEV... [--keep-registration] [--force]",
	 "give a lease back to prlockd's hands, else release and unregister", false},
	{"leases", verb_leases, 0, 0, 0, "", "the leases prlockd holds, waits for or lost", false},
	{"protect", verb_protect, 2, 2, 0, "DEV PID",
	 "prlockd stops PID (SIGTERM, SIGKILL) if the lease on DEV is lost", false},
	{"check", verb_check, 1, 1, 0, "DEV",
	 "exit 0 if this host holds DEV, 3 if another key does, 6 if nobody", true},
	{"preempt", verb_preempt, 1, 1,
	 OPT_TYPE | OPT_VICTIM | OPT_HOST | OPT_FORCE | OPT_NO_ABORT | OPT_IF_DEAD | OPT_TIMEOUT,
	 "DEV [--victim KEY | --host ID] [--force] [--type T] [--no-abort]\n"
	 "                  | DEV --if-dead [--timeout S]",
	 "take the reservation from another key (PREEMPT AND ABORT, else PREEMPT);\n"
	 "                  --if-dead: only once the holder's key stopped changing",
	 false},
	{"run", verb_run, 1, -1, OPT_TYPE | OPT_KILL_GRACE, "DEV... [--type T] -- CMD [ARGS]",
	 "hold leases on DEV while CMD runs; kill its process tree if one is lost", false},
	{"clear", verb_clear, 1, 1, OPT_FORCE, "DEV --force",
	 "remove every registration and the reservation", false},
};

static void help(FILE *f)
{
	fprintf(f, "Usage: prlock [OPTIONS] VERB [VERB OPTIONS] DEV...\n\n"
		   "SCSI-3 persistent reservations for hosts that share storage.\n"
		   "DEV is iscsi://PORTAL[:PORT]/TARGET-IQN/LUN or a kernel device: /dev/sdX,\n"
		   "/dev/sgX, /dev/mapper/NAME (docs/prlock.md).\n\n"
		   "Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-11s %s\n                  %s\n", verbs[i].name, verbs[i].usage,
			verbs[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  --json[=pretty|short]  machine-readable output (schema version 1)\n"
		   "  --config FILE          configuration file (default " SGPR_CONFIG_DEFAULT ")\n"
		   "  --host-id N            this host's id, 1..65535\n"
		   "  --cluster NAME         key namespace (default \"" SGPR_CLUSTER_DEFAULT "\")\n"
		   "  --initiator IQN        iSCSI initiator name of this host\n"
		   "  --type T               write-exclusive, exclusive-access, "
		   "write-exclusive-reg-only,\n"
		   "                         exclusive-access-reg-only, write-exclusive-all-regs,\n"
		   "                         exclusive-access-all-regs (default "
		   "write-exclusive-reg-only)\n"
		   "  --command-timeout MS   per-command timeout (default 10000; run: at most L)\n"
		   "  --lease-period S       lease period L (default 2)\n"
		   "  --dead-after S         a holder key unchanged this long is dead (default 3.5 "
		   "L)\n"
		   "  --kill-grace S         run: SIGTERM to SIGKILL on a lost lease (default 5)\n"
		   "  --control PATH         prlockd's control socket "
		   "(default " PRLOCKD_CONTROL_DEFAULT ")\n"
		   "  -h, --help             this help\n"
		   "\nExit status: 0 ok, 1 error, 2 usage, 3 conflict, 4 PR not supported,\n"
		   "5 device or transport unreachable, 6 no reservation (check).\n");
}

enum {
	ARG_JSON = 0x100,
	ARG_CONFIG,
	ARG_HOST_ID,
	ARG_CLUSTER,
	ARG_INITIATOR,
	ARG_TYPE,
	ARG_TIMEOUT,
	ARG_STATIC,
	ARG_WAIT,
	ARG_VICTIM,
	ARG_HOST,
	ARG_FORCE,
	ARG_NO_ABORT,
	ARG_KEEP_REG,
	ARG_LEASE_PERIOD,
	ARG_DEAD_AFTER,
	ARG_KILL_GRACE,
	ARG_IF_DEAD,
	ARG_WAIT_TIMEOUT,
	ARG_CONTROL,
};

/* Command-line values: the shared ones (config_resolve()) and prlock's own. */
struct cmdline {
	struct config_args shared;
	const char *victim, *victim_host, *wait_timeout, *wait;
	unsigned used; /* OPT_* seen */
};

static int parse_argv(int argc, char **argv, struct prlock *p, struct cmdline *c)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", optional_argument, NULL, ARG_JSON},
		{"config", required_argument, NULL, ARG_CONFIG},
		{"host-id", required_argument, NULL, ARG_HOST_ID},
		{"cluster", required_argument, NULL, ARG_CLUSTER},
		{"initiator", required_argument, NULL, ARG_INITIATOR},
		{"type", required_argument, NULL, ARG_TYPE},
		{"command-timeout", required_argument, NULL, ARG_TIMEOUT},
		{"lease-period", required_argument, NULL, ARG_LEASE_PERIOD},
		{"dead-after", required_argument, NULL, ARG_DEAD_AFTER},
		{"kill-grace", required_argument, NULL, ARG_KILL_GRACE},
		{"if-dead", no_argument, NULL, ARG_IF_DEAD},
		{"timeout", required_argument, NULL, ARG_WAIT_TIMEOUT},
		{"static", no_argument, NULL, ARG_STATIC},
		{"wait", optional_argument, NULL, ARG_WAIT},
		{"victim", required_argument, NULL, ARG_VICTIM},
		{"host", required_argument, NULL, ARG_HOST},
		{"force", no_argument, NULL, ARG_FORCE},
		{"no-abort", no_argument, NULL, ARG_NO_ABORT},
		{"keep-registration", no_argument, NULL, ARG_KEEP_REG},
		{"control", required_argument, NULL, ARG_CONTROL},
		{}};
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (o) {
		case 'h':
			help(stdout);
			return 0;
		case ARG_JSON:
			p->json = true;
			if (!optarg || strcmp(optarg, "short") == 0)
				p->pretty = false;
			else if (strcmp(optarg, "pretty") == 0)
				p->pretty = true;
			else
				return usage_error("--json=%s: expected 'pretty' or 'short'",
						   optarg),
				       -1;
			break;
		case ARG_CONFIG:
			c->shared.config = optarg;
			break;
		case ARG_HOST_ID:
			c->shared.host_id = optarg;
			break;
		case ARG_CLUSTER:
			c->shared.cluster = optarg;
			break;
		case ARG_INITIATOR:
			c->shared.initiator = optarg;
			break;
		case ARG_TYPE:
			c->shared.type = optarg;
			c->used |= OPT_TYPE;
			break;
		case ARG_TIMEOUT:
			c->shared.timeout = optarg;
			break;
		case ARG_STATIC:
			p->static_lease = true;
			c->used |= OPT_STATIC;
			break;
		case ARG_WAIT:
			c->used |= OPT_WAIT;
			p->wait = true;
			c->wait = optarg;
			break;
		case ARG_CONTROL:
			p->control = optarg;
			break;
		case ARG_VICTIM:
			c->victim = optarg;
			c->used |= OPT_VICTIM;
			break;
		case ARG_HOST:
			c->victim_host = optarg;
			c->used |= OPT_HOST;
			break;
		case ARG_FORCE:
			p->force = true;
			c->used |= OPT_FORCE;
			break;
		case ARG_NO_ABORT:
			p->no_abort = true;
			c->used |= OPT_NO_ABORT;
			break;
		case ARG_KEEP_REG:
			p->keep_registration = true;
			c->used |= OPT_KEEP_REG;
			break;
		case ARG_LEASE_PERIOD:
			c->shared.lease_period = optarg;
			break;
		case ARG_DEAD_AFTER:
			c->shared.dead_after = optarg;
			break;
		case ARG_KILL_GRACE:
			c->shared.kill_grace = optarg;
			c->used |= OPT_KILL_GRACE;
			break;
		case ARG_IF_DEAD:
			p->if_dead = true;
			c->used |= OPT_IF_DEAD;
			break;
		case ARG_WAIT_TIMEOUT:
			c->wait_timeout = optarg;
			c->used |= OPT_TIMEOUT;
			break;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]), -1;
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]), -1;
		}
	}
	return 1;
}

/*
 * libsgpr's messages: warnings and worse on stderr (a registration that could not be
 * re-established, a failed path); reconnects and recoveries are NOTICE/INFO, not shown. With
 * --json only errors: a failed path is in the JSON already. Called from the device threads of
 * "run" too: one fprintf() a line.
 */
static void lib_log(void *userdata, int priority, const char *msg)
{
	const struct prlock *p = userdata;

	if (priority <= (p->json ? LOG_ERR : LOG_WARNING)) {
		progress_clear_any();
		fprintf(stderr, "prlock: %s\n", msg);
	}
}

/* Merge defaults, the config file and the command line into p. Returns 0 or an exit code. */
static int resolve_identity(struct prlock *p, const struct cmdline *c)
{
	char msg[768];
	int r;

	r = config_resolve(&c->shared, &p->cfg, &p->ns, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "prlock: %s\n", msg);
		return r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (msg[0])
		fprintf(stderr, "prlock: warning: %s\n", msg);
	p->type_set = c->shared.type != NULL;
	if (c->wait && parse_seconds(c->wait, 1, 86400000, &p->wait_ms))
		return usage_error("--wait=%s: expected 0.001..86400 seconds", c->wait);
	if (c->wait_timeout && parse_seconds(c->wait_timeout, 0, 86400000, &p->wait_timeout_ms))
		return usage_error("--timeout '%s': expected 0..86400 seconds", c->wait_timeout);
	p->wait_timeout_set = c->wait_timeout != NULL;
	if (c->victim && sgpr_key_parse(c->victim, &p->victim) < 0)
		return usage_error("--victim '%s': expected a nonzero key (0x... or decimal)",
				   c->victim);
	if (c->victim_host && parse_host_id(c->victim_host, &p->victim_host) < 0)
		return usage_error("--host '%s': expected a host id 1..65535", c->victim_host);
	if (c->victim && c->victim_host)
		return usage_error("--victim and --host exclude each other");
	p->dev_opts = (struct sgpr_dev_opts){
		.size = sizeof(struct sgpr_dev_opts),
		.initiator = p->cfg.initiator,
		.host_id = p->cfg.host_id,
		.timeout_ms = p->cfg.timeout_ms,
		.log_fn = lib_log,
		.log_userdata = p,
	};
	return 0;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static const char *option_name(unsigned bit)
{
	static const char *const names[] = {
		"--type",	"--static",  "--wait",	   "--victim",
		"--host",	"--force",   "--no-abort", "--keep-registration",
		"--kill-grace", "--if-dead", "--timeout"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bit == 1u << i)
			return names[i];
	return "?";
}

int main(int argc, char **argv)
{
	struct prlock p = {};
	struct cmdline c = {};
	const struct verb *v;
	int r, ndev, dashdash;

	/*
	 * "run DEV... -- CMD ARGS": getopt permutes the arguments before "--"
	 * to its far side, so cut the command off before parsing.
	 */
	for (dashdash = 1; dashdash < argc && strcmp(argv[dashdash], "--"); dashdash++)
		;
	if (dashdash < argc) {
		p.cmd = argv + dashdash + 1;
		p.ncmd = argc - dashdash - 1;
		argc = dashdash;
		argv[dashdash] = NULL;
	}
	r = parse_argv(argc, argv, &p, &c);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (optind >= argc)
		return usage_error("no verb given (try 'prlock --help')");
	v = find_verb(argv[optind]);
	if (!v)
		return usage_error("unknown verb '%s' (try 'prlock --help')", argv[optind]);
	ndev = argc - optind - 1;
	if (ndev < v->min_args || (v->max_args >= 0 && ndev > v->max_args))
		return usage_error("usage: prlock %s %s", v->name, v->usage);
	if ((p.cmd != NULL) != (v->fn == verb_run))
		return usage_error(p.cmd ? "%s: a command after '--' only goes with 'run'"
					 : "usage: prlock %s DEV... -- CMD [ARGS]",
				   v->name);
	if (p.cmd && !p.ncmd)
		return usage_error("run: no command after '--'");
	/* --type is also a global option: every verb that reserves takes it. */
	for (unsigned bit = OPT_STATIC; bit <= OPT_TIMEOUT; bit <<= 1)
		if ((c.used & bit) && !(v->options & bit))
			return usage_error("%s: option %s does not apply", v->name,
					   option_name(bit));
	if ((c.used & OPT_TIMEOUT) && !p.if_dead)
		return usage_error("preempt: --timeout goes with --if-dead");
	if (p.if_dead && (c.used & (OPT_VICTIM | OPT_HOST | OPT_NO_ABORT)))
		return usage_error("preempt --if-dead takes the holder it watches; no --victim, "
				   "--host or --no-abort");
	if ((c.used & OPT_WAIT) && p.static_lease)
		return usage_error("acquire: --wait goes through prlockd; --static is one-shot");

	r = resolve_identity(&p, &c);
	if (r)
		return r;
	/*
	 * Read-only verbs never log in as the host's registering initiator port: on an
	 * RFC 7143 target that would end prlockd's (or prlock run's) session.
	 */
	p.dev_opts.observer_isid = v->read_only;
	json_init(&p.j, stdout, p.pretty);
	return v->fn(&p, ndev, argv + optind + 1);
}
