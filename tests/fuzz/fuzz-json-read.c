/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: prlock's JSON reader (src/prlock/json-read.c), which reads prlockd's replies
 * (and whatever else listens on the control socket's path). Whatever parses is walked whole
 * and looked up as prlock does.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"

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
		jv_clear(&v);
	}
	free(s);
	return 0;
}
