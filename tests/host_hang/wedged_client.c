/* A forced GPU reset through debugfs i915_wedged, as IGT's hang-user does it: a spinning
 * batch writes a busy userptr; "-1" written to i915_wedged resets the GPU; the spinner's
 * out-fence then reports -EIO at once, the file reads back 0, and the context still works. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <i915_drm.h>

struct sync_file_info { char name[32]; int32_t status; uint32_t flags; uint32_t num_fences;
			uint32_t pad; uint64_t sync_fence_info; };
#define SYNC_IOC_FILE_INFO _IOWR('>', 4, struct sync_file_info)

#define MI_ARB_CHECK (0x05u << 23)
#define MI_BATCH_BUFFER_START (0x31u << 23 | 1u << 8 | 1u)
#define MI_BATCH_BUFFER_END (0x0Au << 23)
#define BATCH_ADDR 0x4000000ull

static int ioc(int fd, unsigned long req, void *arg) { return ioctl(fd, req, arg) ? -errno : 0; }

static int busy(int fd, uint32_t h)
{
	struct drm_i915_gem_busy b = { .handle = h };
	return ioc(fd, DRM_IOCTL_I915_GEM_BUSY, &b) ? -1 : b.busy != 0;
}

static int fence_status(int fence)
{
	struct sync_file_info info = { 0 };
	return ioctl(fence, SYNC_IOC_FILE_INFO, &info) ? -1000 - errno : info.status;
}

static int submit(int fd, struct drm_i915_gem_exec_object2 *obj, int n, int *fence)
{
	struct drm_i915_gem_execbuffer2 eb = { .buffers_ptr = (uintptr_t)obj, .buffer_count = n,
					       .flags = I915_EXEC_RENDER };
	if (fence)
		eb.flags |= I915_EXEC_FENCE_OUT;
	int err = ioc(fd, DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, &eb);
	if (!err && fence)
		*fence = (int)(eb.rsvd2 >> 32);
	return err;
}

int main(void)
{
	int fd = open("/dev/dri/card0", O_RDWR);
	struct drm_i915_gem_create c = { .size = 4096 };
	if (fd < 0 || ioc(fd, DRM_IOCTL_I915_GEM_CREATE, &c)) { puts("no device"); return 1; }
	uint32_t loop[4] = { MI_ARB_CHECK, MI_BATCH_BUFFER_START, (uint32_t)BATCH_ADDR, 0 };
	struct drm_i915_gem_pwrite pw = { .handle = c.handle, .size = sizeof(loop),
					  .data_ptr = (uintptr_t)loop };
	ioc(fd, DRM_IOCTL_I915_GEM_PWRITE, &pw);

	void *mem;
	if (posix_memalign(&mem, 4096, 2 << 20)) return 1;
	memset(mem, 0, 2 << 20);
	struct drm_i915_gem_userptr up = { .user_ptr = (uintptr_t)mem, .user_size = 2 << 20 };
	printf("userptr %d\n", ioc(fd, DRM_IOCTL_I915_GEM_USERPTR, &up));

	struct drm_i915_gem_exec_object2 obj[2] = {
		{ .handle = up.handle, .flags = EXEC_OBJECT_WRITE },
		{ .handle = c.handle, .offset = BATCH_ADDR,
		  .flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS },
	};
	int fence = -1;
	printf("spin %d\n", submit(fd, obj, 2, &fence));
	*(volatile uint32_t *)mem = 0xdeadbeef;          /* the CPU touches the busy userptr */
	printf("busy %d %d\n", busy(fd, c.handle), busy(fd, up.handle));
	printf("fence before %d\n", fence_status(fence));

	int w = open("/sys/kernel/debug/dri/0/i915_wedged", O_WRONLY);
	printf("write %d\n", w >= 0 && write(w, "-1", 2) == 2);
	close(w);
	char back[32] = { 0 };
	int r = open("/sys/kernel/debug/dri/0/i915_wedged", O_RDONLY);
	printf("read back %d %s", (int)read(r, back, sizeof(back) - 1), back);
	close(r);

	printf("fence after %d\n", fence_status(fence));
	munmap(mem, 2 << 20);
	struct drm_gem_close gc = { .handle = up.handle };
	ioc(fd, DRM_IOCTL_GEM_CLOSE, &gc);
	struct drm_i915_gem_wait wait = { .bo_handle = c.handle, .timeout_ns = -1 };
	printf("wait %d\n", ioc(fd, DRM_IOCTL_I915_GEM_WAIT, &wait));
	printf("busy after %d\n", busy(fd, c.handle));

	uint32_t end[2] = { MI_BATCH_BUFFER_END, 0 };
	pw.data_ptr = (uintptr_t)end;
	pw.size = sizeof(end);
	ioc(fd, DRM_IOCTL_I915_GEM_PWRITE, &pw);
	int again = -1;
	printf("again %d\n", submit(fd, &obj[1], 1, &again));
	struct pollfd p = { .fd = again, .events = POLLIN };
	poll(&p, 1, 5000);
	printf("again status %d\n", fence_status(again));
	return 0;
}
