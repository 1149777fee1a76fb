/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prlock helpers shared by the verbs: errors, exit codes, identity, registration. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "prlock.h"

int fail(int r, const char *dev, const char *what, const struct sgpr_status *st)
{
	char detail[160] = "";

	if (st && st->answered && st->status != SGPR_STATUS_GOOD && r != -EBADE) {
		char buf[128];

		snprintf(detail, sizeof(detail), " [%s]",
			 sgpr_status_describe(st, buf, sizeof(buf)));
	}
	fprintf(stderr, "prlock: %s: %s: %s%s\n", dev, what, errno_words(r), detail);
	return exit_code_from_errno(r);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("prlock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int open_dev(struct prlock *p, const char *target, struct sgpr_dev **ret)
{
	int r = sgpr_dev_open(target, &p->dev_opts, ret);

	if (r < 0) {
		fprintf(stderr, "prlock: %s: cannot open: %s\n", target,
			open_error_words(target, r));
		return exit_code_from_errno(r);
	}
	return 0;
}

uint64_t own_static_key(const struct prlock *p)
{
	return sgpr_key_make(p->ns, p->cfg.host_id, 0);
}

bool key_is_ours(const struct prlock *p, uint64_t key)
{
	return sgpr_key_in_ns(key, p->ns) && sgpr_key_split(key).host_id == p->cfg.host_id;
}

uint64_t find_own_key(const struct prlock *p, const struct sgpr_keys *keys)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (key_is_ours(p, keys->keys[i]))
			return keys->keys[i];
	return 0;
}

unsigned count_key(const struct sgpr_keys *keys, uint64_t key)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < keys->count; i++)
		n += keys->keys[i] == key;
	return n;
}

const char *owner_label(const struct prlock *p, uint64_t key, char *buf, size_t len)
{
	struct sgpr_key_parts k = sgpr_key_split(key);

	if (sgpr_key_is_parking(key, p->ns))
		snprintf(buf, len, "parking (released)");
	else if (!sgpr_key_in_ns(key, p->ns))
		snprintf(buf, len, "foreign");
	else if (k.host_id == p->cfg.host_id)
		snprintf(buf, len, "host %u (this host)", k.host_id);
	else
		snprintf(buf, len, "host %u", k.host_id);
	return buf;
}

void json_owner(struct prlock *p, uint64_t key)
{
	struct sgpr_key_parts k = sgpr_key_split(key);
	bool in_ns = sgpr_key_in_ns(key, p->ns);

	json_key(&p->j, "key");
	json_hex(&p->j, key);
	json_key(&p->j, "foreign");
	json_bool(&p->j, !in_ns && !sgpr_key_is_parking(key, p->ns));
	json_key(&p->j, "parking");
	json_bool(&p->j, sgpr_key_is_parking(key, p->ns));
	json_key(&p->j, "host_id");
	if (in_ns)
		json_uint(&p->j, k.host_id);
	else
		json_null(&p->j);
	json_key(&p->j, "epoch");
	if (in_ns)
		json_uint(&p->j, k.epoch);
	else
		json_null(&p->j);
	json_key(&p->j, "this_host");
	json_bool(&p->j, in_ns && k.host_id == p->cfg.host_id);
}

int effective_type(const struct prlock *p)
{
	return p->cfg.type ? p->cfg.type : SGPR_TYPE_WERO;
}

int ensure_registered(struct prlock *p, struct sgpr_dev *d, uint64_t *ret_key)
{
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	const char *dev = sgpr_dev_target(d);
	struct sgpr_status st;
	uint64_t key;
	int r;

	r = sgpr_read_keys(d, &keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	key = find_own_key(p, keys);
	if (key && sgpr_key_split(key).epoch) {
		/*
		 * A lease key of our host id: a holder of this host (prlockd, prlock run) or of a
		 * host with the same host id. Never adopted (docs/FENCE.md); the static key is
		 * registered beside it, on this nexus.
		 */
		key = 0;
	}
	if (key) {
		/* Our static key, registered by an earlier session of this host: this nexus'. */
		r = sgpr_adopt_key(d, key, &st);
		if (r < 0)
			return fail(r, dev, "re-registering this host's key", &st);
	} else {
		key = own_static_key(p);
		r = sgpr_register(d, 0, key, false, &st);
		if (r < 0)
			return fail(r, dev, "REGISTER", &st);
	}
	*ret_key = key;
	return 0;
}

void results_begin(struct prlock *p)
{
	if (!p->json)
		return;
	json_object_begin(&p->j);
	json_key(&p->j, "version");
	json_uint(&p->j, 1);
	json_key(&p->j, "host_id");
	json_uint(&p->j, p->cfg.host_id);
	json_key(&p->j, "cluster");
	json_string(&p->j, p->cfg.cluster);
	json_key(&p->j, "results");
	json_array_begin(&p->j);
}

void result_device(struct prlock *p, const char *dev, int code, const struct result *res)
{
	char key[SGPR_KEY_STRLEN];

	if (!p->json) {
		if (code == EXIT_OK && res && res->message)
			printf("%s: %s\n", dev, res->message);
		return;
	}
	json_object_begin(&p->j);
	json_key(&p->j, "device");
	json_string(&p->j, dev);
	json_key(&p->j, "ok");
	json_bool(&p->j, code == EXIT_OK);
	json_key(&p->j, "exit_code");
	json_uint(&p->j, (unsigned)code);
	if (res) {
		json_key(&p->j, "action");
		json_string(&p->j, res->action);
		if (res->key) {
			json_key(&p->j, "key");
			json_string(&p->j, sgpr_key_format(res->key, key));
		}
		if (res->type) {
			json_key(&p->j, "type");
			json_string(&p->j, sgpr_type_to_name(res->type));
		}
		if (res->victim) {
			json_key(&p->j, "victim");
			json_string(&p->j, sgpr_key_format(res->victim, key));
		}
		if (res->has_aborted) {
			json_key(&p->j, "aborted");
			json_bool(&p->j, res->aborted);
		}
	}
	json_object_end(&p->j);
}

int results_end(struct prlock *p, int ret)
{
	if (p->json) {
		json_array_end(&p->j);
		json_object_end(&p->j);
		json_finish(&p->j);
	}
	return ret;
}

/*
 * A holder key of this host id that this process did not register (docs/FENCE.md): never ours
 * to adopt. Says who registered it where the target offers READ FULL STATUS (its TransportID),
 * so that a host-id clash names the other initiator. Empty for any other holder.
 */
const char *own_id_holder_words(struct prlock *p, struct sgpr_dev *d, uint64_t holder, char *buf,
				size_t len)
{
	_cleanup_free_ struct sgpr_full_status *fs = NULL;
	char tid[300] = "";

	buf[0] = 0;
	if (!key_is_ours(p, holder))
		return buf;
	if (sgpr_read_full_status(d, &fs, NULL) == 0)
		for (uint32_t i = 0; i < fs->count; i++)
			if (fs->entries[i].key == holder && fs->entries[i].holder)
				sgpr_tid_format(&fs->entries[i].tid, tid, sizeof(tid));
	if (tid[0])
		snprintf(buf, len,
			 "; registered by %s, not by this process: another host with host id %u "
			 "(a host-id clash), or an earlier holder of this host",
			 tid, p->cfg.host_id);
	else
		snprintf(buf, len,
			 "; not registered by this process: another process or host with host id "
			 "%u (a host-id clash), or an earlier holder of this host that died",
			 p->cfg.host_id);
	return buf;
}
