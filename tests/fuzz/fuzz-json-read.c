/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: prlock's JSON reader (src/prlock/json-read.c), which reads prlockd's replies
 * (and whatever else listens on the control socket's path). Whatever parses is walked whole
 * and looked up as prlock does, then written again with prlockd's writer (src/shared/json.c,
 * compact or pretty by the input's length) and read back: the same tree.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct jv *v, int depth)
{
	assert(depth <= 17);
	switch (v->t) {
	case JV_NULL:
	case JV_BOOL:
		assert(!v->s && !v->n);
		break;
	case JV_NUMBER:
		assert(v->s && v->s[0] && !v->n);
		break;
	case JV_STRING:
		assert(v->s && !v->n);
		break;
	case JV_ARRAY:
	case JV_OBJECT:
		assert(!v->n || v->items);
		for (size_t i = 0; i < v->n; i++) {
			walk(&v->items[i], depth + 1);
			if (v->t == JV_OBJECT) {
				assert(v->keys[i]);
				/* the first member of that name wins */
				assert(jv_get(v, v->keys[i]));
				(void)jv_str(v, v->keys[i]);
				(void)jv_bool(v, v->keys[i]);
			}
		}
		break;
	default:
		assert(0);
	}
}

/* the writer nests JSON_DEPTH_MAX - 1 levels and writes integers of 64 bits only */
static bool writable(const struct jv *v, int depth)
{
	char back[32];

	if (v->t == JV_NUMBER) {
		if (v->s[0] == '-')
			snprintf(back, sizeof(back), "%" PRId64, (int64_t)strtoll(v->s, NULL, 10));
		else
			snprintf(back, sizeof(back), "%" PRIu64,
				 (uint64_t)strtoull(v->s, NULL, 10));
		return strcmp(back, v->s) == 0;
	}
	if (v->t != JV_ARRAY && v->t != JV_OBJECT)
		return true;
	if (depth + 1 >= JSON_DEPTH_MAX)
		return false;
	for (size_t i = 0; i < v->n; i++)
		if (!writable(&v->items[i], depth + 1))
			return false;
	return true;
}

static void write_jv(struct json *j, const struct jv *v)
{
	switch (v->t) {
	case JV_NULL:
		json_null(j);
		break;
	case JV_BOOL:
		json_bool(j, v->b);
		break;
	case JV_NUMBER:
		if (v->s[0] == '-')
			json_int(j, strtoll(v->s, NULL, 10));
		else
			json_uint(j, strtoull(v->s, NULL, 10));
		break;
	case JV_STRING:
		json_string(j, v->s);
		break;
	case JV_ARRAY:
	case JV_OBJECT:
		if (v->t == JV_OBJECT)
			json_object_begin(j);
		else
			json_array_begin(j);
		for (size_t i = 0; i < v->n; i++) {
			if (v->t == JV_OBJECT)
				json_key(j, v->keys[i]);
			write_jv(j, &v->items[i]);
		}
		if (v->t == JV_OBJECT)
			json_object_end(j);
		else
			json_array_end(j);
		break;
	}
}

static void assert_same(const struct jv *a, const struct jv *b)
{
	assert(a->t == b->t && a->b == b->b && a->n == b->n);
	assert(!a->s == !b->s && (!a->s || strcmp(a->s, b->s) == 0));
	for (size_t i = 0; i < a->n; i++) {
		if (a->t == JV_OBJECT)
			assert(strcmp(a->keys[i], b->keys[i]) == 0);
		assert_same(&a->items[i], &b->items[i]);
	}
}

static void round_trip(const struct jv *v, bool pretty)
{
	struct json j;
	struct jv back = {};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!writable(v, 0))
		return;
	f = open_memstream(&buf, &len);
	assert(f);
	json_init(&j, f, pretty);
	write_jv(&j, v);
	json_finish(&j);
	assert(fclose(f) == 0);
	assert(len == strlen(buf) && len && buf[len - 1] == '\n');
	assert(jv_parse(buf, &back) == 0);
	assert_same(v, &back);
	jv_clear(&back);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jv v = {};
	char *s;
	int r;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	r = jv_parse(s, &v);
	assert(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r == 0) {
		walk(&v, 0);
		assert(!jv_get(&v, "\x01no such key") || v.t == JV_OBJECT);
		round_trip(&v, size & 1);
		jv_clear(&v);
	}
	free(s);
	return 0;
}
