// SPDX-License-Identifier: GPL-2.0
/*
 * wren_test: built-in test driver for Wren's test guest.
 *
 * The test guest has no usable userspace (system calls do not work on the
 * test machines' KVM backend), so host-side tests drive the guest kernel
 * through this module: it calls netdev APIs so that the real Linux
 * virtio_net driver issues real control-queue commands, and it reports on the
 * serial console which probe frames reached the guest.
 *
 * Parameters (kernel command line):
 *   wren_test.dev=eth0            network device to drive (default eth0)
 *   wren_test.steps=a,b,c         steps to run in order (see below)
 *
 * Steps:
 *   promisc=1|0      dev_set_promiscuity(+1 / -1)
 *   allmulti=1|0     dev_set_allmulti(+1 / -1)
 *   mc+=MAC mc-=MAC  dev_mc_add / dev_mc_del
 *   uc+=MAC uc-=MAC  dev_uc_add / dev_uc_del
 *   vlan+=N vlan-=N  vlan_vid_add / vlan_vid_del (802.1Q, N in 0..4095)
 *   mac=MAC          dev_set_mac_address
 *   sleep=MS         sleep MS milliseconds (at most 3600000)
 *   wait             wait (at most 600 s) for a probe frame with tag "next"
 *                    that arrives after this step's "step <i> wait" line
 *   dirty=on|off     start/stop a kthread dirtying a 4 MiB vmalloc buffer
 *   report           print "rxcount" lines for every tag seen so far
 *   parkinit         park /init (pid 1) in the kernel for good, so the vCPU
 *                    idles instead of running /init's spin loop (benchmarks)
 *   ping=IP:COUNT:INTERVAL_MS
 *                    send COUNT ICMP echo requests to IP from the kernel,
 *                    INTERVAL_MS apart; print the RTTs (guest clock)
 *   poweroff         kernel_power_off()
 *   powerbutton      act on the ACPI power button as userspace would: a
 *                    press (the host's QMP system_powerdown) prints "power
 *                    button pressed" and powers off. Through KEY_POWER from
 *                    Linux's ACPI button driver, or, without that driver, an
 *                    ACPI fixed-event handler of the module's own
 *   reboot           emergency_restart()
 *
 * Probe frames: ethertype 0x88B5, payload "WRENPROBE:<tag>", tag up to 32
 * printable non-space characters, ended by NUL, space, any non-printable
 * byte or the end of the frame.
 *
 * Every console line starts with "WREN-TEST: ".
 */
#define pr_fmt(fmt) "WREN-TEST: " fmt

#include <linux/acpi.h>
#include <linux/atomic.h>
#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/icmp.h>
#include <linux/if_vlan.h>
#include <linux/in.h>
#include <linux/inet.h>
#include <linux/init.h>
#include <linux/input.h>
#include <linux/ip.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/pid.h>
#include <linux/reboot.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/checksum.h>
#include <net/net_namespace.h>
#include <net/sock.h>

static char *steps = "";
module_param(steps, charp, 0444);
MODULE_PARM_DESC(steps, "comma-separated test steps");

static char *dev = "eth0";
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "network device to drive");

static unsigned int devwait = 60;
module_param(devwait, uint, 0444);
MODULE_PARM_DESC(devwait, "seconds to wait for the device; 0: run the steps without one");

#define WREN_ETH_P_PROBE	0x88B5
#define WREN_PROBE_MAGIC	"WRENPROBE:"
#define WREN_PROBE_MAGIC_LEN	(sizeof(WREN_PROBE_MAGIC) - 1)
#define WREN_TAG_MAX		32
#define WREN_MAX_TAGS		64
#define WREN_RX_PRINT_LIMIT	64
#define WREN_DEV_POLL_MS	100
#define WREN_WAIT_TIMEOUT_S	600
#define WREN_SLEEP_MAX_MS	3600000U
#define WREN_DIRTY_BYTES	(4UL << 20)
#define WREN_DIRTY_PRINT_S	2
#define WREN_DIRTY_MISMATCH_MAX	16
#define WREN_BAD		1	/* internal: step not understood */
#define WREN_PING_MAX_COUNT	10000U
#define WREN_PING_MAX_INTERVAL_MS 60000U
#define WREN_PING_TIMEOUT_MS	2000
#define WREN_PING_POLL_MS	100
#define WREN_PING_PAYLOAD	56	/* ping(8)'s default */
#define WREN_PING_ID		0x5752	/* "WR" */
#define WREN_PING_PER_LINE	16

/* ------------------------------------------------------------------------ */
/* Probe frame receive side                                                 */

struct wren_tag_stat {
	char tag[WREN_TAG_MAX + 1];
	u32 count;
};

static DEFINE_SPINLOCK(wren_tags_lock);
static struct wren_tag_stat wren_tags[WREN_MAX_TAGS];
static unsigned int wren_ntags;
static u32 wren_tags_dropped;	/* frames whose tag did not fit in the table */

static atomic64_t wren_next_seen = ATOMIC64_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(wren_next_wq);

/* Returns the count for @tag after this frame, or 0 if the table is full. */
static u32 wren_count_tag(const char *tag)
{
	unsigned int i;
	u32 n = 0;

	spin_lock(&wren_tags_lock);
	for (i = 0; i < wren_ntags; i++) {
		if (!strcmp(wren_tags[i].tag, tag)) {
			if (wren_tags[i].count < U32_MAX)
				wren_tags[i].count++;
			n = wren_tags[i].count;
			goto out;
		}
	}
	if (wren_ntags < WREN_MAX_TAGS) {
		strscpy(wren_tags[wren_ntags].tag, tag, sizeof(wren_tags[0].tag));
		wren_tags[wren_ntags].count = 1;
		wren_ntags++;
		n = 1;
	} else if (wren_tags_dropped < U32_MAX) {
		wren_tags_dropped++;
	}
out:
	spin_unlock(&wren_tags_lock);
	return n;
}

static int wren_probe_rcv(struct sk_buff *skb, struct net_device *ndev,
			  struct packet_type *pt, struct net_device *orig_dev)
{
	u8 buf[WREN_PROBE_MAGIC_LEN + WREN_TAG_MAX];
	char tag[WREN_TAG_MAX + 1];
	u8 dst[ETH_ALEN];
	const u8 *data;
	unsigned int len, i;
	u32 n;

	if (skb->pkt_type == PACKET_OUTGOING || skb->pkt_type == PACKET_LOOPBACK)
		goto out;
	if (!skb_mac_header_was_set(skb) ||
	    skb_mac_header_len(skb) < ETH_HLEN)
		goto out;
	len = min_t(unsigned int, skb->len, sizeof(buf));
	if (len < WREN_PROBE_MAGIC_LEN)
		goto out;
	data = skb_header_pointer(skb, 0, len, buf);
	if (!data || memcmp(data, WREN_PROBE_MAGIC, WREN_PROBE_MAGIC_LEN))
		goto out;

	for (i = 0; i + WREN_PROBE_MAGIC_LEN < len && i < WREN_TAG_MAX; i++) {
		u8 c = data[WREN_PROBE_MAGIC_LEN + i];

		if (c <= 0x20 || c >= 0x7f)
			break;
		tag[i] = c;
	}
	tag[i] = '\0';
	if (!i)
		goto out;

	ether_addr_copy(dst, eth_hdr(skb)->h_dest);
	n = wren_count_tag(tag);
	if (n && n <= WREN_RX_PRINT_LIMIT) {
		if (skb_vlan_tag_present(skb))
			pr_info("rx tag=%s dst=%pM vlan=%u\n", tag, dst,
				skb_vlan_tag_get_id(skb));
		else
			pr_info("rx tag=%s dst=%pM\n", tag, dst);
	}
	if (!strcmp(tag, "next")) {
		atomic64_inc(&wren_next_seen);
		wake_up(&wren_next_wq);
	}
	consume_skb(skb);
	return NET_RX_SUCCESS;
out:
	kfree_skb(skb);
	return NET_RX_DROP;
}

static struct packet_type wren_probe_pt __read_mostly = {
	.type = cpu_to_be16(WREN_ETH_P_PROBE),
	.func = wren_probe_rcv,
};

static int wren_report(void)
{
	struct wren_tag_stat *snap;
	unsigned int n, i;
	u32 dropped;

	snap = kmalloc_array(WREN_MAX_TAGS, sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return -ENOMEM;
	spin_lock_bh(&wren_tags_lock);
	n = wren_ntags;
	memcpy(snap, wren_tags, n * sizeof(*snap));
	dropped = wren_tags_dropped;
	spin_unlock_bh(&wren_tags_lock);

	for (i = 0; i < n; i++)
		pr_info("rxcount tag=%s n=%u\n", snap[i].tag, snap[i].count);
	if (dropped)
		pr_info("rxcount overflow n=%u\n", dropped);
	kfree(snap);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Dirty-memory workload (migration tests)                                  */

static struct task_struct *wren_dirty_task;

static int wren_dirty_fn(void *arg)
{
	u64 *buf = arg;
	const size_t words_per_page = PAGE_SIZE / sizeof(u64);
	const size_t pages = WREN_DIRTY_BYTES / PAGE_SIZE;
	unsigned int mismatches = 0;
	unsigned long next_print = jiffies;
	u64 counter = 0;
	size_t p;

	while (!kthread_should_stop()) {
		/*
		 * One pass: check that every page still holds the previous
		 * counter value (memory survived, e.g. a migration), then
		 * write the new value at the start and the end of the page.
		 */
		counter++;
		for (p = 0; p < pages; p++) {
			u64 *w = buf + p * words_per_page;

			if ((w[0] != counter - 1 ||
			     w[words_per_page - 1] != counter - 1) &&
			    mismatches < WREN_DIRTY_MISMATCH_MAX) {
				mismatches++;
				pr_info("dirty mismatch page=%zu have=%llu,%llu want=%llu\n",
					p, w[0], w[words_per_page - 1],
					counter - 1);
			}
			WRITE_ONCE(w[0], counter);
			WRITE_ONCE(w[words_per_page - 1], counter);
		}
		if (time_after_eq(jiffies, next_print)) {
			pr_info("counter=%llu\n", counter);
			next_print = jiffies + WREN_DIRTY_PRINT_S * HZ;
		}
		cond_resched();
	}
	vfree(buf);
	return 0;
}

static int wren_dirty(const char *arg)
{
	struct task_struct *t;
	u64 *buf;

	if (!strcmp(arg, "on")) {
		if (wren_dirty_task)
			return -EALREADY;
		buf = vzalloc(WREN_DIRTY_BYTES);
		if (!buf)
			return -ENOMEM;
		t = kthread_run(wren_dirty_fn, buf, "wren_dirty");
		if (IS_ERR(t)) {
			vfree(buf);
			return PTR_ERR(t);
		}
		wren_dirty_task = t;
		return 0;
	}
	if (!strcmp(arg, "off")) {
		if (!wren_dirty_task)
			return -EALREADY;
		kthread_stop(wren_dirty_task);
		wren_dirty_task = NULL;
		return 0;
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Benchmarks: an idle guest, and guest-to-host ping                        */

/*
 * /init spins in user mode for ever, so the vCPU never idles. Parking it in
 * the kernel (a task work that runs when it next returns to user mode and
 * never comes back) lets the guest reach its idle loop: a benchmark can then
 * tell the VMM's per-packet CPU time from a busy vCPU. Global init ignores
 * SIGSTOP, hence the task work.
 */
static struct callback_head wren_park_work;
static bool wren_init_parked;
static DECLARE_WAIT_QUEUE_HEAD(wren_park_wq);

static void wren_park_fn(struct callback_head *unused)
{
	pr_info("init parked\n");
	wait_event_idle(wren_park_wq, false);
}

static int wren_park_init(void)
{
	struct task_struct *init;
	struct pid *pid;
	int rc;

	if (wren_init_parked)
		return -EALREADY;
	pid = find_get_pid(1);
	init = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!init)
		return -ESRCH;
	init_task_work(&wren_park_work, wren_park_fn);
	rc = task_work_add(init, &wren_park_work, TWA_RESUME);
	put_task_struct(init);
	if (!rc)
		wren_init_parked = true;
	return rc;
}

struct wren_echo {
	struct icmphdr hdr;
	u8 payload[WREN_PING_PAYLOAD];
};

/* Sends echo request @seq to @dst; returns the RTT in ns or a negative errno. */
static s64 wren_ping_once(struct socket *sock, __be32 dst, u16 seq)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	u8 buf[60 + sizeof(struct wren_echo)];	/* largest IP header + echo */
	struct wren_echo req = {};
	struct msghdr msg = {};
	ktime_t t0, deadline;
	struct kvec kv;
	int rc;

	sin.sin_addr.s_addr = dst;
	req.hdr.type = ICMP_ECHO;
	req.hdr.un.echo.id = htons(WREN_PING_ID);
	req.hdr.un.echo.sequence = htons(seq);
	memset(req.payload, 0x5a, sizeof(req.payload));
	req.hdr.checksum = ip_compute_csum(&req, sizeof(req));

	msg.msg_name = &sin;
	msg.msg_namelen = sizeof(sin);
	kv.iov_base = &req;
	kv.iov_len = sizeof(req);
	t0 = ktime_get();
	deadline = ktime_add_ms(t0, WREN_PING_TIMEOUT_MS);
	rc = kernel_sendmsg(sock, &msg, &kv, 1, sizeof(req));
	if (rc < 0)
		return rc;
	do {
		const struct iphdr *ip = (const struct iphdr *)buf;
		const struct icmphdr *icmp;
		unsigned int ihl;

		memset(&msg, 0, sizeof(msg));
		kv.iov_base = buf;
		kv.iov_len = sizeof(buf);
		/* The raw socket gets every ICMP packet the guest receives. */
		rc = kernel_recvmsg(sock, &msg, &kv, 1, sizeof(buf), 0);
		if (rc == -EAGAIN)
			continue;	/* poll timeout: check the deadline */
		if (rc < 0)
			return rc;
		if (rc < (int)sizeof(*ip))
			continue;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip) || ihl + sizeof(*icmp) > (unsigned int)rc)
			continue;
		icmp = (const struct icmphdr *)(buf + ihl);
		if (ip->saddr == dst && icmp->type == ICMP_ECHOREPLY &&
		    icmp->un.echo.id == htons(WREN_PING_ID) &&
		    icmp->un.echo.sequence == htons(seq))
			return ktime_to_ns(ktime_sub(ktime_get(), t0));
	} while (ktime_before(ktime_get(), deadline));
	return -ETIMEDOUT;
}

static void wren_print_rtts(const u32 *rtt_us, unsigned int n)
{
	char line[WREN_PING_PER_LINE * 11 + 1];
	unsigned int i, len = 0;

	for (i = 0; i < n; i++) {
		if (i % WREN_PING_PER_LINE == 0)
			len = 0;
		len += scnprintf(line + len, sizeof(line) - len, "%s%u",
				 len ? "," : "", rtt_us[i]);
		if (i % WREN_PING_PER_LINE == WREN_PING_PER_LINE - 1 || i + 1 == n)
			pr_info("ping rtt_us=%s\n", line);
	}
}

/* ping=IP:COUNT:INTERVAL_MS; @val is modified. */
static int wren_ping(char *val)
{
	unsigned int count, interval, i, received = 0;
	char *count_s, *interval_s;
	struct socket *sock;
	const char *end;
	u32 *rtt_us;
	__be32 dst;
	s64 ns;
	int rc;

	count_s = strchr(val, ':');
	if (!count_s)
		return WREN_BAD;
	*count_s++ = '\0';
	interval_s = strchr(count_s, ':');
	if (!interval_s)
		return WREN_BAD;
	*interval_s++ = '\0';
	if (!in4_pton(val, -1, (u8 *)&dst, -1, &end) || *end)
		return WREN_BAD;
	if (kstrtouint(count_s, 10, &count) || !count ||
	    count > WREN_PING_MAX_COUNT)
		return WREN_BAD;
	if (kstrtouint(interval_s, 10, &interval) ||
	    interval > WREN_PING_MAX_INTERVAL_MS)
		return WREN_BAD;

	rtt_us = kcalloc(count, sizeof(*rtt_us), GFP_KERNEL);
	if (!rtt_us)
		return -ENOMEM;
	/* A kernel socket may be raw without CAP_NET_RAW. */
	rc = sock_create_kern(&init_net, AF_INET, SOCK_RAW, IPPROTO_ICMP, &sock);
	if (rc) {
		kfree(rtt_us);
		return rc;
	}
	sock->sk->sk_rcvtimeo = msecs_to_jiffies(WREN_PING_POLL_MS);

	for (i = 0; i < count; i++) {
		ns = wren_ping_once(sock, dst, i);
		if (ns >= 0)
			rtt_us[received++] = (u32)min_t(s64, div_s64(ns, 1000), U32_MAX);
		else
			pr_info("ping lost seq=%u rc=%lld\n", i, ns);
		if (interval && i + 1 < count)
			msleep(interval);
	}
	sock_release(sock);
	pr_info("ping dst=%pI4 sent=%u received=%u\n", &dst, count, received);
	wren_print_rtts(rtt_us, received);
	kfree(rtt_us);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Steps                                                                    */

static int wren_promisc_count;
static int wren_allmulti_count;

static int wren_parse_bool(const char *s, int *on)
{
	if (!strcmp(s, "1") || !strcmp(s, "on")) {
		*on = 1;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "off")) {
		*on = 0;
		return 0;
	}
	return -EINVAL;
}

static int wren_parse_mac(const char *s, u8 *mac)
{
	if (strlen(s) != 17 || !mac_pton(s, mac))
		return -EINVAL;
	return 0;
}

/* Counted +1/-1 on dev_set_promiscuity / dev_set_allmulti. */
static int wren_counted(struct net_device *nd, int on, int *count,
			int (*fn)(struct net_device *, int))
{
	int rc;

	if (!on && *count <= 0)
		return -EINVAL;	/* never drop below what we added */
	rtnl_lock();
	rc = fn(nd, on ? 1 : -1);
	rtnl_unlock();
	if (!rc)
		*count += on ? 1 : -1;
	return rc;
}

/*
 * The power button (host: QMP system_powerdown). Linux's ACPI button driver
 * turns a press into KEY_POWER on its input device, which userspace (logind)
 * would act on; there is no userspace here, so an input handler of ours
 * does it. Without the button driver, our own ACPI fixed-event handler.
 */
static void wren_poweroff_work_fn(struct work_struct *work)
{
	pr_info("powering off\n");
	kernel_power_off();
}
static DECLARE_WORK(wren_poweroff_work, wren_poweroff_work_fn);

static void wren_power_pressed(const char *via)
{
	pr_info("power button pressed (%s)\n", via);
	schedule_work(&wren_poweroff_work);	/* it sleeps: not from here */
}

static void wren_input_event(struct input_handle *handle, unsigned int type,
			     unsigned int code, int value)
{
	if (type == EV_KEY && code == KEY_POWER && value)
		wren_power_pressed("KEY_POWER");
}

static int wren_input_connect(struct input_handler *handler,
			      struct input_dev *idev,
			      const struct input_device_id *id)
{
	struct input_handle *handle;
	int err;

	handle = kzalloc(sizeof(*handle), GFP_KERNEL);
	if (!handle)
		return -ENOMEM;
	handle->dev = idev;
	handle->handler = handler;
	handle->name = "wren_test";
	err = input_register_handle(handle);
	if (err)
		goto free;
	err = input_open_device(handle);
	if (err)
		goto unregister;
	pr_info("power button input: %s\n", idev->name);
	return 0;
unregister:
	input_unregister_handle(handle);
free:
	kfree(handle);
	return err;
}

static void wren_input_disconnect(struct input_handle *handle)
{
	input_close_device(handle);
	input_unregister_handle(handle);
	kfree(handle);
}

static const struct input_device_id wren_input_ids[] = {
	{
		.flags = INPUT_DEVICE_ID_MATCH_EVBIT |
			 INPUT_DEVICE_ID_MATCH_KEYBIT,
		.evbit = { BIT_MASK(EV_KEY) },
		.keybit = { [BIT_WORD(KEY_POWER)] = BIT_MASK(KEY_POWER) },
	},
	{ },
};

static struct input_handler wren_input_handler = {
	.event = wren_input_event,
	.connect = wren_input_connect,
	.disconnect = wren_input_disconnect,
	.name = "wren_test",
	.id_table = wren_input_ids,
};

#ifdef CONFIG_ACPI
/* ACPICA has cleared PWRBTN_STS before calling this (interrupt context). */
static u32 wren_acpi_power_button(void *context)
{
	wren_power_pressed("ACPI fixed event");
	return ACPI_INTERRUPT_HANDLED;
}
#endif

static int wren_arm_power_button(void)
{
	bool fixed = false, input;

#ifdef CONFIG_ACPI
	/* AE_ALREADY_EXISTS when the button driver has it: then via input. */
	fixed = !acpi_disabled &&
		ACPI_SUCCESS(acpi_install_fixed_event_handler(
			ACPI_EVENT_POWER_BUTTON, wren_acpi_power_button, NULL));
#endif
	input = input_register_handler(&wren_input_handler) == 0;
	if (!fixed && !input) {
		pr_info("power button not armed\n");
		return -EIO;
	}
	pr_info("power button armed (%s%s%s)\n", fixed ? "ACPI fixed event" : "",
		fixed && input ? ", " : "", input ? "input KEY_POWER" : "");
	return 0;
}

static int wren_run_step(struct net_device *nd, char *step, s64 next_before)
{
	char *key = step, *val;
	u8 mac[ETH_ALEN];
	unsigned int u;
	long left;
	int on, rc;

	val = strchr(step, '=');
	if (val)
		*val++ = '\0';

	if (!val) {
		if (!strcmp(key, "waitinit")) {
			/* until the kernel is about to start /init */
			while (system_state < SYSTEM_RUNNING)
				msleep(100);
			return 0;
		}
		if (!strcmp(key, "wait")) {
			left = wait_event_timeout(wren_next_wq,
				atomic64_read(&wren_next_seen) > next_before,
				WREN_WAIT_TIMEOUT_S * HZ);
			return left ? 0 : -ETIMEDOUT;
		}
		if (!strcmp(key, "report"))
			return wren_report();
		if (!strcmp(key, "parkinit"))
			return wren_park_init();
		if (!strcmp(key, "poweroff")) {
			pr_info("powering off\n");
			kernel_power_off();
			return -EIO;	/* not reached unless power-off failed */
		}
		if (!strcmp(key, "powerbutton"))
			return wren_arm_power_button();
		if (!strcmp(key, "reboot")) {
			pr_info("rebooting\n");
			emergency_restart();
			return -EIO;
		}
		return WREN_BAD;
	}

	if (!nd && strcmp(key, "sleep") && strcmp(key, "dirty") &&
	    strcmp(key, "ping"))
		return -ENODEV;
	if (!strcmp(key, "ping"))
		return wren_ping(val);
	if (!strcmp(key, "promisc")) {
		if (wren_parse_bool(val, &on))
			return WREN_BAD;
		return wren_counted(nd, on, &wren_promisc_count,
				    dev_set_promiscuity);
	}
	if (!strcmp(key, "allmulti")) {
		if (wren_parse_bool(val, &on))
			return WREN_BAD;
		return wren_counted(nd, on, &wren_allmulti_count,
				    dev_set_allmulti);
	}
	if (!strcmp(key, "mc+") || !strcmp(key, "mc-") ||
	    !strcmp(key, "uc+") || !strcmp(key, "uc-")) {
		bool add = key[2] == '+';

		if (wren_parse_mac(val, mac))
			return WREN_BAD;
		rtnl_lock();
		if (key[0] == 'm')
			rc = add ? dev_mc_add(nd, mac) : dev_mc_del(nd, mac);
		else
			rc = add ? dev_uc_add(nd, mac) : dev_uc_del(nd, mac);
		rtnl_unlock();
		return rc;
	}
	if (!strcmp(key, "vlan+") || !strcmp(key, "vlan-")) {
		if (kstrtouint(val, 10, &u) || u >= VLAN_N_VID)
			return WREN_BAD;
		rtnl_lock();
		if (key[4] == '+') {
			rc = vlan_vid_add(nd, htons(ETH_P_8021Q), u);
		} else {
			vlan_vid_del(nd, htons(ETH_P_8021Q), u);
			rc = 0;
		}
		rtnl_unlock();
		return rc;
	}
	if (!strcmp(key, "mac")) {
		struct sockaddr sa = {};

		if (wren_parse_mac(val, mac))
			return WREN_BAD;
		sa.sa_family = nd->type;
		memcpy(sa.sa_data, mac, ETH_ALEN);
		rtnl_lock();
		rc = dev_set_mac_address(nd, &sa, NULL);
		ether_addr_copy(mac, nd->dev_addr);
		rtnl_unlock();
		pr_info("mac now=%pM\n", mac);
		return rc;
	}
	if (!strcmp(key, "sleep")) {
		if (kstrtouint(val, 10, &u) || u > WREN_SLEEP_MAX_MS)
			return WREN_BAD;
		msleep(u);
		return 0;
	}
	if (!strcmp(key, "dirty")) {
		if (strcmp(val, "on") && strcmp(val, "off"))
			return WREN_BAD;
		return wren_dirty(val);
	}
	return WREN_BAD;
}

static struct net_device *wren_wait_dev(void)
{
	unsigned int waited;
	struct net_device *nd;

	for (waited = 0; waited <= devwait * 1000; waited += WREN_DEV_POLL_MS) {
		nd = dev_get_by_name(&init_net, dev);
		if (nd) {
			if (READ_ONCE(nd->flags) & IFF_UP)
				return nd;	/* reference kept for good */
			dev_put(nd);
		}
		msleep(WREN_DEV_POLL_MS);
	}
	return NULL;
}

static int wren_main(void *unused)
{
	struct net_device *nd;
	char *buf, *cur, *step;
	unsigned int i = 0;
	s64 next_before;
	u8 mac[ETH_ALEN];
	int rc;

	nd = devwait ? wren_wait_dev() : NULL;
	if (nd) {
		rtnl_lock();
		ether_addr_copy(mac, nd->dev_addr);
		rtnl_unlock();
		pr_info("ready mac=%pM\n", mac);
	} else if (devwait) {
		pr_info("error dev=%s not found or not up after %u s\n", dev, devwait);
		return 0;
	} else {
		pr_info("ready nodev\n");
	}

	buf = kstrdup(steps ? steps : "", GFP_KERNEL);
	if (!buf) {
		pr_info("error out of memory\n");
		return 0;
	}
	cur = buf;
	while ((step = strsep(&cur, ",")) != NULL) {
		step = strim(step);
		if (!*step)
			continue;
		i++;
		next_before = atomic64_read(&wren_next_seen);
		pr_info("step %u %s\n", i, step);
		rc = wren_run_step(nd, step, next_before);
		if (rc == WREN_BAD)
			pr_info("step %u bad\n", i);
		else
			pr_info("step %u done rc=%d\n", i, rc);
	}
	kfree(buf);
	pr_info("steps complete\n");
	return 0;
}

static int __init wren_test_init(void)
{
	struct task_struct *t;

	dev_add_pack(&wren_probe_pt);
	t = kthread_run(wren_main, NULL, "wren_test");
	if (IS_ERR(t))
		pr_info("error cannot start kthread: %ld\n", PTR_ERR(t));
	return 0;
}
/* _sync: after IP autoconfig (late_initcall) has brought the device up. */
late_initcall_sync(wren_test_init);
