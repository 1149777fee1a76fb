/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sgpr-simulate: run the multi-host simulator (sim-hosts.h) for long runs and replays.
 *   sgpr-simulate [--seed N] [--episodes N] [--steps N] [--model spc|tgt|any] [--faults N]
 *                 [--without FEATURE,...] [--keep-going] [--verbose]
 * FEATURE: clone, mismatch, runner, self-fence, multipath, daemon (prlockd's lease table as
 * the decision code of some hosts), or a fault: pause, kill, restart,
 * path-down, target-restart, timeout, suspend.
 * Episode i runs with seed N + i; a failure prints its seed, step, invariant and the last
 * events, and "--seed S --episodes 1" replays it (add --verbose for the whole trace).
 * Exit 0: no invariant violated, 1: a violation, 2: usage.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim-hosts.h"

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_without(const char *arg, unsigned *ret)
{
	static const char *const features[] = {"clone",	     "mismatch",  "runner",
					       "self-fence", "multipath", "daemon"};
	char *copy = strdup(arg), *save = NULL;
	int r = 0;

	for (char *t = strtok_r(copy, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
		unsigned bit = 0;

		for (unsigned i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			if (strcmp(t, features[i]) == 0)
				bit = 1u << i;
		for (unsigned k = 0; k < _SIMH_F_MAX; k++)
			if (strcmp(t, simh_fault_name((enum simh_fault_kind)k)) == 0)
				bit = SIMH_NO_FAULT(k);
		if (!bit)
			r = -EINVAL;
		*ret |= bit;
	}
	free(copy);
	return r;
}

static int usage(void)
{
	fprintf(stderr, "usage: sgpr-simulate [--seed N] [--episodes N] [--steps N] "
			"[--model spc|tgt|any] [--faults N] [--without FEATURE,...] "
			"[--keep-going] [--verbose] [--monotonic-clock]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"episodes", required_argument, NULL, 'e'},
		{"steps", required_argument, NULL, 'n'},
		{"model", required_argument, NULL, 'm'},
		{"faults", required_argument, NULL, 'f'},
		{"keep-going", no_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"without", required_argument, NULL, 'w'},
		{"monotonic-clock", no_argument, NULL, 'M'},
		{},
	};
	struct simh_params p = {.steps = 600, .force_model = -1, .faults = 6};
	unsigned long long seed = 1, episodes = 1000, failed = 0, by_inv[SIMH_ERR + 1] = {0};
	unsigned long long actions = 0, writes = 0, done = 0;
	bool keep_going = false;
	double t0;
	int c;

	while ((c = getopt_long(argc, argv, "s:e:n:m:f:w:kvh", longopts, NULL)) >= 0) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'e':
			episodes = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			p.steps = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			if (strcmp(optarg, "spc") == 0)
				p.force_model = 0;
			else if (strcmp(optarg, "tgt") == 0)
				p.force_model = 1;
			else if (strcmp(optarg, "any") == 0)
				p.force_model = -1;
			else
				return usage();
			break;
		case 'f':
			p.faults = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			if (parse_without(optarg, &p.without) < 0)
				return usage();
			break;
		case 'k':
			keep_going = true;
			break;
		case 'M':
			p.monotonic = true;
			break;
		case 'v':
			p.verbose = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	p.out = stdout;
	t0 = mono_s();
	for (unsigned long long i = 0; i < episodes; i++) {
		struct simh_result res;
		int r = simh_run_episode(seed + i, &p, &res);

		done++;
		actions += res.actions;
		writes += res.writes;
		if (r != 0) {
			failed++;
			by_inv[res.inv <= SIMH_ERR ? res.inv : SIMH_ERR]++;
			printf("  replay: sgpr-simulate --seed %llu --episodes 1 --steps %u%s\n",
			       (unsigned long long)res.seed, p.steps,
			       p.verbose ? "" : " --verbose");
			fflush(stdout);
			if (!keep_going)
				break;
		}
	}
	{
		double dt = mono_s() - t0;

		printf("episodes %llu (seeds %llu..%llu), failed %llu [I1 %llu, I2 %llu, I3 %llu, "
		       "I4 %llu, I5 %llu, errors %llu]; %llu lease calls, %llu writes; %.2f s, "
		       "%.0f episodes/s\n",
		       done, seed, seed + done - 1, failed, by_inv[SIMH_I1], by_inv[SIMH_I2],
		       by_inv[SIMH_I3], by_inv[SIMH_I4], by_inv[SIMH_I5], by_inv[SIMH_ERR], actions,
		       writes, dt, dt > 0 ? (double)done / dt : 0.0);
	}
	return failed ? 1 : 0;
}
