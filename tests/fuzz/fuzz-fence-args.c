/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: fence_prlock's stdin parameters (src/fence/fence-args.c), read as the agent reads
 * what Pacemaker writes: the lines, then the device and host lists, then the plug and nodename
 * looked up in the host map.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fence-args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void warn(void *userdata, const char *msg)
{
	assert(msg && strlen(msg) < 4096 + 128);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fence_args a = {};
	char err[512];
	uint16_t id;

	err[0] = '\0';
	if (fence_args_parse_text(&a, (const char *)data, size, warn, NULL, err, sizeof(err)) < 0) {
		assert(err[0]); /* every refusal says why */
		goto out;
	}
	if (fence_args_finish(&a, err, sizeof(err)) < 0) {
		assert(err[0]);
		goto out;
	}
	assert(a.ndevices <= FENCE_DEVICES_MAX && a.nhosts <= FENCE_HOSTS_MAX);
	for (unsigned i = 0; i < a.ndevices; i++)
		assert(a.device[i][0]);
	for (unsigned i = 0; i < a.nhosts; i++) {
		assert(a.host[i].id >= 1);
		assert(fence_host_lookup(&a, a.host[i].name, &id) == 0 && id == a.host[i].id);
		assert(fence_host_name(&a, a.host[i].id) == a.host[i].name);
	}
	if (a.plug && fence_host_lookup(&a, a.plug, &id) == 0)
		assert(id >= 1);
	if (a.nodename)
		(void)fence_host_lookup(&a, a.nodename, &id);
out:
	fence_args_free(&a);
	return 0;
}
