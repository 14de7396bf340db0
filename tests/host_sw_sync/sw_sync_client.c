/*
 * The sw_sync timeline as IGT's lib/sw_sync.c and gem_wsim's fence steps use it: open debugfs
 * sync/sw_sync, make fences on it, gate an execbuf on one, advance the timeline.  One
 * "step=result" line per step (0 or -errno, or a 0/1 check) goes to the file named by
 * argv[1]; tests/host_sw_sync/test_host_sw_sync.py runs it under the supervisor and compares
 * the lines with sw_sync_scenario.py played in the simulated machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>
#include <linux/sync_file.h>

/* drivers/dma-buf/sw_sync.c has no uapi header: its structs, as IGT declares them */
struct create_fence { uint32_t value; char name[32]; int32_t fence; };
struct get_deadline { uint64_t deadline_ns; int32_t fence_fd; uint32_t pad; };
struct set_deadline { uint64_t deadline_ns; uint64_t pad; };	/* linux/sync_file.h, 6.5 */
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct create_fence)
#define SW_SYNC_IOC_INC _IOW('W', 1, uint32_t)
#define SW_SYNC_GET_DEADLINE _IOWR('W', 2, struct get_deadline)
#define SYNC_SET_DEADLINE _IOW('>', 5, struct set_deadline)

#define SW_SYNC "/sys/kernel/debug/sync/sw_sync"

static FILE *out;

static int ret(int r) { return r ? -errno : 0; }
static void step(const char *name, int value) { fprintf(out, "%s=%d\n", name, value); }

static int create(int tl, uint32_t value, const char *name, int *fence)
{
	struct create_fence c = { .value = value, .fence = -1 };
	if (name)
		strncpy(c.name, name, sizeof(c.name) - 1);
	int r = ret(ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &c));
	*fence = r ? -1 : c.fence;
	return r;
}

static int inc(int tl, uint32_t by) { return ret(ioctl(tl, SW_SYNC_IOC_INC, &by)); }

static int status(int fence)
{
	struct sync_file_info info = { 0 };
	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -1000 - errno;
	return info.status;
}

static int polled_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, ms);
	return n == 1 && (p.revents & POLLIN) ? 1 : (n < 0 ? -errno : 0);
}

static int polled(int fd) { return polled_within(fd, 0); }

static int deadline(int tl, int fence, uint64_t ns, uint32_t pad, uint64_t *got)
{
	struct get_deadline d = { .deadline_ns = ns, .fence_fd = fence, .pad = pad };
	int r = ret(ioctl(tl, SW_SYNC_GET_DEADLINE, &d));
	if (got)
		*got = d.deadline_ns;
	return r;
}

static int set_deadline(int fence, uint64_t ns, uint64_t pad)
{
	struct set_deadline d = { .deadline_ns = ns, .pad = pad };
	return ret(ioctl(fence, SYNC_SET_DEADLINE, &d));
}

static int gpu(int fd, uint32_t batch, int in_fence, int *out_fence)
{
	struct drm_i915_gem_exec_object2 obj = { .handle = batch };
	struct drm_i915_gem_execbuffer2 eb = {
		.buffers_ptr = (uintptr_t)&obj, .buffer_count = 1,
		.flags = I915_EXEC_FENCE_IN | I915_EXEC_FENCE_OUT, .rsvd2 = (uint32_t)in_fence,
	};
	int r = ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, &eb));
	*out_fence = r ? -1 : (int)(eb.rsvd2 >> 32);
	return r;
}

static int busy(int fd, uint32_t h)
{
	struct drm_i915_gem_busy b = { .handle = h };
	int r = ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_BUSY, &b));
	return r ? r : b.busy != 0;
}

static int gem_wait(int fd, uint32_t h)
{
	struct drm_i915_gem_wait w = { .bo_handle = h, .timeout_ns = 5000000000ll };
	return ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_WAIT, &w));
}

static int fence_names(int fence, const char *driver, const char *obj)
{
	struct sync_fence_info fi = { 0 };
	struct sync_file_info info = { .num_fences = 1, .sync_fence_info = (uintptr_t)&fi };
	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -errno;
	return strcmp(fi.driver_name, driver) == 0 && strcmp(fi.obj_name, obj) == 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* sync_fence_info's timestamp_ns: 0 while pending, the signal time on CLOCK_MONOTONIC after */
static int stamped_between(int fence, uint64_t lo, uint64_t hi)
{
	struct sync_fence_info fi = { 0 };
	struct sync_file_info info = { .num_fences = 1, .sync_fence_info = (uintptr_t)&fi };
	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -errno;
	return lo ? fi.timestamp_ns >= lo && fi.timestamp_ns <= hi : fi.timestamp_ns == 0;
}

/* the kernel names it "<driver>-<timeline><context>-<seqno>", whatever name was asked for */
static int file_name_is(int fence, const char *prefix, const char *suffix)
{
	struct sync_file_info info = { 0 };
	if (ioctl(fence, SYNC_IOC_FILE_INFO, &info))
		return -errno;
	size_t n = strlen(info.name), k = strlen(suffix);
	return strncmp(info.name, prefix, strlen(prefix)) == 0 && n >= k &&
	       strcmp(info.name + n - k, suffix) == 0;
}

int main(int argc, char **argv)
{
	static const uint32_t bbe[2] = { 0xA << 23, 0 };
	int tl, tl2, fd, f1, f1b, f0, fh, fw, fb, fo, fout, merged, r;
	uint64_t got = 0;
	uint32_t batch;

	out = fopen(argv[1], "w");
	step("host_access", ret(access(SW_SYNC, R_OK | W_OK)));
	tl = open(SW_SYNC, O_RDWR);
	step("open", tl >= 0 ? 0 : -errno);
	fd = open("/dev/dri/card0", O_RDWR);

	/* a pending point: its sync_file, names, poll */
	step("create_1", create(tl, 1, "one", &f1));
	step("pending_status", status(f1));
	step("pending_poll", polled(f1));
	step("generated_name", file_name_is(f1, "sw_sync-sw_sync_client", "-1"));
	step("driver_and_timeline", fence_names(f1, "sw_sync", "sw_sync_client"));
	step("create_1_unnamed", create(tl, 1, NULL, &f1b));
	step("unnamed_pending", status(f1b));

	/* an execbuf gated on it runs only once the timeline reaches 1 */
	struct drm_i915_gem_create c = { .size = 4096 };
	drmIoctl(fd, DRM_IOCTL_I915_GEM_CREATE, &c);
	batch = c.handle;
	struct drm_i915_gem_pwrite pw = { .handle = batch, .size = 8, .data_ptr = (uintptr_t)bbe };
	drmIoctl(fd, DRM_IOCTL_I915_GEM_PWRITE, &pw);
	step("execbuf_in_fence", gpu(fd, batch, f1, &fout));
	usleep(20000);
	step("busy_while_pending", busy(fd, batch));
	step("out_fence_pending", status(fout));
	step("pending_timestamp_0", stamped_between(f1, 0, 0));
	uint64_t t0 = now_ns();
	step("inc_1", inc(tl, 1));
	step("signal_timestamp", stamped_between(f1, t0, now_ns()));
	step("batch_done", gem_wait(fd, batch));
	step("signalled_status", status(f1));
	step("twin_signalled", status(f1b));
	step("out_fence_signalled", polled(fout) + (status(fout) == 1));

	/* a point the timeline already passed is born signalled */
	step("create_0", create(tl, 0, NULL, &f0));
	step("reached_status", status(f0));

	/* half the value space ahead counts as reached (32-bit wraparound comparison) */
	step("create_half_way", create(tl, 0x80000001u, NULL, &fh));
	step("half_way_status", status(fh));
	/* 2^32 - 16 steps (split at INT_MAX) take the timeline to 0xfffffff1; 5 is then ahead */
	step("inc_big", inc(tl, 0xfffffff0u));
	step("create_wrapped", create(tl, 5, "w", &fw));
	step("wrapped_pending", status(fw));
	step("inc_past_zero", inc(tl, 0x10));
	step("wrapped_still_pending", status(fw));
	step("inc_4", inc(tl, 4));
	step("wrapped_signalled", status(fw));

	/* deadlines: set on the sync_file, read back through the timeline */
	step("create_b", create(tl, 10, "b", &fb));
	step("deadline_unset", deadline(tl, fb, 0, 0, NULL));
	step("set_deadline_pad", set_deadline(fb, 5000, 1));
	step("set_deadline_5000", set_deadline(fb, 5000, 0));
	step("set_deadline_3000", set_deadline(fb, 3000, 0));
	step("set_deadline_9000", set_deadline(fb, 9000, 0));
	r = deadline(tl, fb, 0, 0, &got);
	step("deadline_earliest", r ? r : got == 3000);
	step("deadline_in_nonzero", deadline(tl, fb, 1, 0, NULL));
	step("deadline_pad", deadline(tl, fb, 0, 1, NULL));
	step("deadline_bad_fd", deadline(tl, -1, 0, 0, NULL));
	step("deadline_drm_fd", deadline(tl, fd, 0, 0, NULL));
	step("deadline_i915_fence", deadline(tl, fout, 0, 0, NULL));

	/* a merge with a signalled fence is the pending one itself; of two timelines, an array */
	struct sync_merge_data m = { .name = "m", .fd2 = fb };
	step("merge_with_signalled", ret(ioctl(fw, SYNC_IOC_MERGE, &m)));
	step("deadline_merge_of_one", deadline(tl, m.fence, 0, 0, NULL));
	close(m.fence);
	tl2 = open(SW_SYNC, O_RDWR);
	step("create_other", create(tl2, 1, NULL, &fo));
	struct sync_merge_data m2 = { .name = "m2", .fd2 = fo };
	step("merge_two_timelines", ret(ioctl(fb, SYNC_IOC_MERGE, &m2)));
	merged = m2.fence;
	step("deadline_merged", deadline(tl, merged, 0, 0, NULL));

	/* bad arguments and requests */
	step("create_efault", ret(ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, (void *)8)));
	step("inc_efault", ret(ioctl(tl, SW_SYNC_IOC_INC, (void *)8)));
	step("deadline_efault", ret(ioctl(tl, SW_SYNC_GET_DEADLINE, (void *)8)));
	step("unknown_ioctl", ret(ioctl(tl, _IO('W', 9), 0)));
	step("sync_ioctl_on_timeline", ret(ioctl(tl, SYNC_IOC_FILE_INFO, 0)));

	/* timelines are private to their open */
	step("inc_other", inc(tl2, 100));
	step("other_signalled", status(fo));
	step("other_untouched", status(fb));
	step("merged_pending", status(merged));
	close(tl2);

	/* closing the timeline signals what it has not reached with ENOENT */
	close(tl);
	step("closed_status", status(fb));
	step("closed_poll", polled(fb));
	step("merged_closed_status", status(merged));

	/* host only: a drm file closed while its batch waits on a fence does not hold up the
	 * timeline's INC (the simulated machine's close waits for the file's GPU work) */
	int tl3 = open(SW_SYNC, O_RDWR), fd3 = open("/dev/dri/card0", O_RDWR), g, gout;
	struct drm_i915_gem_create c3 = { .size = 4096 };
	drmIoctl(fd3, DRM_IOCTL_I915_GEM_CREATE, &c3);
	struct drm_i915_gem_pwrite pw3 = { .handle = c3.handle, .size = 8,
					   .data_ptr = (uintptr_t)bbe };
	drmIoctl(fd3, DRM_IOCTL_I915_GEM_PWRITE, &pw3);
	create(tl3, 1, NULL, &g);
	gpu(fd3, c3.handle, g, &gout);
	close(fd3);
	step("host_inc_after_drm_close", inc(tl3, 1));
	step("host_gated_batch_done", polled_within(gout, 5000));
	close(g); close(gout); close(tl3);

	close(f1); close(f1b); close(f0); close(fh); close(fw); close(fb); close(fo);
	close(fout); close(merged);
	close(fd);
	fclose(out);
	return 0;
}
