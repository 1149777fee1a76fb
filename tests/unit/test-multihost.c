/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The multi-host simulator as a test (TAP): SGPR_SIM_EPISODES episodes (default 100000) on the
 * SPC model and as many on the tgt model, seeds from SGPR_SIM_SEED (default 1), SGPR_SIM_STEPS
 * world steps each (default 600). The first violated invariant fails the model's test point and
 * prints its seed, step, invariant and last events; sgpr-simulate --seed S replays it.
 */
#include <stdlib.h>
#include <time.h>

#include "sim-hosts.h"

static unsigned long long env_num(const char *name, unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool run_model(unsigned n, int model, unsigned long long seed, unsigned long long episodes,
		      unsigned steps)
{
	struct simh_params p = {.steps = steps, .force_model = model, .faults = 6, .out = stderr};
	unsigned long long i;
	struct simh_result res = {0};
	double t0 = mono_s(), dt;
	int r = 0;

	for (i = 0; i < episodes && r == 0; i++)
		r = simh_run_episode(seed + i, &p, &res);
	dt = mono_s() - t0;
	if (r != 0) {
		printf("not ok %u - %s: %s at seed %llu step %u: %s (replay: sgpr-simulate --seed "
		       "%llu --episodes 1 --steps %u --model %s --verbose)\n",
		       n, model ? "tgt" : "spc", simh_inv_name(res.inv),
		       (unsigned long long)res.seed, res.step, res.what,
		       (unsigned long long)res.seed, steps, model ? "tgt" : "spc");
		return false;
	}
	printf("ok %u - %s: %llu episodes (seeds %llu..%llu), %.2f s, %.0f episodes/s\n", n,
	       model ? "tgt" : "spc", episodes, seed, seed + episodes - 1, dt,
	       dt > 0 ? (double)episodes / dt : 0.0);
	return true;
}

int main(void)
{
	unsigned long long episodes = env_num("SGPR_SIM_EPISODES", 100000);
	unsigned long long seed = env_num("SGPR_SIM_SEED", 1);
	unsigned steps = (unsigned)env_num("SGPR_SIM_STEPS", 600);
	bool ok;

	printf("1..2\n");
	ok = run_model(1, 0, seed, episodes, steps);
	ok &= run_model(2, 1, seed, episodes, steps);
	return ok ? 0 : 1;
}
