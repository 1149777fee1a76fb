/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sgpr-lun-id: the LUN id of a SCSI disk or dm-multipath map as libsgpr names it
 * (sgpr_dev_lun_id(): udev's WWN, else INQUIRY VPD page 0x83, SPC-4 7.8.6, else the serial), for
 * udev's IMPORT{program} (udev/65-sgpr.rules):
 *
 *   sgpr-lun-id DEVNODE      ->  SGPR_LUN_ID=naa.600140512345...
 *   sgpr-lun-id --escape ID  ->  ID as a /dev link name (tests)
 *
 * The device's answer is hostile data: it becomes a path component, so every byte outside
 * [A-Za-z0-9._:+-] is replaced by '_', a name of dots only is refused, and the length is bounded by
 * libsgpr (SGPR_LUN_ID_MAX). Commands are bounded (5 s each, few retries), nothing is written.
 * Exit: 0 printed, 1 no id (or the device cannot be opened: one line on stderr), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sgpr.h"

/* Make id a safe single path component in place; false if nothing usable is left. */
static bool escape(char *id)
{
	bool dots_only = true;

	for (char *c = id; *c; c++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:+-",
			    *c))
			*c = '_';
		if (*c != '.')
			dots_only = false;
	}
	return id[0] && !dots_only;
}

int main(int argc, char **argv)
{
	const struct sgpr_dev_opts opts = {
		.size = sizeof(struct sgpr_dev_opts),
		.timeout_ms = 5000,
		.ua_retries = 2,
		.busy_retries = 1,
		.connect_timeout_ms = 5000,
	};
	struct sgpr_dev *d = NULL;
	char id[1024];
	int r;

	if (argc == 3 && strcmp(argv[1], "--escape") == 0) {
		snprintf(id, sizeof(id), "%s", argv[2]);
		if (!escape(id))
			return 1;
		puts(id);
		return 0;
	}
	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: sgpr-lun-id /dev/NODE | --escape ID\n");
		return 2;
	}
	if (strncmp(argv[1], "/dev/", 5) != 0) {
		fprintf(stderr, "sgpr-lun-id: %s: not a /dev node\n", argv[1]);
		return 2;
	}
	r = sgpr_dev_open(argv[1], &opts, &d);
	if (r < 0) {
		fprintf(stderr, "sgpr-lun-id: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	if (!sgpr_dev_lun_id(d) ||
	    (size_t)snprintf(id, sizeof(id), "%s", sgpr_dev_lun_id(d)) >= sizeof(id) ||
	    !escape(id)) {
		fprintf(stderr, "sgpr-lun-id: %s: the LUN has no usable id\n", argv[1]);
		sgpr_dev_free(d);
		return 1;
	}
	sgpr_dev_free(d);
	printf("SGPR_LUN_ID=%s\n", id);
	return 0;
}
