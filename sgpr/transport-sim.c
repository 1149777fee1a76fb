/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim transport: an in-memory SPC-4 persistent reservation target for unit tests (see sim.h).
 *
 * Model (SPC-4 5.12): a list of registrations (key, owner), a reservation (type, and for non
 * all-registrants types the holding registration), PRgeneration, and per nexus a FIFO of unit
 * attentions. A registration's owner is the nexus name (SPC) or the session (tgt), so on a
 * tgt-like LUN a reconnect leaves the old registration behind as an orphan.
 */
#include <limits.h>
#include <stdio.h>
#include <strings.h>

#include "sim.h"

#define SIM_UA_MAX 16
#define SIM_MAX_REGS 8192 /* READ KEYS lists at most 65535 / 8 keys */

/* SPC-4 4.5.6 sense keys and the ASC/ASCQ codes the model produces */
#define SK_NOT_READY 0x2
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6

enum {
	OP_TEST_UNIT_READY = 0x00,
	OP_REQUEST_SENSE = 0x03,
	OP_INQUIRY = 0x12,
	OP_PR_IN = 0x5e,
	OP_PR_OUT = 0x5f,
	OP_READ_16 = 0x88,
	OP_WRITE_16 = 0x8a,
	OP_REPORT_LUNS = 0xa0,
};

struct sim_reg {
	uint64_t key;
	unsigned owner; /* identity (SPC) or session (tgt) */
	unsigned ident; /* index + 1 into lun->idents, for READ FULL STATUS */
	bool all_tg_pt;
	bool holder; /* holds a non all-registrants reservation */
};

struct sim_nexus {
	struct sgpr_sim_lun *lun;
	struct sim_nexus *next;
	struct sgpr_dev *dev;
	unsigned ident;
	unsigned session; /* 0: disconnected */
	struct {
		uint8_t asc, ascq;
	} ua[SIM_UA_MAX];
	unsigned nua;
	struct sgpr_sim_fault fault;
	unsigned refuse_reconnect;
	unsigned commands;
	uint8_t last_cdb[16];
	size_t last_cdb_len;
	bool down; /* path down: execute() -ENOTCONN, reconnect() -EHOSTUNREACH */
	/* a handle with several paths: every nexus of the handle, shared, owned by path 0 */
	struct sim_nexus **paths;
	unsigned npaths;
};

struct sgpr_sim_lun {
	struct sgpr_sim_config cfg;
	uint8_t *store;
	struct sim_nexus *nexuses;
	char **idents;
	unsigned nidents;
	unsigned next_session;
	struct sim_reg *regs;
	unsigned nregs, regs_cap;
	uint8_t res_type; /* 0: no reservation */
	uint32_t generation;
	bool aptpl;
	unsigned commands;
};

/* ---- configs, LUN ----------------------------------------------------- */

struct sgpr_sim_config sgpr_sim_config_spc(void)
{
	return (struct sgpr_sim_config){.ua_on_login = true};
}

struct sgpr_sim_config sgpr_sim_config_tgt(void)
{
	return (struct sgpr_sim_config){
		.unsupported_prout = 1u << SGPR_PROUT_PREEMPT_AND_ABORT,
		.unsupported_prin = 1u << SGPR_PRIN_READ_FULL_STATUS,
		.session_registrations = true,
		.ua_on_login = true,
		.tgt_uas = true,
		.tgt_generation = true,
		.tgt_checks = true,
	};
}

struct sgpr_sim_lun *sgpr_sim_lun_new(const struct sgpr_sim_config *cfg)
{
	struct sgpr_sim_lun *lun;

	lun = calloc(1, sizeof(*lun));
	if (!lun)
		return NULL;
	if (cfg)
		lun->cfg = *cfg;
	if (!lun->cfg.blocks)
		lun->cfg.blocks = SGPR_SIM_DEFAULT_BLOCKS;
	lun->store = calloc(lun->cfg.blocks, SGPR_SIM_BLOCK_SIZE);
	if (!lun->store) {
		free(lun);
		return NULL;
	}
	return lun;
}

struct sgpr_sim_lun *sgpr_sim_lun_free(struct sgpr_sim_lun *lun)
{
	if (!lun)
		return NULL;
	for (struct sim_nexus *n = lun->nexuses; n; n = n->next) {
		n->lun = NULL;
		n->session = 0;
	}
	for (unsigned i = 0; i < lun->nidents; i++)
		free(lun->idents[i]);
	free(lun->idents);
	free(lun->regs);
	free(lun->store);
	free(lun);
	return NULL;
}

static int ident_get(struct sgpr_sim_lun *lun, const char *name)
{
	char **v;

	for (unsigned i = 0; i < lun->nidents; i++)
		if (strcasecmp(lun->idents[i], name) == 0)
			return (int)i + 1;
	v = realloc(lun->idents, (lun->nidents + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	lun->idents = v;
	v[lun->nidents] = strdup(name);
	if (!v[lun->nidents])
		return -ENOMEM;
	return (int)++lun->nidents;
}

uint32_t sgpr_sim_lun_generation(const struct sgpr_sim_lun *lun)
{
	return lun->generation;
}

unsigned sgpr_sim_lun_registrations(const struct sgpr_sim_lun *lun)
{
	return lun->nregs;
}

int sgpr_sim_lun_reservation(const struct sgpr_sim_lun *lun, uint64_t *ret_key)
{
	if (ret_key) {
		*ret_key = 0;
		for (unsigned i = 0; i < lun->nregs; i++)
			if (lun->regs[i].holder)
				*ret_key = lun->regs[i].key;
	}
	return lun->res_type;
}

uint8_t *sgpr_sim_lun_block(struct sgpr_sim_lun *lun, uint64_t lba)
{
	if (lba >= lun->cfg.blocks)
		return NULL;
	return lun->store + lba * SGPR_SIM_BLOCK_SIZE;
}

unsigned sgpr_sim_lun_commands(const struct sgpr_sim_lun *lun)
{
	return lun->commands;
}

/* ---- registrations and unit attentions -------------------------------- */

static unsigned nexus_owner(const struct sim_nexus *n)
{
	if (n->lun->cfg.session_registrations)
		return n->session;
	return n->ident;
}

static bool type_all_regs(uint8_t type)
{
	return type == SGPR_TYPE_WEAR || type == SGPR_TYPE_EAAR;
}

static bool type_valid(uint8_t type)
{
	switch (type) {
	case SGPR_TYPE_WE:
	case SGPR_TYPE_EA:
	case SGPR_TYPE_WERO:
	case SGPR_TYPE_EARO:
	case SGPR_TYPE_WEAR:
	case SGPR_TYPE_EAAR:
		return true;
	default:
		return false;
	}
}

static struct sim_reg *reg_of(const struct sim_nexus *n)
{
	struct sgpr_sim_lun *lun = n->lun;
	unsigned owner = nexus_owner(n);

	if (!owner)
		return NULL;
	for (unsigned i = 0; i < lun->nregs; i++)
		if (lun->regs[i].owner == owner)
			return &lun->regs[i];
	return NULL;
}

static struct sim_reg *reg_add(struct sgpr_sim_lun *lun, unsigned owner, unsigned ident,
			       uint64_t key)
{
	if (lun->nregs == lun->regs_cap) {
		unsigned cap = lun->regs_cap ? lun->regs_cap * 2 : 16;
		struct sim_reg *v;

		if (lun->nregs >= SIM_MAX_REGS)
			return NULL;
		v = realloc(lun->regs, cap * sizeof(*v));
		if (!v)
			return NULL;
		lun->regs = v;
		lun->regs_cap = cap;
	}
	lun->regs[lun->nregs] = (struct sim_reg){.key = key, .owner = owner, .ident = ident};
	return &lun->regs[lun->nregs++];
}

/* Drop registrations marked with key 0; the reservation goes if nobody can hold it any more. */
static void regs_compact(struct sgpr_sim_lun *lun)
{
	unsigned j = 0;
	bool holder = false;

	for (unsigned i = 0; i < lun->nregs; i++) {
		if (lun->regs[i].key == 0)
			continue;
		holder |= lun->regs[i].holder;
		lun->regs[j++] = lun->regs[i];
	}
	lun->nregs = j;
	if (lun->res_type && !type_all_regs(lun->res_type) && !holder)
		lun->res_type = 0;
	if (lun->res_type && type_all_regs(lun->res_type) && !lun->nregs)
		lun->res_type = 0;
}

static bool nexus_is_holder(const struct sim_nexus *n)
{
	const struct sim_reg *r = reg_of(n);

	if (!r || !n->lun->res_type)
		return false;
	return type_all_regs(n->lun->res_type) || r->holder;
}

int sgpr_sim_lun_registration(const struct sgpr_sim_lun *lun, unsigned i, uint64_t *ret_key,
			      const char **ret_nexus, bool *ret_holder)
{
	const struct sim_reg *r;

	if (!lun || i >= lun->nregs)
		return -ENOENT;
	r = &lun->regs[i];
	if (ret_key)
		*ret_key = r->key;
	if (ret_nexus)
		*ret_nexus =
			r->ident && r->ident <= lun->nidents ? lun->idents[r->ident - 1] : NULL;
	if (ret_holder)
		*ret_holder = r->holder || (lun->res_type && type_all_regs(lun->res_type));
	return 0;
}

static void ua_queue(struct sim_nexus *n, uint8_t asc, uint8_t ascq)
{
	/* SPC-4 5.12.4: a UA already pending need not be queued twice */
	for (unsigned i = 0; i < n->nua; i++)
		if (n->ua[i].asc == asc && n->ua[i].ascq == ascq)
			return;
	if (n->nua == SIM_UA_MAX)
		return;
	n->ua[n->nua].asc = asc;
	n->ua[n->nua].ascq = ascq;
	n->nua++;
}

static void ua_pop(struct sim_nexus *n)
{
	memmove(&n->ua[0], &n->ua[1], (n->nua - 1) * sizeof(n->ua[0]));
	n->nua--;
}

/* A nexus can receive a UA: always on SPC, only with a live session on tgt (lost otherwise). */
static bool ua_reachable(const struct sim_nexus *n)
{
	return n->session || !n->lun->cfg.session_registrations;
}

enum ua_to {
	UA_REGISTERED_OTHERS,	/* every registered nexus except the issuer */
	UA_UNREGISTERED_AND_ME, /* tgt release: the issuer and every unregistered nexus */
};

static void ua_broadcast(struct sim_nexus *issuer, enum ua_to to, uint8_t asc, uint8_t ascq)
{
	for (struct sim_nexus *n = issuer->lun->nexuses; n; n = n->next) {
		bool reg = reg_of(n) != NULL;

		if (!ua_reachable(n))
			continue;
		if (to == UA_REGISTERED_OTHERS && n != issuer && reg)
			ua_queue(n, asc, ascq);
		if (to == UA_UNREGISTERED_AND_ME && (n == issuer || !reg))
			ua_queue(n, asc, ascq);
	}
}

/* Nexuses whose registration is about to be removed (key set to 0 by the caller) get a UA. */
static void ua_to_doomed(struct sim_nexus *issuer, uint64_t key, uint8_t asc, uint8_t ascq)
{
	struct sim_reg *mine = reg_of(issuer);

	for (struct sim_nexus *n = issuer->lun->nexuses; n; n = n->next) {
		struct sim_reg *r = reg_of(n);

		if (r && r != mine && r->key == key && ua_reachable(n))
			ua_queue(n, asc, ascq);
	}
}

static void release_uas(struct sim_nexus *n, uint8_t type)
{
	if (n->lun->cfg.tgt_uas) {
		/* tgt: RO/AR release sends nothing, WE/EA release hits the wrong nexuses */
		if (type == SGPR_TYPE_WE || type == SGPR_TYPE_EA)
			ua_broadcast(n, UA_UNREGISTERED_AND_ME, 0x2a, 0x04);
		return;
	}
	/* SPC-4 5.12.11.2.2: RESERVATIONS RELEASED to the other registrants for RO and AR types */
	if (type != SGPR_TYPE_WE && type != SGPR_TYPE_EA)
		ua_broadcast(n, UA_REGISTERED_OTHERS, 0x2a, 0x04);
}

/* ---- sessions --------------------------------------------------------- */

static void session_new(struct sim_nexus *n)
{
	n->session = ++n->lun->next_session;
	if (n->lun->cfg.session_registrations)
		n->nua = 0;
	if (n->lun->cfg.ua_on_login)
		ua_queue(n, 0x29, 0x00);
}

static void session_lose(struct sim_nexus *n)
{
	n->session = 0;
	/* tgt: UAs of a dead session are gone with it */
	if (n->lun && n->lun->cfg.session_registrations)
		n->nua = 0;
}

void sgpr_sim_lun_restart(struct sgpr_sim_lun *lun, bool drop_sessions)
{
	if (!lun->aptpl) {
		lun->nregs = 0;
		lun->res_type = 0;
		lun->generation = 0;
	}
	for (struct sim_nexus *n = lun->nexuses; n; n = n->next) {
		if (drop_sessions)
			session_lose(n);
		else if (n->session)
			ua_queue(n, 0x29, 0x01); /* POWER ON OCCURRED */
	}
}

int sgpr_sim_lun_add_registration(struct sgpr_sim_lun *lun, const char *nexus_name, uint64_t key)
{
	int ident;
	unsigned owner;

	if (!nexus_name || !key)
		return -EINVAL;
	ident = ident_get(lun, nexus_name);
	if (ident < 0)
		return ident;
	/* tgt: a session number nobody holds; SPC: the nexus name */
	owner = lun->cfg.session_registrations ? ++lun->next_session : (unsigned)ident;
	for (unsigned i = 0; i < lun->nregs; i++)
		if (lun->regs[i].owner == owner)
			return -EEXIST;
	if (!reg_add(lun, owner, (unsigned)ident, key))
		return -ENOMEM;
	lun->generation++;
	return 0;
}

/* ---- responses -------------------------------------------------------- */

static void answer(struct sgpr_status *st, uint8_t status)
{
	st->answered = true;
	st->status = status;
}

static void check_condition(struct sim_nexus *n, struct sgpr_status *st, uint8_t key, uint8_t asc,
			    uint8_t ascq)
{
	answer(st, SGPR_STATUS_CHECK_CONDITION);
	memset(st->sense, 0, 18);
	if (n->lun && n->lun->cfg.descriptor_sense) {
		/* SPC-4 4.5.2 descriptor format, no descriptors */
		st->sense[0] = 0x72;
		st->sense[1] = key;
		st->sense[2] = asc;
		st->sense[3] = ascq;
		st->sense_len = 8;
	} else {
		/* SPC-4 4.5.3 fixed format */
		st->sense[0] = 0x70;
		st->sense[2] = key;
		st->sense[7] = 10;
		st->sense[12] = asc;
		st->sense[13] = ascq;
		st->sense_len = 18;
	}
}

static void invalid_cdb(struct sim_nexus *n, struct sgpr_status *st)
{
	check_condition(n, st, SK_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void invalid_param(struct sim_nexus *n, struct sgpr_status *st)
{
	check_condition(n, st, SK_ILLEGAL_REQUEST, 0x26, 0x00);
}

static void conflict(struct sgpr_status *st)
{
	answer(st, SGPR_STATUS_RESERVATION_CONFLICT);
}

/* Data-in: at most the allocation length and the buffer; resid is what the buffer did not get. */
static void data_in(const struct sgpr_cmd *cmd, struct sgpr_status *st, const uint8_t *buf,
		    size_t len, size_t alloc)
{
	size_t n = len;

	if (n > alloc)
		n = alloc;
	if (n > cmd->data_len)
		n = cmd->data_len;
	if (n)
		memcpy(cmd->data, buf, n);
	st->resid = (uint32_t)(cmd->data_len - n);
}

static bool reserved_zero(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i <= to; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- PERSISTENT RESERVE IN, SPC-4 6.15 -------------------------------- */

/* iSCSI TransportID of a nexus name, SPC-4 7.6.4.6: format 01b with an ISID, else 00b. */
static size_t transport_id(const char *name, uint8_t *buf)
{
	size_t len = strlen(name) + 1, padded;

	if (len > SGPR_ISCSI_NAME_MAX + 20)
		len = SGPR_ISCSI_NAME_MAX + 20;
	padded = (len + 3) & ~(size_t)3;
	if (padded < 20)
		padded = 20;
	memset(buf, 0, 4 + padded);
	buf[0] = (strstr(name, ",i,0x") ? 0x40 : 0x00) | SGPR_PROTO_ISCSI;
	sgpr_put_be16(buf + 2, (uint16_t)padded);
	memcpy(buf + 4, name, len - 1);
	return 4 + padded;
}

static void prin(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	const uint8_t *cdb = cmd->cdb;
	uint8_t sa = cdb[1] & 0x1f;
	uint16_t alloc = sgpr_get_be16(cdb + 7);
	uint8_t *buf;
	size_t len = 0;

	if ((cdb[1] & 0xe0) || !reserved_zero(cdb, 2, 6) || sa > SGPR_PRIN_READ_FULL_STATUS ||
	    (lun->cfg.unsupported_prin & (1u << sa)))
		return invalid_cdb(n, st);

	buf = calloc(1, 8 + (size_t)lun->nregs * (24 + 4 + SGPR_ISCSI_NAME_MAX + 24) + 16);
	if (!buf)
		return check_condition(n, st, 0x4, 0x44, 0x00); /* HARDWARE ERROR */
	sgpr_put_be32(buf, lun->generation);
	switch (sa) {
	case SGPR_PRIN_READ_KEYS:
		/* SPC-4 6.15.2 */
		for (unsigned i = 0; i < lun->nregs; i++)
			sgpr_put_be64(buf + 8 + 8 * i, lun->regs[i].key);
		sgpr_put_be32(buf + 4, 8 * lun->nregs);
		len = 8 + 8 * lun->nregs;
		break;
	case SGPR_PRIN_READ_RESERVATION:
		/* SPC-4 6.15.3: key 0 for all-registrants types */
		len = 8;
		if (lun->res_type) {
			uint64_t key;

			sgpr_sim_lun_reservation(lun, &key);
			sgpr_put_be32(buf + 4, 16);
			sgpr_put_be64(buf + 8, type_all_regs(lun->res_type) ? 0 : key);
			buf[21] = lun->res_type; /* scope 0: LU_SCOPE */
			len = 24;
		}
		break;
	case SGPR_PRIN_REPORT_CAPABILITIES:
		/* SPC-4 6.15.4 */
		sgpr_put_be16(buf, 8);
		if (!lun->cfg.tgt_checks)
			buf[2] = 0x04 | (lun->cfg.no_ptpl ? 0 : 0x01); /* ATP_C, PTPL_C */
		buf[3] = 0x80 | (lun->aptpl ? 0x01 : 0x00);	       /* TMV, PTPL_A */
		buf[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;	       /* WEAR EARO WERO EA WE */
		buf[5] = 0x01;					       /* EAAR */
		len = 8;
		break;
	case SGPR_PRIN_READ_FULL_STATUS: {
		/* SPC-4 6.15.5 */
		uint8_t *p = buf + 8;

		for (unsigned i = 0; i < lun->nregs; i++) {
			const struct sim_reg *r = &lun->regs[i];
			bool holder = lun->res_type && (r->holder || type_all_regs(lun->res_type));
			size_t tl = transport_id(lun->idents[r->ident - 1], p + 24);

			memset(p, 0, 24);
			sgpr_put_be64(p, r->key);
			p[12] = (r->all_tg_pt ? 0x02 : 0) | (holder ? 0x01 : 0);
			if (holder)
				p[13] = lun->res_type;
			sgpr_put_be16(p + 18, 1);
			sgpr_put_be32(p + 20, (uint32_t)tl);
			p += 24 + tl;
		}
		len = (size_t)(p - buf);
		sgpr_put_be32(buf + 4, (uint32_t)(len - 8));
		break;
	}
	}
	answer(st, SGPR_STATUS_GOOD);
	data_in(cmd, st, buf, len, alloc);
	free(buf);
}

/* ---- PERSISTENT RESERVE OUT, SPC-4 6.16 ------------------------------- */

struct prout_req {
	uint8_t sa, scope, type;
	uint64_t key, sa_key;
	bool spec_i_pt, all_tg_pt, aptpl, unreg;
	const uint8_t *tid;
	uint32_t tid_len;
};

static void gen_bump(struct sgpr_sim_lun *lun, unsigned by)
{
	lun->generation += by;
}

/* SPC-4 5.12.7: REGISTER and REGISTER AND IGNORE EXISTING KEY */
static void pr_register(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n);
	bool ignore = rq->sa == SGPR_PROUT_REGISTER_AND_IGNORE;

	if (!r) {
		if (!ignore && rq->key)
			return conflict(st);
		if (rq->sa_key) {
			if (!reg_add(lun, nexus_owner(n), n->ident, rq->sa_key))
				return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x55, 0x04);
			lun->regs[lun->nregs - 1].all_tg_pt = rq->all_tg_pt;
			gen_bump(lun, 1);
		} else if (lun->cfg.tgt_generation) {
			gen_bump(lun, 1); /* tgt counts the no-op too */
		}
	} else {
		if (!ignore && rq->key != r->key)
			return conflict(st);
		if (rq->sa_key) {
			r->key = rq->sa_key; /* a holder keeps its reservation */
			gen_bump(lun, 1);
		} else {
			uint8_t type = lun->res_type;
			bool was_holder = r->holder;

			/* SPC-4 5.12.11.2.2: unregistering the holder releases the reservation */
			r->key = 0;
			regs_compact(lun);
			gen_bump(lun, 1);
			if (type && !lun->res_type) {
				if (lun->cfg.tgt_generation)
					gen_bump(lun, 1);
				if (was_holder || type_all_regs(type))
					release_uas(n, type);
			}
		}
	}
	if (rq->sa_key || r)
		lun->aptpl = rq->aptpl;
	answer(st, SGPR_STATUS_GOOD);
}

/* SPC-4 5.12.9 */
static void pr_reserve(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n);

	if (!r || r->key != rq->key)
		return conflict(st);
	if (lun->res_type) {
		if (!nexus_is_holder(n) || lun->res_type != rq->type)
			return conflict(st);
		return answer(st, SGPR_STATUS_GOOD);
	}
	lun->res_type = rq->type;
	r->holder = !type_all_regs(rq->type);
	answer(st, SGPR_STATUS_GOOD);
}

/* SPC-4 5.12.11.2 */
static void pr_release(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n);
	uint8_t type = lun->res_type;

	if (!r || r->key != rq->key)
		return conflict(st);
	if (!nexus_is_holder(n))
		return answer(st, SGPR_STATUS_GOOD); /* no reservation or not ours: no-op */
	if (rq->type != type || rq->scope != 0)
		return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x26, 0x04);
	for (unsigned i = 0; i < lun->nregs; i++)
		lun->regs[i].holder = false;
	lun->res_type = 0;
	release_uas(n, type);
	answer(st, SGPR_STATUS_GOOD);
}

/* SPC-4 5.12.11.6 */
static void pr_clear(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n);

	if (!r || r->key != rq->key)
		return conflict(st);
	ua_broadcast(n, UA_REGISTERED_OTHERS, 0x2a, 0x03);
	lun->nregs = 0;
	lun->res_type = 0;
	gen_bump(lun, 1);
	answer(st, SGPR_STATUS_GOOD);
}

/*
 * Mark every registration with key for removal except the issuer's, with REGISTRATIONS
 * PREEMPTED (tgt: RESERVATIONS PREEMPTED) to their nexuses. False if key names nobody.
 */
static bool remove_key(struct sim_nexus *n, uint64_t key)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *me = reg_of(n);
	uint8_t ua_ascq = lun->cfg.tgt_uas ? 0x03 : 0x05;
	bool found = me && me->key == key;

	if (!key)
		return false;
	ua_to_doomed(n, key, 0x2a, ua_ascq);
	for (unsigned i = 0; i < lun->nregs; i++) {
		if (lun->regs[i].key != key || &lun->regs[i] == me)
			continue;
		lun->regs[i].key = 0;
		found = true;
	}
	return found;
}

/* SPC-4 5.12.11.4: PREEMPT and PREEMPT AND ABORT (no task set to abort in the model) */
static void pr_preempt(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n);
	uint8_t old_type = lun->res_type;
	uint64_t holder_key;
	unsigned me;

	if (!r || r->key != rq->key)
		return conflict(st);
	me = (unsigned)(r - lun->regs);
	sgpr_sim_lun_reservation(lun, &holder_key);

	if (!old_type) {
		/* 5.12.11.4.4: no reservation, remove the registrations of sa_key */
		if (!rq->sa_key) {
			if (lun->cfg.tgt_checks)
				return answer(st, SGPR_STATUS_GOOD);
			return invalid_param(n, st);
		}
		if (!remove_key(n, rq->sa_key))
			return conflict(st);
		regs_compact(lun);
		gen_bump(lun, 1);
		return answer(st, SGPR_STATUS_GOOD);
	}

	if (type_all_regs(old_type)) {
		if (rq->sa_key) {
			/* 5.12.11.4.4 applies, the reservation stays */
			if (!remove_key(n, rq->sa_key))
				return conflict(st);
			regs_compact(lun);
			gen_bump(lun, 1);
			return answer(st, SGPR_STATUS_GOOD);
		}
		/* 5.12.11.4.3: SA key 0 preempts every other registrant */
		for (unsigned i = 0; i < lun->nregs; i++)
			if (i != me)
				remove_key(n, lun->regs[i].key);
	} else {
		if (!rq->sa_key) {
			if (lun->cfg.tgt_checks)
				return invalid_cdb(n, st);
			return invalid_param(n, st);
		}
		if (rq->sa_key != holder_key) {
			/* 5.12.11.4.4: the reservation is not the target, it stays */
			if (!remove_key(n, rq->sa_key))
				return conflict(st);
			regs_compact(lun);
			gen_bump(lun, 1);
			return answer(st, SGPR_STATUS_GOOD);
		}
		/* 5.12.11.4.3: the holder's key, possibly our own: its other nexuses go */
		remove_key(n, rq->sa_key);
	}

	/* The reservation moves to the issuer with the type and scope of the CDB. */
	for (unsigned i = 0; i < lun->nregs; i++)
		lun->regs[i].holder = false;
	lun->regs[me].holder = !type_all_regs(rq->type);
	lun->res_type = rq->type;
	regs_compact(lun);
	if (!lun->cfg.tgt_uas && old_type != rq->type)
		ua_broadcast(n, UA_REGISTERED_OTHERS, 0x2a, 0x04);
	gen_bump(lun, 1);
	answer(st, SGPR_STATUS_GOOD);
}

/* Find the nexus name a REGISTER AND MOVE TransportID names (iSCSI only), SPC-4 7.6.4.6. */
static int tid_ident(struct sgpr_sim_lun *lun, const uint8_t *tid, uint32_t len)
{
	char name[SGPR_ISCSI_NAME_MAX + 32];
	uint16_t alen;
	int found = 0;
	size_t nlen;

	if (len < 4 || (tid[0] & 0x0f) != SGPR_PROTO_ISCSI || (tid[0] & 0xc0) > 0x40)
		return -EINVAL;
	alen = sgpr_get_be16(tid + 2);
	if (alen < 20 || alen % 4 || 4u + alen > len || alen >= sizeof(name))
		return -EINVAL;
	memcpy(name, tid + 4, alen);
	name[alen] = 0;
	nlen = strnlen(name, alen);
	if (nlen == alen || nlen == 0)
		return -EINVAL; /* not NUL-terminated */
	if ((tid[0] & 0xc0) == 0x40 && !strstr(name, ",i,0x"))
		return -EINVAL;
	for (unsigned i = 0; i < lun->nidents; i++) {
		const char *id = lun->idents[i];

		if (strcasecmp(id, name) == 0)
			return (int)i + 1;
		/* format 00b names every ISID of the initiator; it must be unambiguous here */
		if (!(tid[0] & 0xc0) && strncasecmp(id, name, nlen) == 0 && id[nlen] == ',') {
			if (found)
				return -EINVAL;
			found = (int)i + 1;
		}
	}
	if (found)
		return found;
	return ident_get(lun, name);
}

/* SPC-4 5.12.8 */
static void pr_move(struct sim_nexus *n, const struct prout_req *rq, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	struct sim_reg *r = reg_of(n), *dst = NULL;
	unsigned owner = 0;
	uint8_t type = lun->res_type;
	int ident;

	if (!r || r->key != rq->key)
		return conflict(st);
	if (!type || type_all_regs(type) || !r->holder)
		return conflict(st);
	if (!rq->sa_key)
		return invalid_param(n, st);
	ident = tid_ident(lun, rq->tid, rq->tid_len);
	if (ident < 0 || (unsigned)ident == n->ident)
		return invalid_param(n, st);
	if (lun->cfg.session_registrations) {
		/* a session of that name must exist; take the first live one */
		for (struct sim_nexus *o = lun->nexuses; o && !owner; o = o->next)
			if (o->ident == (unsigned)ident && o->session)
				owner = o->session;
		if (!owner)
			return invalid_param(n, st);
	} else {
		owner = (unsigned)ident;
	}
	for (unsigned i = 0; i < lun->nregs; i++)
		if (lun->regs[i].owner == owner)
			dst = &lun->regs[i];
	if (!dst) {
		size_t me = (size_t)(r - lun->regs);

		dst = reg_add(lun, owner, (unsigned)ident, rq->sa_key);
		if (!dst)
			return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x55, 0x04);
		r = &lun->regs[me]; /* reg_add may move the array */
	}
	dst->key = rq->sa_key;
	r->holder = false;
	dst->holder = true;
	if (rq->unreg)
		r->key = 0;
	regs_compact(lun);
	lun->aptpl = rq->aptpl;
	gen_bump(lun, 1);
	answer(st, SGPR_STATUS_GOOD);
}

static void prout(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	const uint8_t *cdb = cmd->cdb, *p = cmd->data;
	uint32_t plen = sgpr_get_be32(cdb + 5);
	struct prout_req rq = {
		.sa = cdb[1] & 0x1f,
		.scope = cdb[2] >> 4,
		.type = cdb[2] & 0x0f,
	};

	if ((cdb[1] & 0xe0) || !reserved_zero(cdb, 3, 4) || rq.sa > SGPR_PROUT_REGISTER_AND_MOVE ||
	    (lun->cfg.unsupported_prout & (1u << rq.sa)))
		return invalid_cdb(n, st);

	/* SPC-4 6.16.3: the basic list is exactly 24 bytes unless SPEC_I_PT is set */
	if (plen < 24 || (rq.sa != SGPR_PROUT_REGISTER_AND_MOVE && plen != 24 && !(p[20] & 0x08)))
		return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	rq.key = sgpr_get_be64(p);
	rq.sa_key = sgpr_get_be64(p + 8);

	if (rq.sa == SGPR_PROUT_REGISTER_AND_MOVE) {
		/* SPC-4 6.16.4 */
		rq.unreg = p[17] & 0x02;
		rq.aptpl = p[17] & 0x01;
		rq.tid_len = sgpr_get_be32(p + 20);
		rq.tid = p + 24;
		if (p[16] || (p[17] & 0xfc))
			return invalid_param(n, st);
		if (24ull + rq.tid_len > plen)
			return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
		if ((lun->cfg.tgt_checks || lun->cfg.no_ptpl) && rq.aptpl)
			return invalid_cdb(n, st);
	} else {
		rq.spec_i_pt = p[20] & 0x08;
		rq.all_tg_pt = p[20] & 0x04;
		rq.aptpl = p[20] & 0x01;
		if ((p[20] & 0xf2) || p[21])
			return invalid_param(n, st);
		if (lun->cfg.tgt_checks && (rq.spec_i_pt || rq.all_tg_pt || rq.aptpl))
			return invalid_cdb(n, st);
		if (lun->cfg.no_ptpl && rq.aptpl)
			return invalid_param(n, st); /* SPC-4 6.16.3: PTPL_C 0 */
		/* SIP_C is 0: SPEC_I_PT is not supported, and never valid outside REGISTER */
		if (rq.spec_i_pt)
			return invalid_param(n, st);
		if (rq.all_tg_pt && rq.sa != SGPR_PROUT_REGISTER &&
		    rq.sa != SGPR_PROUT_REGISTER_AND_IGNORE)
			return invalid_param(n, st);
	}

	switch (rq.sa) {
	case SGPR_PROUT_RESERVE:
	case SGPR_PROUT_RELEASE:
	case SGPR_PROUT_PREEMPT:
	case SGPR_PROUT_PREEMPT_AND_ABORT:
	case SGPR_PROUT_REGISTER_AND_MOVE:
		/* SPC-4 6.16.1: only LU_SCOPE and the six types */
		if (rq.scope != 0 || !type_valid(rq.type))
			return invalid_cdb(n, st);
		break;
	default:
		break;
	}

	switch (rq.sa) {
	case SGPR_PROUT_REGISTER:
	case SGPR_PROUT_REGISTER_AND_IGNORE:
		return pr_register(n, &rq, st);
	case SGPR_PROUT_RESERVE:
		return pr_reserve(n, &rq, st);
	case SGPR_PROUT_RELEASE:
		return pr_release(n, &rq, st);
	case SGPR_PROUT_CLEAR:
		return pr_clear(n, &rq, st);
	case SGPR_PROUT_PREEMPT:
	case SGPR_PROUT_PREEMPT_AND_ABORT:
		return pr_preempt(n, &rq, st);
	default:
		return pr_move(n, &rq, st);
	}
}

/* ---- other commands --------------------------------------------------- */

/* SPC-4 5.12.1 table 62: may this nexus read or write under the current reservation? */
static bool access_allowed(const struct sim_nexus *n, bool write)
{
	uint8_t type = n->lun->res_type;

	if (!type || nexus_is_holder(n))
		return true;
	switch (type) {
	case SGPR_TYPE_WE:
		return !write;
	case SGPR_TYPE_WERO:
	case SGPR_TYPE_WEAR:
		return !write || reg_of(n);
	case SGPR_TYPE_EARO:
	case SGPR_TYPE_EAAR:
		return reg_of(n);
	default:
		return false;
	}
}

/* SBC-3 5.16, 5.40: READ(16), WRITE(16) */
static void rw16(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	struct sgpr_sim_lun *lun = n->lun;
	bool write = cmd->cdb[0] == OP_WRITE_16;
	uint64_t lba = sgpr_get_be64(cmd->cdb + 2);
	uint32_t nblk = sgpr_get_be32(cmd->cdb + 10);
	size_t bytes = (size_t)nblk * SGPR_SIM_BLOCK_SIZE;

	if (!access_allowed(n, write))
		return conflict(st);
	if (cmd->cdb[1] & 0xe0) /* RDPROTECT/WRPROTECT: no protection information */
		return invalid_cdb(n, st);
	if (lba > lun->cfg.blocks || nblk > lun->cfg.blocks - lba)
		return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	if (write)
		memcpy(lun->store + lba * SGPR_SIM_BLOCK_SIZE, cmd->data, bytes);
	answer(st, SGPR_STATUS_GOOD);
	if (!write)
		data_in(cmd, st, lun->store + lba * SGPR_SIM_BLOCK_SIZE, bytes, bytes);
}

/* SPC-4 6.4.2: standard INQUIRY data only */
static void inquiry(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	uint8_t buf[36] = {0x00, 0x00, 0x06, 0x02, 31, 0x00, 0x00, 0x02};

	if (cmd->cdb[1] & 0x01 || cmd->cdb[2])
		return invalid_cdb(n, st);
	memcpy(buf + 8, "SGPRSIM sim PR LUN      0001", 28);
	answer(st, SGPR_STATUS_GOOD);
	data_in(cmd, st, buf, sizeof(buf), sgpr_get_be16(cmd->cdb + 3));
}

/* SPC-4 6.29: GOOD with the pending UA, which it clears; tgt answers CHECK CONDITION instead. */
static void request_sense(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	struct sgpr_status tmp = {0};

	if (n->nua && n->lun->cfg.tgt_uas)
		return check_condition(n, st, SK_UNIT_ATTENTION, n->ua[0].asc, n->ua[0].ascq);
	if (n->nua) {
		check_condition(n, &tmp, SK_UNIT_ATTENTION, n->ua[0].asc, n->ua[0].ascq);
		ua_pop(n);
	} else {
		check_condition(n, &tmp, 0, 0, 0);
	}
	answer(st, SGPR_STATUS_GOOD);
	data_in(cmd, st, tmp.sense, tmp.sense_len, cmd->cdb[4]);
}

struct sim_op {
	uint8_t opcode;
	uint8_t cdb_len;
	enum sgpr_dir dir;
	bool ua_exempt; /* SAM-5 5.14: INQUIRY and REPORT LUNS do not report a UA */
};

static const struct sim_op sim_ops[] = {
	{OP_TEST_UNIT_READY, 6, SGPR_DIR_NONE, false},
	{OP_REQUEST_SENSE, 6, SGPR_DIR_IN, true},
	{OP_INQUIRY, 6, SGPR_DIR_IN, true},
	{OP_PR_IN, 10, SGPR_DIR_IN, false},
	{OP_PR_OUT, 10, SGPR_DIR_OUT, false},
	{OP_READ_16, 16, SGPR_DIR_IN, false},
	{OP_WRITE_16, 16, SGPR_DIR_OUT, false},
};

/* Bytes the CDB moves; a buffer of another size or direction is the initiator's bug. */
static size_t cdb_transfer(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_PR_OUT:
		return sgpr_get_be32(cdb + 5);
	case OP_READ_16:
	case OP_WRITE_16:
		return (size_t)sgpr_get_be32(cdb + 10) * SGPR_SIM_BLOCK_SIZE;
	default:
		return 0;
	}
}

static void run(struct sim_nexus *n, const struct sgpr_cmd *cmd, struct sgpr_status *st)
{
	const struct sim_op *op = NULL;

	for (size_t i = 0; i < sizeof(sim_ops) / sizeof(sim_ops[0]); i++)
		if (sim_ops[i].opcode == cmd->cdb[0])
			op = &sim_ops[i];
	if (!op) {
		/* SPC-4 4.5.6: INVALID COMMAND OPERATION CODE, after any pending UA */
		if (n->nua && cmd->cdb[0] != OP_REPORT_LUNS)
			goto ua;
		return check_condition(n, st, SK_ILLEGAL_REQUEST, 0x20, 0x00);
	}
	if (n->nua && !op->ua_exempt)
		goto ua;
	if (cmd->cdb_len != op->cdb_len)
		return invalid_cdb(n, st);
	switch (op->opcode) {
	case OP_TEST_UNIT_READY:
		return answer(st, SGPR_STATUS_GOOD);
	case OP_REQUEST_SENSE:
		return request_sense(n, cmd, st);
	case OP_INQUIRY:
		return inquiry(n, cmd, st);
	case OP_PR_IN:
		return prin(n, cmd, st);
	case OP_PR_OUT:
		return prout(n, cmd, st);
	default:
		return rw16(n, cmd, st);
	}
ua:
	/* SAM-5 5.14: the command is not executed, the oldest UA is reported and cleared */
	check_condition(n, st, SK_UNIT_ATTENTION, n->ua[0].asc, n->ua[0].ascq);
	ua_pop(n);
}

/* The initiator's side of the transfer must match the CDB, as a real HBA would demand. */
static int check_transfer(struct sgpr_dev *d, const struct sgpr_cmd *cmd)
{
	size_t want;

	if (!cmd->cdb || cmd->cdb_len < 6 || cmd->cdb_len > 16)
		return -EINVAL;
	want = cdb_transfer(cmd->cdb);
	if (cmd->cdb[0] == OP_PR_OUT || cmd->cdb[0] == OP_WRITE_16) {
		if (want && (cmd->dir != SGPR_DIR_OUT || cmd->data_len < want || !cmd->data)) {
			sgpr_log(d, LOG_DEBUG, "sim: data-out of %zu bytes for a CDB moving %zu",
				 cmd->data_len, want);
			return -EINVAL;
		}
	} else if (cmd->dir == SGPR_DIR_OUT || (cmd->data_len && !cmd->data)) {
		return -EINVAL;
	}
	if (cmd->cdb[0] == OP_READ_16 && want && (cmd->dir != SGPR_DIR_IN || cmd->data_len < want))
		return -EINVAL;
	return 0;
}

/* ---- transport ops ---------------------------------------------------- */

static uint64_t sim_clock_now(void *userdata)
{
	return ((struct sgpr_sim_clock *)userdata)->now;
}

static void sim_clock_sleep(void *userdata, unsigned ms)
{
	struct sgpr_sim_clock *c = userdata;

	if (c->nsleeps < SGPR_SIM_CLOCK_LOG)
		c->sleeps[c->nsleeps] = ms;
	c->nsleeps++;
	c->slept_ms += ms;
	c->now += ms;
}

void sgpr_sim_clock_init(struct sgpr_sim_clock *c)
{
	*c = (struct sgpr_sim_clock){
		.clock = {.now_ms = sim_clock_now, .sleep_ms = sim_clock_sleep, .userdata = c},
		.now = 1000000,
	};
}

static void time_passes(struct sgpr_dev *d, unsigned ms)
{
	const struct sgpr_clock *c = d->opts.clock;

	if (c && c->now_ms == sim_clock_now)
		((struct sgpr_sim_clock *)c->userdata)->now += ms;
}

/* The nexus of the handle's current path (d->path, dev.c): what the hooks below act on. */
static struct sim_nexus *nexus(const struct sgpr_dev *d)
{
	struct sim_nexus *n;

	if (!d || d->ops != &sgpr_transport_sim)
		return NULL;
	n = d->priv;
	return n && n->paths && d->path < n->npaths ? n->paths[d->path] : n;
}

/* The nexus a command goes to: its path's (a handle with paths), else the handle's one. */
static struct sim_nexus *path_tp(const struct sgpr_dev *d, const struct sgpr_path *path)
{
	if (!d || d->ops != &sgpr_transport_sim)
		return NULL;
	return path ? path->tp : d->priv;
}

static int sim_execute(struct sgpr_dev *d, const struct sgpr_path *path, const struct sgpr_cmd *cmd,
		       struct sgpr_status *ret)
{
	struct sim_nexus *n = path_tp(d, path);
	struct sgpr_sim_fault *f;
	struct sgpr_status scratch = {0};
	int r;

	if (!n)
		return -EINVAL;
	n->commands++;
	if (cmd->cdb && cmd->cdb_len <= sizeof(n->last_cdb)) {
		memcpy(n->last_cdb, cmd->cdb, cmd->cdb_len);
		n->last_cdb_len = cmd->cdb_len;
	}
	if (!n->lun || !n->session || n->down)
		return -ENOTCONN;
	n->lun->commands++;
	r = check_transfer(d, cmd);
	if (r < 0)
		return r;

	ret->answered = false;
	ret->status = 0;
	ret->sense_valid = false;
	ret->sense_len = 0;
	ret->resid = cmd->dir == SGPR_DIR_IN ? (uint32_t)cmd->data_len : 0;

	f = &n->fault;
	if (f->kind != SGPR_SIM_FAULT_NONE && (!f->match_opcode || f->opcode == cmd->cdb[0])) {
		if (f->skip) {
			f->skip--;
		} else {
			enum sgpr_sim_fault_kind kind = f->kind;
			uint8_t status = f->status, key = f->sense_key, asc = f->asc,
				ascq = f->ascq;
			bool executed = f->executed;

			if (f->count <= 1)
				f->kind = SGPR_SIM_FAULT_NONE;
			else if (f->count != UINT_MAX)
				f->count--;
			switch (kind) {
			case SGPR_SIM_FAULT_STATUS:
				if (status == SGPR_STATUS_CHECK_CONDITION)
					check_condition(n, ret, key, asc, ascq);
				else
					answer(ret, status);
				return 0;
			case SGPR_SIM_FAULT_TIMEOUT:
				if (executed)
					run(n, cmd, &scratch);
				time_passes(d, cmd->timeout_ms);
				return -ETIMEDOUT;
			default:
				if (executed)
					run(n, cmd, &scratch);
				session_lose(n);
				return -ENOTCONN;
			}
		}
	}
	run(n, cmd, ret);
	return 0;
}

static int sim_reconnect(struct sgpr_dev *d, const struct sgpr_path *path)
{
	struct sim_nexus *n = path_tp(d, path);

	if (!n || !n->lun)
		return -ENODEV;
	if (n->down)
		return -EHOSTUNREACH;
	if (n->refuse_reconnect) {
		n->refuse_reconnect--;
		return -ECONNREFUSED;
	}
	/* A new login on the same nexus name; on tgt the old session's registration is orphaned. */
	session_lose(n);
	session_new(n);
	return 0;
}

static void nexus_free(struct sim_nexus *n)
{
	if (n->lun) {
		for (struct sim_nexus **p = &n->lun->nexuses; *p; p = &(*p)->next)
			if (*p == n) {
				*p = n->next;
				break;
			}
	}
	free(n);
}

static void sim_close(struct sgpr_dev *d)
{
	struct sim_nexus *n = path_tp(d, NULL);

	if (!n)
		return;
	if (n->paths) {
		struct sim_nexus **paths = n->paths;
		unsigned npaths = n->npaths; /* n is one of them */

		for (unsigned i = 0; i < npaths; i++)
			nexus_free(paths[i]);
		free(paths);
	} else {
		nexus_free(n);
	}
	d->priv = NULL;
}

static struct sim_nexus *nexus_new(struct sgpr_sim_lun *lun, struct sgpr_dev *d, int ident)
{
	struct sim_nexus *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->lun = lun;
	n->dev = d;
	n->ident = (unsigned)ident;
	n->next = lun->nexuses;
	lun->nexuses = n;
	session_new(n);
	return n;
}

/* What sgpr_sim_open*() asks sim_open() for. */
struct sim_open_arg {
	struct sgpr_sim_lun *lun;
	const char *const *names; /* the nexus of each path; one nexus: names[0], npaths 0 */
	unsigned npaths;
};

/* The paths of a multipath handle, reported to dev.c; path 0's nexus is the handle's priv. */
static int open_paths(struct sgpr_dev *d, const struct sim_open_arg *a, struct sgpr_opened *ret)
{
	struct sim_nexus **paths;
	int r = 0;

	paths = calloc(a->npaths, sizeof(*paths));
	ret->paths = calloc(a->npaths, sizeof(*ret->paths));
	if (!paths || !ret->paths) {
		free(paths);
		return -ENOMEM; /* dev.c frees ret->paths */
	}
	for (unsigned i = 0; i < a->npaths && r >= 0; i++) {
		int ident = ident_get(a->lun, a->names[i]);

		ret->paths[i].name = ident < 0 ? NULL : strdup(a->names[i]);
		r = ident < 0 ? ident : ret->paths[i].name ? 0 : -ENOMEM;
		if (r >= 0) {
			paths[i] = nexus_new(a->lun, d, ident);
			if (!paths[i])
				r = -ENOMEM;
		}
		ret->paths[i].tp = paths[i];
	}
	ret->npaths = a->npaths;
	for (unsigned i = 0; i < a->npaths; i++)
		if (paths[i]) {
			paths[i]->paths = paths;
			paths[i]->npaths = a->npaths;
		}
	if (r < 0) {
		for (unsigned i = 0; i < a->npaths; i++)
			if (paths[i])
				nexus_free(paths[i]);
		free(paths);
		return r;
	}
	d->priv = paths[0];
	return 0;
}

/* sim handles are only made by sgpr_sim_open*(), which pass arg */
static int sim_open(struct sgpr_dev *d, const char *target, const void *arg,
		    struct sgpr_opened *ret)
{
	const struct sim_open_arg *a = arg;
	int ident;

	if (!a)
		return -ENODEV;
	if (a->npaths)
		return open_paths(d, a, ret);
	ident = ident_get(a->lun, a->names[0]);
	if (ident < 0)
		return ident;
	d->priv = nexus_new(a->lun, d, ident);
	return d->priv ? 0 : -ENOMEM;
}

const struct sgpr_transport_ops sgpr_transport_sim = {
	.name = "sim",
	.open = sim_open,
	.execute = sim_execute,
	.reconnect = sim_reconnect,
	.close = sim_close,
};

int sgpr_sim_open_paths(struct sgpr_sim_lun *lun, const char *const names[], unsigned npaths,
			const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	struct sim_open_arg a = {.lun = lun, .names = names, .npaths = npaths};

	if (!lun || !names || !npaths || npaths > SGPR_PATHS_MAX || !ret)
		return -EINVAL;
	for (unsigned i = 0; i < npaths; i++)
		if (!names[i] || !*names[i])
			return -EINVAL;
	return sgpr_dev_open_ops(&sgpr_transport_sim, "sim:multipath", &a, opts, ret);
}

int sgpr_sim_open(struct sgpr_sim_lun *lun, const char *nexus_name,
		  const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	const char *names[] = {nexus_name};
	struct sim_open_arg a = {.lun = lun, .names = names};
	char target[SGPR_ISCSI_NAME_MAX + 32];

	if (!lun || !nexus_name || !*nexus_name || !ret)
		return -EINVAL;
	snprintf(target, sizeof(target), "sim:%s", nexus_name);
	return sgpr_dev_open_ops(&sgpr_transport_sim, target, &a, opts, ret);
}

/* ---- hooks ------------------------------------------------------------ */

unsigned sgpr_sim_commands(const struct sgpr_dev *d)
{
	struct sim_nexus *n = nexus(d);

	return n ? n->commands : 0;
}

const uint8_t *sgpr_sim_last_cdb(const struct sgpr_dev *d, size_t *ret_len)
{
	struct sim_nexus *n = nexus(d);

	if (!n || !n->last_cdb_len)
		return NULL;
	if (ret_len)
		*ret_len = n->last_cdb_len;
	return n->last_cdb;
}

unsigned sgpr_sim_session(const struct sgpr_dev *d)
{
	struct sim_nexus *n = nexus(d);

	return n ? n->session : 0;
}

unsigned sgpr_sim_pending_uas(const struct sgpr_dev *d)
{
	struct sim_nexus *n = nexus(d);

	return n ? n->nua : 0;
}

int sgpr_sim_set_fault(struct sgpr_dev *d, const struct sgpr_sim_fault *f)
{
	struct sim_nexus *n = nexus(d);

	if (!n)
		return -EINVAL;
	if (f)
		n->fault = *f;
	else
		n->fault = (struct sgpr_sim_fault){.kind = SGPR_SIM_FAULT_NONE};
	return 0;
}

int sgpr_sim_fail_next(struct sgpr_dev *d, unsigned n, uint8_t status, uint8_t key, uint8_t asc,
		       uint8_t ascq)
{
	struct sgpr_sim_fault f = {
		.kind = SGPR_SIM_FAULT_STATUS,
		.count = n,
		.status = status,
		.sense_key = key,
		.asc = asc,
		.ascq = ascq,
	};

	if (!n)
		return sgpr_sim_set_fault(d, NULL);
	return sgpr_sim_set_fault(d, &f);
}

int sgpr_sim_disconnect(struct sgpr_dev *d)
{
	struct sim_nexus *n = nexus(d);

	if (!n)
		return -EINVAL;
	session_lose(n);
	return 0;
}

int sgpr_sim_refuse_reconnect(struct sgpr_dev *d, unsigned count)
{
	struct sim_nexus *n = nexus(d);

	if (!n)
		return -EINVAL;
	n->refuse_reconnect = count;
	return 0;
}

int sgpr_sim_queue_ua(struct sgpr_dev *d, uint8_t asc, uint8_t ascq)
{
	struct sim_nexus *n = nexus(d);

	if (!n)
		return -EINVAL;
	ua_queue(n, asc, ascq);
	return 0;
}

static struct sim_nexus *path_nexus(const struct sgpr_dev *d, unsigned i)
{
	struct sim_nexus *n = nexus(d);

	if (!n)
		return NULL;
	if (!n->paths)
		return i == 0 ? n : NULL;
	return i < n->npaths ? n->paths[i] : NULL;
}

int sgpr_sim_path_down(struct sgpr_dev *d, unsigned i, bool down)
{
	struct sim_nexus *n = path_nexus(d, i);

	if (!n)
		return -EINVAL;
	n->down = down;
	return 0;
}

unsigned sgpr_sim_path_commands(const struct sgpr_dev *d, unsigned i)
{
	struct sim_nexus *n = path_nexus(d, i);

	return n ? n->commands : 0;
}

int sgpr_sim_path_fault(struct sgpr_dev *d, unsigned i, const struct sgpr_sim_fault *f)
{
	struct sim_nexus *n = path_nexus(d, i);

	if (!n)
		return -EINVAL;
	if (f)
		n->fault = *f;
	else
		n->fault = (struct sgpr_sim_fault){.kind = SGPR_SIM_FAULT_NONE};
	return 0;
}
