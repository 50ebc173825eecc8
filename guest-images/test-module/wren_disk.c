// SPDX-License-Identifier: GPL-2.0
/*
 * wren_disk: built-in disk test driver for Wren's test guest (issue 14).
 *
 * Guest userspace cannot make system calls on the test machines, so the host
 * side tests drive the real virtio_blk driver and ext4 from here: mount a
 * virtio-blk disk, write files with a known pattern, fsync, read them back
 * through the device, punch holes (discard), and poke raw sectors. Every
 * result is a console line; the host holds the expectations.
 *
 * Parameter (kernel command line):
 *   wren_disk.steps=a,b,c       steps to run in order (none: the module idles)
 *
 * Steps:
 *   mount=DEV        mount /dev/DEV (ext4, -o discard) on /mnt; devtmpfs is
 *                    mounted on /dev first
 *   umount           unmount /mnt (the file system is clean afterwards)
 *   write=NAME:KIB:SEED
 *                    write /mnt/NAME, KIB KiB of pattern SEED, then fsync
 *   read=NAME        drop NAME's cached pages, read it back from the disk
 *   punch=NAME:OFFKIB:LENKIB
 *                    print the disk blocks of that range, punch a hole
 *                    there (ext4 discards them), fsync
 *   writeloop=NAME:SEED:COUNT:KIB:MS
 *                    COUNT records of KIB KiB of pattern SEED, each written
 *                    at its own offset and fsynced, MS ms apart
 *   rawread=DEV:SECTOR:KIB   read the raw disk through bios
 *   rawwrite=DEV:SECTOR      write one 4 KiB block of 0xa5 through a bio
 *                    (the disk is opened read-only, so a read-only disk sees
 *                    the request and must refuse it)
 *   bench=DEV:MIB:OPS:QD
 *                    raw disk benchmark with QD requests in flight:
 *                    sequential write and read of MIB MiB in 128 KiB
 *                    requests, then OPS random 4 KiB reads and writes
 *   sleep=MS         sleep
 *   poweroff         kernel_power_off()
 *
 * Pattern SEED: little-endian 32-bit word k of the file (k = byte offset / 4)
 * is (SEED * 2654435761) ^ (k * 2246822519), mod 2^32. Checksums are the
 * CRC-32 of zlib and Ethernet (crc32_le from ~0, inverted at the end), which
 * the host computes with zlib.crc32. Every console line starts with
 * "WREN-DISK: ".
 */
#define pr_fmt(fmt) "WREN-DISK: " fmt

#include <linux/atomic.h>
#include <linux/crc32.h>
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/initrd.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/reboot.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>
#include <asm/unaligned.h>

/* path_mount() and path_umount(): the kernel's own mount(2)/umount(2)
 * bodies, reachable from built-in code only. */
#include "../../fs/internal.h"

static char *steps = "";
module_param(steps, charp, 0444);
MODULE_PARM_DESC(steps, "comma-separated disk test steps");

#define WREN_MNT		"/mnt"
#define WREN_CHUNK		(64 * 1024)
#define WREN_MAX_KIB		(1024 * 1024)	/* 1 GiB per file or run */
#define WREN_MAX_COUNT		100000U
#define WREN_MAX_MS		600000U
#define WREN_DEV_WAIT_MS	30000
#define WREN_BENCH_IO		(128 * 1024)
#define WREN_BENCH_PAGES	(WREN_BENCH_IO / PAGE_SIZE)
#define WREN_BENCH_MAX_QD	64U
#define WREN_UMOUNT_WAIT_MS	30000

/* ------------------------------------------------------------------------ */
/* Pattern and checksum                                                     */

static void wren_fill(u8 *buf, size_t len, u32 seed, u64 offset)
{
	size_t i;
	u32 word;

	for (i = 0; i < len; i += 4) {
		word = (seed * 2654435761U) ^ ((u32)((offset + i) / 4) * 2246822519U);
		put_unaligned_le32(word, buf + i);
	}
}

/* Splits "a:b:c" into at most @n fields; returns how many there were. */
static int wren_fields(char *arg, char **field, int n)
{
	int i = 0;

	while (arg && i < n)
		field[i++] = strsep(&arg, ":");
	return arg ? -1 : i;
}

static int wren_uint(const char *s, unsigned int max, unsigned int *out)
{
	return kstrtouint(s, 10, out) || *out > max ? -EINVAL : 0;
}

/* ------------------------------------------------------------------------ */
/* Mounting                                                                 */

static int wren_mount_at(const char *source, const char *dir, const char *type, const char *options)
{
	struct path path;
	char *data = NULL;
	int rc;

	rc = kern_path(dir, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (rc)
		return rc;
	if (options) {
		/* Mount option parsing cuts the string up in place. */
		data = kstrdup(options, GFP_KERNEL);
		if (!data) {
			path_put(&path);
			return -ENOMEM;
		}
	}
	rc = path_mount(source, &path, type, 0, data);
	kfree(data);
	path_put(&path);
	return rc;
}

/* /dev of the initramfs holds only the console: device nodes come from devtmpfs. */
static int wren_devtmpfs(void)
{
	static bool mounted;
	int rc;

	if (mounted)
		return 0;
	rc = wren_mount_at("devtmpfs", "/dev", "devtmpfs", NULL);
	if (!rc)
		mounted = true;
	return rc;
}

/* Waits for /dev/@name (the driver may still be probing). */
static int wren_dev_path(const char *name, char *out, size_t size)
{
	struct path path;
	unsigned int waited;
	int rc;

	rc = wren_devtmpfs();
	if (rc)
		return rc;
	if (snprintf(out, size, "/dev/%s", name) >= size || strchr(name, '/'))
		return -EINVAL;
	for (waited = 0;; waited += 100) {
		rc = kern_path(out, LOOKUP_FOLLOW, &path);
		if (!rc) {
			path_put(&path);
			return 0;
		}
		if (waited >= WREN_DEV_WAIT_MS)
			return rc;
		msleep(100);
	}
}

/* The device mounted on /mnt, for umount. */
static char wren_mounted[64];

static int wren_step_mount(char *dev)
{
	char path[64];
	int rc;

	rc = wren_dev_path(dev, path, sizeof(path));
	if (!rc)
		rc = wren_mount_at(path, WREN_MNT, "ext4", "discard");
	if (!rc)
		strscpy(wren_mounted, path, sizeof(wren_mounted));
	pr_info("mount %s rc=%d\n", dev, rc);
	return rc;
}

/* A kthread's last mntput() is deferred to a work item, which shuts the
 * file system down (journal checkpoint, clean flag). It is done when the
 * device can be opened exclusively again. */
static int wren_wait_released(const char *dev)
{
	struct block_device *bdev;
	unsigned int waited;

	for (waited = 0; waited < WREN_UMOUNT_WAIT_MS; waited += 50) {
		bdev = blkdev_get_by_path(dev, FMODE_READ | FMODE_EXCL, wren_mounted);
		if (!IS_ERR(bdev)) {
			blkdev_put(bdev, FMODE_READ | FMODE_EXCL);
			return 0;
		}
		if (PTR_ERR(bdev) != -EBUSY)
			return PTR_ERR(bdev);
		msleep(50);
	}
	return -EBUSY;
}

static int wren_step_umount(void)
{
	struct path path;
	int rc;

	/* A kthread's filp_close() defers the final fput(): without this flush
	 * the files just closed keep the file system busy (EBUSY). */
	flush_delayed_fput();
	rc = kern_path(WREN_MNT, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (!rc)
		rc = path_umount(&path, 0);	/* drops the path's references */
	if (!rc)
		rc = wren_wait_released(wren_mounted);
	pr_info("umount rc=%d\n", rc);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

/* Opens /mnt/NAME; with @buf, also allocates a chunk buffer for its data
 * (freed again if the open fails). */
static struct file *wren_open(const char *name, int flags, u8 **buf)
{
	char path[128];
	struct file *f;

	if (!*name || strchr(name, '/') || snprintf(path, sizeof(path), WREN_MNT "/%s", name) >= sizeof(path))
		return ERR_PTR(-EINVAL);
	if (buf) {
		*buf = kmalloc(WREN_CHUNK, GFP_KERNEL);
		if (!*buf)
			return ERR_PTR(-ENOMEM);
	}
	f = filp_open(path, flags | O_LARGEFILE, 0644);
	if (IS_ERR(f) && buf)
		kfree(*buf);
	return f;
}

/* Writes @kib KiB of pattern @seed at @pos; returns bytes written or -errno. */
static s64 wren_write_pattern(struct file *f, u8 *buf, u32 seed, loff_t pos, unsigned int kib, u32 *crc)
{
	u64 left = (u64)kib * 1024;
	ssize_t n;
	size_t len;

	while (left) {
		len = min_t(u64, left, WREN_CHUNK);
		wren_fill(buf, len, seed, pos);
		*crc = crc32_le(*crc, buf, len);
		n = kernel_write(f, buf, len, &pos);
		if (n < 0)
			return n;
		if (n != len)
			return -EIO;
		left -= len;
	}
	return (s64)kib * 1024;
}

static int wren_step_write(char *arg)
{
	char *field[3];
	unsigned int kib, seed;
	struct file *f;
	u32 crc = ~0U;
	u8 *buf;
	s64 written;
	int rc;

	if (wren_fields(arg, field, 3) != 3 || wren_uint(field[1], WREN_MAX_KIB, &kib) ||
	    kstrtouint(field[2], 10, &seed))
		return -EINVAL;
	f = wren_open(field[0], O_WRONLY | O_CREAT | O_TRUNC, &buf);
	if (IS_ERR(f))
		return PTR_ERR(f);
	written = wren_write_pattern(f, buf, seed, 0, kib, &crc);
	rc = written < 0 ? (int)written : vfs_fsync(f, 0);
	filp_close(f, NULL);
	kfree(buf);
	pr_info("file %s wrote bytes=%lld crc=%08x fsync rc=%d\n", field[0], written, ~crc, rc);
	return rc;
}

static int wren_step_read(char *name)
{
	struct file *f;
	u64 total = 0;
	u32 crc = ~0U;
	loff_t pos = 0;
	ssize_t n;
	u8 *buf;

	f = wren_open(name, O_RDONLY, &buf);
	if (IS_ERR(f))
		return PTR_ERR(f);
	/* The pages are clean after fsync: drop them so the read goes to the disk. */
	invalidate_mapping_pages(f->f_mapping, 0, -1);
	while ((n = kernel_read(f, buf, WREN_CHUNK, &pos)) > 0) {
		crc = crc32_le(crc, buf, n);
		total += n;
	}
	filp_close(f, NULL);
	kfree(buf);
	pr_info("file %s read bytes=%llu crc=%08x rc=%zd\n", name, total, ~crc, n < 0 ? n : 0);
	return n < 0 ? (int)n : 0;
}

/* Prints the disk extents (file system blocks) behind [@off, @off + @len). */
static void wren_print_extents(const char *name, struct inode *inode, loff_t off, loff_t len)
{
	unsigned int bits = inode->i_blkbits;
	sector_t block, first = 0, count = 0, logical;

	for (logical = off >> bits; logical < (off + len) >> bits; logical++) {
		block = logical;
		if (bmap(inode, &block) || !block)
			block = 0;
		if (count && block == first + count) {
			count++;
			continue;
		}
		if (count)
			pr_info("punch %s extent block=%llu count=%llu blocksize=%u\n", name,
				(u64)first, (u64)count, 1U << bits);
		first = block;
		count = block ? 1 : 0;
	}
	if (count)
		pr_info("punch %s extent block=%llu count=%llu blocksize=%u\n", name, (u64)first, (u64)count,
			1U << bits);
}

static int wren_step_punch(char *arg)
{
	char *field[3];
	unsigned int off_kib, len_kib;
	struct file *f;
	loff_t off, len;
	int rc;

	if (wren_fields(arg, field, 3) != 3 || wren_uint(field[1], WREN_MAX_KIB, &off_kib) ||
	    wren_uint(field[2], WREN_MAX_KIB, &len_kib))
		return -EINVAL;
	f = wren_open(field[0], O_RDWR, NULL);
	if (IS_ERR(f))
		return PTR_ERR(f);
	off = (loff_t)off_kib * 1024;
	len = (loff_t)len_kib * 1024;
	wren_print_extents(field[0], file_inode(f), off, len);
	rc = vfs_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (!rc)
		rc = vfs_fsync(f, 0);	/* commits the journal, which issues the discards */
	filp_close(f, NULL);
	pr_info("punch %s done rc=%d\n", field[0], rc);
	return rc;
}

static int wren_step_writeloop(char *arg)
{
	char *field[5];
	unsigned int seed, count, kib, ms, i;
	struct file *f;
	u32 crc;
	s64 written;
	u8 *buf;
	int rc = 0;

	if (wren_fields(arg, field, 5) != 5 || kstrtouint(field[1], 10, &seed) ||
	    wren_uint(field[2], WREN_MAX_COUNT, &count) || wren_uint(field[3], WREN_MAX_KIB, &kib) ||
	    wren_uint(field[4], WREN_MAX_MS, &ms) || !kib)
		return -EINVAL;
	f = wren_open(field[0], O_WRONLY | O_CREAT | O_TRUNC, &buf);
	if (IS_ERR(f))
		return PTR_ERR(f);
	for (i = 0; i < count && !rc; i++) {
		crc = ~0U;
		written = wren_write_pattern(f, buf, seed, (loff_t)i * kib * 1024, kib, &crc);
		rc = written < 0 ? (int)written : vfs_fsync(f, 0);
		if (!rc)
			pr_info("record %s %u durable crc=%08x\n", field[0], i, ~crc);
		else
			pr_info("record %s %u failed rc=%d\n", field[0], i, rc);
		msleep(ms);
	}
	filp_close(f, NULL);
	kfree(buf);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Raw disk I/O                                                             */

struct wren_raw {
	struct block_device *bdev;
	fmode_t mode;
	struct page *pages[WREN_BENCH_PAGES];
	atomic_t in_flight;
	atomic_t errors;
	wait_queue_head_t done;
};

static int wren_raw_open(struct wren_raw *raw, const char *dev, fmode_t mode)
{
	char path[64];
	int rc, i;

	memset(raw, 0, sizeof(*raw));
	init_waitqueue_head(&raw->done);
	rc = wren_dev_path(dev, path, sizeof(path));
	if (rc)
		return rc;
	for (i = 0; i < WREN_BENCH_PAGES; i++) {
		raw->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!raw->pages[i])
			return -ENOMEM;
	}
	raw->mode = mode;
	raw->bdev = blkdev_get_by_path(path, mode, raw);
	if (IS_ERR(raw->bdev)) {
		rc = PTR_ERR(raw->bdev);
		raw->bdev = NULL;
	}
	return rc;
}

static void wren_raw_close(struct wren_raw *raw)
{
	int i;

	if (raw->bdev)
		blkdev_put(raw->bdev, raw->mode);
	for (i = 0; i < WREN_BENCH_PAGES; i++)
		if (raw->pages[i])
			__free_page(raw->pages[i]);
}

static struct bio *wren_raw_bio(struct wren_raw *raw, blk_opf_t op, sector_t sector, unsigned int bytes)
{
	struct bio *bio = bio_alloc(raw->bdev, WREN_BENCH_PAGES, op, GFP_KERNEL);
	unsigned int i;

	bio->bi_iter.bi_sector = sector;
	for (i = 0; i * PAGE_SIZE < bytes; i++)
		bio_add_page(bio, raw->pages[i], min_t(unsigned int, PAGE_SIZE, bytes - i * PAGE_SIZE), 0);
	return bio;
}

static int wren_step_rawwrite(char *arg)
{
	char *field[2];
	struct wren_raw raw;
	unsigned int sector;
	struct bio *bio;
	int rc;

	if (wren_fields(arg, field, 2) != 2 || kstrtouint(field[1], 10, &sector))
		return -EINVAL;
	rc = wren_raw_open(&raw, field[0], FMODE_READ);
	if (!rc) {
		memset(page_address(raw.pages[0]), 0xa5, PAGE_SIZE);
		bio = wren_raw_bio(&raw, REQ_OP_WRITE | REQ_SYNC, sector, PAGE_SIZE);
		rc = submit_bio_wait(bio);
		bio_put(bio);
	}
	wren_raw_close(&raw);
	pr_info("raw %s write sector=%u rc=%d\n", field[0], sector, rc);
	return 0;	/* the result is the printed rc */
}

static int wren_step_rawread(char *arg)
{
	char *field[3];
	struct wren_raw raw;
	unsigned int sector, kib, done = 0;
	u32 crc = ~0U;
	struct bio *bio;
	int rc;

	if (wren_fields(arg, field, 3) != 3 || kstrtouint(field[1], 10, &sector) ||
	    wren_uint(field[2], WREN_MAX_KIB, &kib) || kib % (PAGE_SIZE / 1024))
		return -EINVAL;
	rc = wren_raw_open(&raw, field[0], FMODE_READ);
	while (!rc && done < kib * 1024) {
		bio = wren_raw_bio(&raw, REQ_OP_READ, sector + done / 512, PAGE_SIZE);
		rc = submit_bio_wait(bio);
		bio_put(bio);
		if (!rc)
			crc = crc32_le(crc, page_address(raw.pages[0]), PAGE_SIZE);
		done += PAGE_SIZE;
	}
	wren_raw_close(&raw);
	pr_info("raw %s read sector=%u bytes=%u crc=%08x rc=%d\n", field[0], sector, rc ? 0 : done, ~crc, rc);
	return rc;
}

static void wren_bench_end_io(struct bio *bio)
{
	struct wren_raw *raw = bio->bi_private;

	if (bio->bi_status)
		atomic_inc(&raw->errors);
	bio_put(bio);
	atomic_dec(&raw->in_flight);
	wake_up(&raw->done);
}

/* Runs @count requests of @bytes, at most @qd in flight; sequential from
 * sector 0 or at random aligned offsets below @span bytes. */
static void wren_bench_phase(struct wren_raw *raw, const char *dev, const char *phase, blk_opf_t op,
			     unsigned int bytes, u64 count, u64 span, bool random, unsigned int qd)
{
	u64 i, start;
	sector_t sector;
	struct bio *bio;

	atomic_set(&raw->errors, 0);
	pr_info("bench %s %s begin\n", dev, phase);
	start = ktime_get_ns();
	for (i = 0; i < count; i++) {
		wait_event(raw->done, atomic_read(&raw->in_flight) < qd);
		sector = random ? (get_random_u64() % (span / bytes)) * (bytes / 512) : i * (bytes / 512);
		bio = wren_raw_bio(raw, op, sector, bytes);
		bio->bi_private = raw;
		bio->bi_end_io = wren_bench_end_io;
		atomic_inc(&raw->in_flight);
		submit_bio(bio);
	}
	wait_event(raw->done, atomic_read(&raw->in_flight) == 0);
	if (op_is_write(op))
		blkdev_issue_flush(raw->bdev);
	pr_info("bench %s %s end requests=%llu bytes=%llu ns=%llu errors=%d\n", dev, phase, count, count * bytes,
		ktime_get_ns() - start, atomic_read(&raw->errors));
}

static int wren_step_bench(char *arg)
{
	char *field[4];
	unsigned int mib, ops, qd;
	struct wren_raw raw;
	u64 span, seq_count;
	int rc;

	if (wren_fields(arg, field, 4) != 4 || wren_uint(field[1], WREN_MAX_KIB / 1024, &mib) || !mib ||
	    wren_uint(field[2], WREN_MAX_COUNT * 10, &ops) || wren_uint(field[3], WREN_BENCH_MAX_QD, &qd) || !qd)
		return -EINVAL;
	rc = wren_raw_open(&raw, field[0], FMODE_READ | FMODE_WRITE);
	if (!rc) {
		span = (u64)mib << 20;
		seq_count = span / WREN_BENCH_IO;
		wren_bench_phase(&raw, field[0], "seqwrite", REQ_OP_WRITE, WREN_BENCH_IO, seq_count, span, false, qd);
		wren_bench_phase(&raw, field[0], "seqread", REQ_OP_READ, WREN_BENCH_IO, seq_count, span, false, qd);
		wren_bench_phase(&raw, field[0], "randread", REQ_OP_READ, PAGE_SIZE, ops, span, true, qd);
		wren_bench_phase(&raw, field[0], "randwrite", REQ_OP_WRITE, PAGE_SIZE, ops, span, true, qd);
	}
	wren_raw_close(&raw);
	pr_info("bench %s done rc=%d\n", field[0], rc);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Step runner                                                              */

static int wren_run_step(char *step)
{
	char *val = strchr(step, '=');
	unsigned int ms;

	if (val)
		*val++ = '\0';
	if (!strcmp(step, "mount") && val)
		return wren_step_mount(val);
	if (!strcmp(step, "umount") && !val)
		return wren_step_umount();
	if (!strcmp(step, "write") && val)
		return wren_step_write(val);
	if (!strcmp(step, "read") && val)
		return wren_step_read(val);
	if (!strcmp(step, "punch") && val)
		return wren_step_punch(val);
	if (!strcmp(step, "writeloop") && val)
		return wren_step_writeloop(val);
	if (!strcmp(step, "rawread") && val)
		return wren_step_rawread(val);
	if (!strcmp(step, "rawwrite") && val)
		return wren_step_rawwrite(val);
	if (!strcmp(step, "bench") && val)
		return wren_step_bench(val);
	if (!strcmp(step, "sleep") && val && !wren_uint(val, WREN_MAX_MS, &ms)) {
		msleep(ms);
		return 0;
	}
	if (!strcmp(step, "poweroff") && !val) {
		kernel_power_off();
		return 0;
	}
	return -EINVAL;
}

static int wren_disk_main(void *unused)
{
	char *buf, *cur, *step;
	unsigned int i = 0;
	int rc;

	wait_for_initramfs();	/* /mnt and /dev come from it */
	buf = kstrdup(steps, GFP_KERNEL);
	if (!buf) {
		pr_info("error out of memory\n");
		return 0;
	}
	cur = buf;
	while ((step = strsep(&cur, ",")) != NULL) {
		step = strim(step);
		if (!*step)
			continue;
		pr_info("step %u %s\n", ++i, step);
		rc = wren_run_step(step);
		pr_info("step %u done rc=%d\n", i, rc);
	}
	kfree(buf);
	pr_info("steps complete\n");
	return 0;
}

static int __init wren_disk_init(void)
{
	struct task_struct *t;

	if (!steps || !*steps)
		return 0;
	t = kthread_run(wren_disk_main, NULL, "wren_disk");
	if (IS_ERR(t))
		pr_info("error cannot start kthread: %ld\n", PTR_ERR(t));
	return 0;
}
late_initcall_sync(wren_disk_init);
