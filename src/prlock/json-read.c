/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small strict JSON reader for prlockd's replies (RFC 8259, depth-limited). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"

#define DEPTH_MAX 16

struct parser {
	const char *p;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int parse_value(struct parser *ps, struct jv *v);

static int put_utf8(char **out, unsigned cp)
{
	char *o = *out;

	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	*out = o;
	return 0;
}

static int parse_string(struct parser *ps, char **ret)
{
	const char *s = ps->p + 1, *e;
	char *out, *o;

	for (e = s; *e != '"'; e++) {
		if ((unsigned char)*e < 0x20)
			return -EBADMSG; /* also the end of the input */
		if (*e == '\\' && !*++e)
			return -EBADMSG;
	}
	out = o = malloc((size_t)(e - s) + 1);
	if (!out)
		return -ENOMEM;
	while (s < e) {
		char c = *s++;
		unsigned cp = 0;

		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *s++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			*o++ = c;
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			for (int i = 0; i < 4; i++, s++) {
				if (s >= e || !isxdigit((unsigned char)*s)) {
					free(out);
					return -EBADMSG;
				}
				cp = cp * 16 +
				     (unsigned)(isdigit((unsigned char)*s)
							? *s - '0'
							: (tolower((unsigned char)*s) - 'a' + 10));
			}
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				cp = '?'; /* no NUL, no surrogate pairs: not in prlockd's replies */
			put_utf8(&o, cp);
			break;
		default:
			free(out);
			return -EBADMSG;
		}
	}
	*o = 0;
	ps->p = e + 1;
	*ret = out;
	return 0;
}

static int push(struct jv *v, struct jv *item, char *key)
{
	struct jv *items = realloc(v->items, (v->n + 1) * sizeof(*items));
	char **keys;

	if (!items)
		return -ENOMEM;
	v->items = items;
	if (v->t == JV_OBJECT) {
		keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		v->keys = keys;
		v->keys[v->n] = key;
	}
	v->items[v->n++] = *item;
	return 0;
}

static int parse_container(struct parser *ps, struct jv *v, bool object)
{
	char close = object ? '}' : ']';
	int r;

	if (++ps->depth > DEPTH_MAX)
		return -EBADMSG;
	v->t = object ? JV_OBJECT : JV_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		struct jv item = {};
		char *key = NULL;

		skip_ws(ps);
		if (object) {
			if (*ps->p != '"')
				return -EBADMSG;
			r = parse_string(ps, &key);
			if (r < 0)
				return r;
			skip_ws(ps);
			if (*ps->p++ != ':') {
				free(key);
				return -EBADMSG;
			}
		}
		r = parse_value(ps, &item);
		if (r == 0)
			r = push(v, &item, key);
		if (r < 0) {
			free(key);
			jv_clear(&item);
			return r;
		}
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != close)
			return -EBADMSG;
		ps->p++;
		ps->depth--;
		return 0;
	}
}

static int parse_number(struct parser *ps, struct jv *v)
{
	const char *s = ps->p;

	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return -EBADMSG;
	if (*s == '0' && isdigit((unsigned char)s[1]))
		return -EBADMSG;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return -EBADMSG;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return -EBADMSG;
		while (isdigit((unsigned char)*s))
			s++;
	}
	v->t = JV_NUMBER;
	v->s = strndup(ps->p, (size_t)(s - ps->p));
	if (!v->s)
		return -ENOMEM;
	ps->p = s;
	return 0;
}

static int parse_value(struct parser *ps, struct jv *v)
{
	skip_ws(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, v, true);
	case '[':
		return parse_container(ps, v, false);
	case '"':
		v->t = JV_STRING;
		return parse_string(ps, &v->s);
	case 't':
		if (strncmp(ps->p, "true", 4))
			return -EBADMSG;
		ps->p += 4;
		v->t = JV_BOOL;
		v->b = true;
		return 0;
	case 'f':
		if (strncmp(ps->p, "false", 5))
			return -EBADMSG;
		ps->p += 5;
		v->t = JV_BOOL;
		return 0;
	case 'n':
		if (strncmp(ps->p, "null", 4))
			return -EBADMSG;
		ps->p += 4;
		v->t = JV_NULL;
		return 0;
	default:
		return parse_number(ps, v);
	}
}

int jv_parse(const char *s, struct jv *ret)
{
	struct parser ps = {.p = s};
	struct jv v = {};
	int r;

	r = parse_value(&ps, &v);
	if (r == 0) {
		skip_ws(&ps);
		if (*ps.p)
			r = -EBADMSG;
	}
	if (r < 0) {
		jv_clear(&v);
		return r;
	}
	*ret = v;
	return 0;
}

void jv_clear(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jv_clear(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	*v = (struct jv){};
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->t != JV_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *jv_str(const struct jv *v, const char *key)
{
	const struct jv *m = jv_get(v, key);

	return m && (m->t == JV_STRING || m->t == JV_NUMBER) ? m->s : NULL;
}

bool jv_bool(const struct jv *v, const char *key)
{
	const struct jv *m = jv_get(v, key);

	return m && m->t == JV_BOOL && m->b;
}
