/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev path resolution (sgio-resolve.c) on a fake sysfs tree in a temporary directory: disks,
 * partitions, sg devices, dm-multipath maps and the devices that are refused; and the LUN name
 * from VPD page 0x83 (vpd.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "sgpr-private.h"

static char root[256];

/* snprintf that must not truncate */
static void pf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static void mkdir_p(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdir_p(const char *fmt, ...)
{
	char path[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	mkdir(path, 0755);
}

static void put(const char *dir, const char *name, const char *content)
{
	char path[1024];
	FILE *f;

	pf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_to(const char *target, const char *dir, const char *name)
{
	char path[1024];

	pf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(symlink(target, path), 0);
}

/* A block or char device directory with dev, uevent and its /sys/dev/{block,char} link. */
static void device(const char *dir, bool is_char, unsigned maj, unsigned min, const char *devname,
		   const char *devtype)
{
	char buf[256], link[64];

	mkdir_p("%s", dir);
	pf(buf, sizeof(buf), "%u:%u\n", maj, min);
	put(dir, "dev", buf);
	pf(buf, sizeof(buf), "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\n%s%s%s", maj, min, devname,
	   devtype ? "DEVTYPE=" : "", devtype ? devtype : "", devtype ? "\n" : "");
	put(dir, "uevent", buf);
	pf(link, sizeof(link), "%u:%u", maj, min);
	pf(buf, sizeof(buf), "%s/dev/%s", root, is_char ? "char" : "block");
	link_to(dir, buf, link);
}

static char *sub(char *buf, size_t len, const char *rel)
{
	pf(buf, len, "%s/%s", root, rel);
	return buf;
}

#define HOST "devices/pci0000:00/0000:00:05.0/host2"
#define LUN0 HOST "/target2:0:0/2:0:0:0"
#define LUN1 HOST "/target2:0:1/2:0:1:0"
#define WWID "mpath-36001405aabbccddeeff00112233445"

static void scsi_lun(const char *lun, const char *disk, unsigned min, const char *sg,
		     unsigned sgmin)
{
	char l[512], d[512], s[512], c[512];

	sub(l, sizeof(l), lun);
	mkdir_p("%s/scsi_device/%s", l, strrchr(lun, '/') + 1);
	pf(d, sizeof(d), "%s/block/%s", l, disk);
	device(d, false, 8, min, disk, "disk");
	link_to(l, d, "device");
	pf(s, sizeof(s), "%s/scsi_generic/%s", l, sg);
	device(s, true, 21, sgmin, sg, NULL);
	link_to(l, s, "device");
	link_to(sub(c, sizeof(c), "class/scsi_generic"), s, "subsystem");
}

static void dm(unsigned n, const char *uuid, const char *const slaves[], unsigned nslaves)
{
	char d[512], name[16], sl[512];

	pf(name, sizeof(name), "dm-%u", n);
	pf(d, sizeof(d), "%s/devices/virtual/block/%s", root, name);
	device(d, false, 253, n, name, "disk");
	mkdir_p("%s/dm", d);
	mkdir_p("%s/slaves", d);
	put(d, "dm/uuid", uuid);
	pf(sl, sizeof(sl), "%s/slaves", d);
	for (unsigned i = 0; i < nslaves; i++)
		link_to(slaves[i], sl, strrchr(slaves[i], '/') + 1);
}

static int setup(void **state)
{
	char a[512], b[512], c[512], p1[512], dm0[512];
	const char *mp[2], *part[1], *over_part[1];

	pf(root, sizeof(root), "%s/sgpr-sysfs-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	assert_non_null(mkdtemp(root));
	mkdir_p("%s/dev/block", root);
	mkdir_p("%s/dev/char", root);
	mkdir_p("%s/class/scsi_generic", root);
	mkdir_p("%s/class/mem", root);

	/* two SCSI LUNs (two paths of one LUN for the multipath map), sda with a partition */
	scsi_lun(LUN0, "sda", 0, "sg0", 0);
	scsi_lun(LUN1, "sdb", 16, "sg1", 1);
	pf(p1, sizeof(p1), "%s/%s/block/sda/sda1", root, LUN0);
	device(p1, false, 8, 1, "sda1", "partition");
	put(p1, "partition", "1\n");

	/* dm-0 multipath over sda, sdb; dm-1 its kpartx partition; dm-2 LVM; dm-3 no paths */
	pf(a, sizeof(a), "%s/%s/block/sda", root, LUN0);
	pf(b, sizeof(b), "%s/%s/block/sdb", root, LUN1);
	mp[0] = b; /* created out of order: the paths come back sorted */
	mp[1] = a;
	dm(0, WWID "\n", mp, 2);
	pf(dm0, sizeof(dm0), "%s/devices/virtual/block/dm-0", root);
	part[0] = dm0;
	dm(1, "part1-" WWID "\n", part, 1);
	dm(2, "LVM-k3nq0P2v3Xg\n", NULL, 0);
	dm(3, WWID "\n", NULL, 0);
	over_part[0] = p1;
	dm(4, WWID "\n", over_part, 1);

	/* not SCSI: loop, NVMe namespace, /dev/null */
	device(sub(c, sizeof(c), "devices/virtual/block/loop0"), false, 7, 0, "loop0", "disk");
	device(sub(c, sizeof(c), "devices/pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1"), false, 259,
	       0, "nvme0n1", "disk");
	link_to(sub(a, sizeof(a), "devices/pci0000:00/0000:00:06.0/nvme/nvme0"), c, "device");
	device(sub(c, sizeof(c), "devices/virtual/mem/null"), true, 1, 3, "null", NULL);
	link_to(sub(a, sizeof(a), "class/mem"), c, "subsystem");
	*state = root;
	return 0;
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	nftw(root, rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int resolve(bool is_char, unsigned maj, unsigned min, struct sgpr_sgio_target *t)
{
	return sgpr_sgio_resolve_devnum(root, is_char, makedev(maj, min), t);
}

static void test_disk(void **state)
{
	struct sgpr_sgio_target t;

	assert_int_equal(resolve(false, 8, 16, &t), 0);
	assert_false(t.multipath);
	assert_string_equal(t.name, "sdb");
	assert_int_equal(t.npaths, 1);
	assert_string_equal(t.paths[0].devnode, "/dev/sdb");
	assert_true(t.paths[0].devnum == makedev(8, 16));
	assert_false(t.paths[0].is_char);
	sgpr_sgio_target_done(&t);
	assert_int_equal(t.npaths, 0);
}

static void test_partition(void **state)
{
	struct sgpr_sgio_target t;

	assert_int_equal(resolve(false, 8, 1, &t), -ENOTBLK);
}

static void test_sg(void **state)
{
	struct sgpr_sgio_target t;

	assert_int_equal(resolve(true, 21, 1, &t), 0);
	assert_false(t.multipath);
	assert_int_equal(t.npaths, 1);
	assert_string_equal(t.paths[0].devnode, "/dev/sg1");
	assert_true(t.paths[0].is_char);
	assert_true(t.paths[0].devnum == makedev(21, 1));
	sgpr_sgio_target_done(&t);
}

static void test_multipath(void **state)
{
	struct sgpr_sgio_target t;

	assert_int_equal(resolve(false, 253, 0, &t), 0);
	assert_true(t.multipath);
	assert_string_equal(t.name, "dm-0");
	assert_int_equal(t.npaths, 2);
	assert_string_equal(t.paths[0].devnode, "/dev/sda");
	assert_string_equal(t.paths[1].devnode, "/dev/sdb");
	assert_true(t.paths[0].devnum == makedev(8, 0));
	assert_true(t.paths[1].devnum == makedev(8, 16));
	assert_non_null(strstr(t.paths[1].syspath, "2:0:1:0/block/sdb"));
	sgpr_sgio_target_done(&t);
}

static void test_refused(void **state)
{
	struct sgpr_sgio_target t;

	assert_int_equal(resolve(false, 253, 1, &t), -ENOTBLK); /* partition of a map */
	assert_int_equal(resolve(false, 253, 2, &t), -ENOTTY);	/* LVM */
	assert_int_equal(resolve(false, 253, 3, &t), -ENODEV);	/* map without paths */
	assert_int_equal(resolve(false, 253, 4, &t), -ENOTTY);	/* map over a partition */
	assert_int_equal(resolve(false, 7, 0, &t), -ENOTTY);	/* loop */
	assert_int_equal(resolve(false, 259, 0, &t), -ENOTTY);	/* NVMe */
	assert_int_equal(resolve(true, 1, 3, &t), -ENOTTY);	/* /dev/null */
	assert_int_equal(resolve(false, 8, 32, &t), -ENODEV);	/* no such device */
	assert_int_equal(resolve(true, 8, 0, &t), -ENODEV);	/* a block number as char */
	assert_int_equal(sgpr_sgio_resolve_devnum(root, false, makedev(8, 0), NULL), -EINVAL);
}

static void test_paths(void **state)
{
	struct sgpr_sgio_target t;
	char file[512];

	assert_int_equal(sgpr_sgio_resolve(NULL, root, &t), -EINVAL);
	pf(file, sizeof(file), "%s/dev/block/8:0/dev", root);
	assert_int_equal(sgpr_sgio_resolve(file, root, &t), -ENOTTY); /* a regular file */
	assert_int_equal(sgpr_sgio_resolve(root, root, &t), -ENOTTY); /* a directory */
	pf(file, sizeof(file), "%s/nothing", root);
	assert_int_equal(sgpr_sgio_resolve(file, root, &t), -ENOENT);
	pf(file, sizeof(file), "%s/dev/block/8:0/dev/x", root);
	assert_int_equal(sgpr_sgio_resolve(file, root, &t), -ENOENT);
	/* the real /dev/null against the real sysfs */
	if (access("/sys/dev/char/1:3", F_OK) == 0)
		assert_int_equal(sgpr_sgio_resolve("/dev/null", NULL, &t), -ENOTTY);
}

static void test_open_not_scsi(void **state)
{
	struct sgpr_dev *d = NULL;
	char file[512];
	int r;

	/* -EPROTONOSUPPORT when built without the sg transport */
	r = sgpr_dev_open("/dev/null", NULL, &d);
	assert_true(r == -ENOTTY || r == -EPROTONOSUPPORT);
	pf(file, sizeof(file), "%s/dev/block/8:0/uevent", root);
	r = sgpr_dev_open(file, NULL, &d);
	assert_true(r == -ENOTTY || r == -EPROTONOSUPPORT);
	r = sgpr_dev_open("/dev/sgpr-no-such-device", NULL, &d);
	assert_true(r == -ENOENT || r == -EPROTONOSUPPORT);
	assert_null(d);
}

/* ---- VPD page 0x83 ---------------------------------------------------- */

static int lun_id(const uint8_t *page, size_t len, char *buf, size_t buflen)
{
	return sgpr_vpd83_lun_id(page, len, buf, buflen);
}

static void test_vpd_naa(void **state)
{
	/* LIO: NAA 6 (LU), T10 vendor ID (LU), relative target port (port), target port group */
	static const uint8_t page[] = {
		0x00, 0x83, 0x00, 0x40,
		/* T10 vendor id, ASCII, LU */
		0x02, 0x01, 0x00, 0x14, 'L', 'I', 'O', '-', 'O', 'R', 'G', ' ', '1', '2', '3', '4',
		'5', '6', '7', '8', ' ', ' ', ' ', ' ',
		/* NAA 6, binary, LU */
		0x01, 0x03, 0x00, 0x10, 0x60, 0x01, 0x40, 0x5a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0,
		0x01, 0x12, 0x23, 0x34, 0x45, 0x56,
		/* relative target port, target port association */
		0x61, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
		/* NAA 5 of the target port: not the LU's */
		0x61, 0x93, 0x00, 0x08, 0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x01};
	char buf[64];

	assert_int_equal(lun_id(page, sizeof(page), buf, sizeof(buf)), 36);
	assert_string_equal(buf, "naa.6001405aabbccddeeff0011223344556");
	assert_int_equal(lun_id(page, sizeof(page), buf, 36), -ENOBUFS);
	assert_int_equal(lun_id(page, sizeof(page), buf, 37), 36);
	/* truncated: the page is read whole */
	assert_int_equal(lun_id(page, sizeof(page) - 1, buf, sizeof(buf)), -EBADMSG);
}

static void test_vpd_preference(void **state)
{
	/* NAA 3 (local) and NAA 5: NAA 5 wins; EUI-64 loses to both */
	static const uint8_t page[] = {0x00, 0x83, 0x00, 0x24, 0x01, 0x02, 0x00, 0x08, 1,    2,
				       3,    4,	   5,	 6,    7,    8,	   0x01, 0x03, 0x00, 0x08,
				       0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03,
				       0x00, 0x08, 0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x2a};
	static const uint8_t eui[] = {0x00, 0x83, 0x00, 0x0c, 0x01, 0x02, 0x00, 0x08,
				      0x00, 0x1b, 0x44, 0x11, 0x3a, 0xb7, 0xa2, 0xc0};
	static const uint8_t name[] = {0x00, 0x83, 0x00, 0x10, 0x03, 0x08, 0x00, 0x0c, 'i', 'q',
				       'n',  '.',  'x',	 ':',  'l',  'u',  'n',	 0,    0,   0};
	static const uint8_t t10[] = {0x00, 0x83, 0x00, 0x0c, 0x02, 0x01, 0x00, 0x08,
				      'A',  'B',  'C',	' ',  'x',  '1',  ' ',	' '};
	char buf[64];

	assert_true(lun_id(page, sizeof(page), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "naa.500140500000002a");
	assert_true(lun_id(eui, sizeof(eui), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "eui.001b44113ab7a2c0");
	assert_true(lun_id(name, sizeof(name), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "iqn.x:lun");
	assert_true(lun_id(t10, sizeof(t10), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "t10.ABC x1");
}

static void test_vpd_bad(void **state)
{
	static const uint8_t port_only[] = {0x00, 0x83, 0x00, 0x08, 0x61, 0x94,
					    0x00, 0x04, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t overrun[] = {0x00, 0x83, 0x00, 0x08, 0x01, 0x03,
					  0x00, 0x10, 0x60, 0x01, 0x40, 0x5a};
	static const uint8_t wrong_page[] = {0x00, 0x80, 0x00, 0x00};
	static const uint8_t bad_naa_len[] = {0x00, 0x83, 0x00, 0x08, 0x01, 0x03,
					      0x00, 0x04, 0x60, 0x01, 0x40, 0x5a};
	char buf[64];

	assert_int_equal(lun_id(port_only, sizeof(port_only), buf, sizeof(buf)), -ENODATA);
	assert_int_equal(lun_id(overrun, sizeof(overrun), buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(lun_id(wrong_page, sizeof(wrong_page), buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(lun_id(bad_naa_len, sizeof(bad_naa_len), buf, sizeof(buf)), -ENODATA);
	assert_int_equal(lun_id(port_only, 3, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(lun_id(NULL, 0, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk),
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_sg),
		cmocka_unit_test(test_multipath),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_open_not_scsi),
		cmocka_unit_test(test_vpd_naa),
		cmocka_unit_test(test_vpd_preference),
		cmocka_unit_test(test_vpd_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
