/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: the configuration file of prlock and prlockd (src/shared/config.c), read the
 * way both read it (config_resolve() with the file as --config). The input is the file,
 * served from a memfd through /proc/self/fd.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "sgpr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_args a = {.machine_id = "/nonexistent/machine-id"};
	struct sgpr_config cfg = {};
	const char *cause;
	char msg[1024];
	uint16_t ns;
	int r;

	if (fd < 0) {
		fd = memfd_create("sgpr.conf", MFD_CLOEXEC);
		assert(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	assert(ftruncate(fd, 0) == 0);
	assert(pwrite(fd, data, size, 0) == (ssize_t)size);
	a.config = path;

	r = config_resolve(&a, &cfg, &ns, msg, sizeof(msg));
	assert(r == 0 || r == -EINVAL);
	assert(strlen(msg) < sizeof(msg) && !strchr(msg, '\n'));
	if (r < 0) {
		assert(msg[0]);
		/* the cause named is the true one: "config PATH:LINE: CAUSE" */
		cause = NULL;
		if (strncmp(msg, "config ", 7) == 0 && strncmp(msg + 7, path, strlen(path)) == 0 &&
		    msg[7 + strlen(path)] == ':') {
			cause = msg + 8 + strlen(path);
			cause += strspn(cause, "0123456789");
			cause = strncmp(cause, ": ", 2) == 0 ? cause + 2 : NULL;
		}
		if (cause && strncmp(cause, "line too long", 13) == 0) {
			size_t longest = 0, cur = 0;

			for (size_t i = 0; i < size; i++, cur++) {
				if (data[i] == '\n')
					cur = (size_t)-1;
				else if (cur + 1 > longest)
					longest = cur + 1;
			}
			assert(longest > 511);
		}
		if (cause && strncmp(cause, "NUL byte in line", 16) == 0)
			assert(memchr(data, 0, size));
		return 0;
	}
	/* a host id is set (the machine id does not exist) and every value is in range */
	assert(cfg.host_id >= 1 && !msg[0]);
	assert(cfg.cluster[0] && strlen(cfg.cluster) < sizeof(cfg.cluster));
	assert(iscsi_name_valid(cfg.initiator));
	assert(!cfg.type || sgpr_type_to_name(cfg.type));
	assert(!cfg.timeout_ms || (cfg.timeout_ms >= 100 && cfg.timeout_ms <= 600000));
	assert(cfg.lease_period_ms >= 100 && cfg.lease_period_ms <= 3600000);
	assert(cfg.dead_after_ms > cfg.lease_period_ms && cfg.dead_after_ms <= 86400000);
	assert(cfg.kill_grace_ms <= 3600000 && cfg.self_fence_after_ms <= 86400000);
	assert(strlen(cfg.group) < sizeof(cfg.group) && cfg.group[0] != '-');
	assert(!cfg.loss_action[0] || strcmp(cfg.loss_action, "kill") == 0 ||
	       strncmp(cfg.loss_action, "hook:/", 6) == 0);
	assert(strlen(cfg.loss_action) < sizeof(cfg.loss_action));
	assert(!cfg.pr_socket[0] || strcmp(cfg.pr_socket, "none") == 0 || cfg.pr_socket[0] == '/');
	assert(strlen(cfg.pr_socket) < sizeof(cfg.pr_socket));
	assert(cfg.workers <= 256);
	(void)ns;
	return 0;
}
