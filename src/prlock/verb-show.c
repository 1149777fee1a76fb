/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Read-only verbs: status, keys, caps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "prlock.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

struct lun_state {
	struct sgpr_keys *keys;
	struct sgpr_reservation res;
	struct sgpr_caps caps;
	bool have_caps;
};

static void lun_state_done(struct lun_state *s)
{
	free(s->keys);
}

/* READ KEYS, READ RESERVATION, REPORT CAPABILITIES. Returns 0 or an exit code. */
static int read_state(struct sgpr_dev *d, bool with_caps, struct lun_state *s)
{
	const char *dev = sgpr_dev_target(d);
	struct sgpr_status st;
	int r;

	r = sgpr_read_keys(d, &s->keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	r = sgpr_read_reservation(d, &s->res, &st);
	if (r < 0)
		return fail(r, dev, "READ RESERVATION", &st);
	if (!with_caps)
		return 0;
	r = sgpr_report_caps(d, &s->caps, &st);
	if (r == 0)
		s->have_caps = true;
	else if (r != -EOPNOTSUPP)
		return fail(r, dev, "REPORT CAPABILITIES", &st);
	r = sgpr_dev_probe(d);
	if (r < 0)
		return fail(r, dev, "probing optional service actions", NULL);
	return 0;
}

static const int all_types[] = {SGPR_TYPE_WE,	SGPR_TYPE_EA,	SGPR_TYPE_WERO,
				SGPR_TYPE_EARO, SGPR_TYPE_WEAR, SGPR_TYPE_EAAR};

static void print_caps_human(const struct lun_state *s, struct sgpr_dev *d)
{
	if (s->have_caps) {
		printf("  types:         ");
		for (size_t i = 0, n = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++)
			if (!s->caps.tmv || sgpr_caps_type_supported(&s->caps, all_types[i]))
				printf("%s%s", n++ ? ", " : "", sgpr_type_to_name(all_types[i]));
		printf("\n  persist (APTPL): %s\n", s->caps.ptpl_c ? "capable" : "no");
		printf("  all target ports: %s, specify initiator ports: %s\n",
		       s->caps.atp_c ? "yes" : "no", s->caps.sip_c ? "yes" : "no");
	} else {
		printf("  capabilities:  REPORT CAPABILITIES not supported\n");
	}
	if (sgpr_dev_prout_unsupported(d, SGPR_PROUT_PREEMPT_AND_ABORT))
		printf("  preempt:       PREEMPT AND ABORT not supported, falls back to PREEMPT "
		       "(queued commands of the victim are not aborted)\n");
	else
		printf("  preempt:       PREEMPT AND ABORT\n");
	if (sgpr_dev_prin_unsupported(d, SGPR_PRIN_READ_FULL_STATUS))
		printf("  full status:   READ FULL STATUS not supported\n");
}

static void json_caps(struct prlock *p, const struct lun_state *s, struct sgpr_dev *d)
{
	struct json *j = &p->j;

	json_key(j, "capabilities");
	if (!s->have_caps) {
		json_null(j);
	} else {
		json_object_begin(j);
		json_key(j, "types");
		json_array_begin(j);
		for (size_t i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++)
			if (!s->caps.tmv || sgpr_caps_type_supported(&s->caps, all_types[i]))
				json_string(j, sgpr_type_to_name(all_types[i]));
		json_array_end(j);
		json_key(j, "ptpl_capable");
		json_bool(j, s->caps.ptpl_c);
		json_key(j, "ptpl_active");
		json_bool(j, s->caps.ptpl_a);
		json_key(j, "all_tg_pt_capable");
		json_bool(j, s->caps.atp_c);
		json_key(j, "spec_i_pt_capable");
		json_bool(j, s->caps.sip_c);
		json_key(j, "compatible_reservation_handling");
		json_bool(j, s->caps.crh);
		json_object_end(j);
	}
	json_key(j, "unsupported");
	json_array_begin(j);
	for (int sa = 0; sa < _SGPR_PROUT_SA_MAX; sa++)
		if (sgpr_dev_prout_unsupported(d, sa))
			json_string(j, sgpr_prout_sa_to_name(sa));
	for (int sa = 0; sa < _SGPR_PRIN_SA_MAX; sa++)
		if (sgpr_dev_prin_unsupported(d, sa))
			json_string(j, sgpr_prin_sa_to_name(sa));
	json_array_end(j);
	json_key(j, "preempt_fallback");
	json_bool(j, sgpr_dev_prout_unsupported(d, SGPR_PROUT_PREEMPT_AND_ABORT));
}

static void print_keys_human(struct prlock *p, const struct lun_state *s)
{
	char label[64], key[SGPR_KEY_STRLEN];

	if (!s->keys->count) {
		printf("  registrations: none\n");
		return;
	}
	printf("  registrations: %u\n", s->keys->count);
	printf("    %-18s  %-20s  %-10s  %s\n", "KEY", "OWNER", "EPOCH", "HOLDER");
	for (uint32_t i = 0; i < s->keys->count; i++) {
		uint64_t k = s->keys->keys[i];
		bool holder = s->res.held && (s->res.key == k || s->res.key == 0);
		char epoch[16] = "-";

		if (sgpr_key_in_ns(k, p->ns))
			snprintf(epoch, sizeof(epoch), "%u", sgpr_key_split(k).epoch);
		printf("    %-18s  %-20s  %-10s  %s\n", sgpr_key_format(k, key),
		       owner_label(p, k, label, sizeof(label)), epoch, holder ? "yes" : "no");
	}
}

static void print_reservation_human(struct prlock *p, const struct lun_state *s)
{
	char label[64], key[SGPR_KEY_STRLEN];

	if (!s->res.held)
		printf("  reservation:   none\n");
	else if (sgpr_type_is_all_registrants(s->res.type))
		printf("  reservation:   %s, held by all registrants\n",
		       sgpr_type_to_name(s->res.type));
	else
		printf("  reservation:   %s, held by %s, key %s\n",
		       sgpr_type_to_name(s->res.type) ?: "unknown type",
		       owner_label(p, s->res.key, label, sizeof(label)),
		       sgpr_key_format(s->res.key, key));
}

static void json_state(struct prlock *p, const struct lun_state *s)
{
	struct json *j = &p->j;

	json_key(j, "generation");
	json_uint(j, s->res.generation);
	json_key(j, "reservation");
	if (!s->res.held) {
		json_null(j);
	} else {
		json_object_begin(j);
		json_key(j, "type");
		json_string(j, sgpr_type_to_name(s->res.type));
		json_key(j, "all_registrants");
		json_bool(j, sgpr_type_is_all_registrants(s->res.type));
		json_key(j, "holder");
		if (sgpr_type_is_all_registrants(s->res.type)) {
			json_null(j);
		} else {
			json_object_begin(j);
			json_owner(p, s->res.key);
			json_object_end(j);
		}
		json_object_end(j);
	}
	json_key(j, "registrations");
	json_array_begin(j);
	for (uint32_t i = 0; i < s->keys->count; i++) {
		uint64_t k = s->keys->keys[i];

		json_object_begin(j);
		json_owner(p, k);
		json_key(j, "holder");
		json_bool(j, s->res.held && (s->res.key == k || s->res.key == 0));
		json_object_end(j);
	}
	json_array_end(j);
}

static void print_paths_human(struct sgpr_dev *d)
{
	int n = sgpr_dev_path_count(d);

	if (sgpr_dev_lun_id(d))
		printf("  lun:           %s\n", sgpr_dev_lun_id(d));
	if (n <= 1)
		return;
	printf("  paths:         %d\n", n);
	for (int i = 0; i < n; i++)
		printf("    %-16s  %s\n", sgpr_dev_path_name(d, (unsigned)i),
		       sgpr_dev_path_failed(d, (unsigned)i)
			       ? errno_words(sgpr_dev_path_error(d, (unsigned)i))
			       : "ok");
}

static void json_paths(struct prlock *p, struct sgpr_dev *d)
{
	int n = sgpr_dev_path_count(d);

	json_key(&p->j, "lun_id");
	json_string(&p->j, sgpr_dev_lun_id(d));
	json_key(&p->j, "paths");
	json_array_begin(&p->j);
	for (int i = 0; i < n; i++) {
		bool failed = sgpr_dev_path_failed(d, (unsigned)i);

		json_object_begin(&p->j);
		json_key(&p->j, "path");
		json_string(&p->j, sgpr_dev_path_name(d, (unsigned)i));
		json_key(&p->j, "failed");
		json_bool(&p->j, failed);
		json_key(&p->j, "error");
		json_string(&p->j,
			    failed ? errno_words(sgpr_dev_path_error(d, (unsigned)i)) : NULL);
		json_object_end(&p->j);
	}
	json_array_end(&p->j);
}

static void json_header(struct prlock *p)
{
	json_object_begin(&p->j);
	json_key(&p->j, "version");
	json_uint(&p->j, 1);
	json_key(&p->j, "host_id");
	json_uint(&p->j, p->cfg.host_id);
	json_key(&p->j, "cluster");
	json_string(&p->j, p->cfg.cluster);
}

static int show(struct prlock *p, int ndev, char **devs, bool keys_only, bool caps_only)
{
	int ret = EXIT_OK;

	if (p->json) {
		json_header(p);
		json_key(&p->j, "devices");
		json_array_begin(&p->j);
	}
	for (int i = 0; i < ndev; i++) {
		_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
		_cleanup_(lun_state_done) struct lun_state s = {};
		int r;

		r = open_dev(p, devs[i], &d);
		if (!r)
			r = read_state(d, !keys_only, &s);
		if (r) {
			ret = ret ?: r;
			continue;
		}
		if (p->json) {
			json_object_begin(&p->j);
			json_key(&p->j, "device");
			json_string(&p->j, devs[i]);
			json_key(&p->j, "transport");
			json_string(&p->j, sgpr_dev_transport_name(d));
			json_paths(p, d);
			if (!caps_only)
				json_state(p, &s);
			if (!keys_only)
				json_caps(p, &s, d);
			json_object_end(&p->j);
			continue;
		}
		printf("%s\n", devs[i]);
		print_paths_human(d);
		if (!caps_only) {
			printf("  generation:    %u\n", s.res.generation);
			if (!keys_only)
				print_reservation_human(p, &s);
			print_keys_human(p, &s);
		}
		if (!keys_only)
			print_caps_human(&s, d);
	}
	if (p->json) {
		json_array_end(&p->j);
		json_object_end(&p->j);
		json_finish(&p->j);
	}
	return ret;
}

int verb_status(struct prlock *p, int ndev, char **devs)
{
	return show(p, ndev, devs, false, false);
}

int verb_keys(struct prlock *p, int ndev, char **devs)
{
	return show(p, ndev, devs, true, false);
}

int verb_caps(struct prlock *p, int ndev, char **devs)
{
	return show(p, ndev, devs, false, true);
}
