/* CPU mappings of GEM objects, as a real program makes them: each line is "name: result",
 * where result is "ok", a value, or -ERRNO.  Run under `softgem run`; the test compares the
 * lines with what the kernel answers (semantics.md section 7). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>

static sigjmp_buf jump;
static volatile int last_signal;

static void on_signal(int sig) { last_signal = sig; siglongjmp(jump, 1); }

static int ioc(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);
	return ret ? -errno : 0;
}

static uint32_t create(int fd, uint64_t size)
{
	struct drm_i915_gem_create c = { .size = size };
	if (ioc(fd, DRM_IOCTL_I915_GEM_CREATE, &c)) { perror("create"); exit(2); }
	return c.handle;
}

static int64_t offset_of(int fd, uint32_t handle, uint32_t type)
{
	struct drm_i915_gem_mmap_offset arg = { .handle = handle, .flags = type };
	int ret = ioc(fd, DRM_IOCTL_I915_GEM_MMAP_OFFSET, &arg);
	return ret ? ret : (int64_t)arg.offset;
}

static void *map(int fd, uint64_t off, size_t len, int prot, long *err)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);
	*err = p == MAP_FAILED ? -errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

static const char *touch(volatile uint8_t *p, int write)
{
	static char buf[32];
	last_signal = 0;
	if (sigsetjmp(jump, 1) == 0) {
		if (write)
			p[0] = 1;
		else
			(void)p[0];
		return "ok";
	}
	snprintf(buf, sizeof buf, "%s", last_signal == SIGBUS ? "SIGBUS" : "SIGSEGV");
	return buf;
}

static int pread_obj(int fd, uint32_t h, uint64_t off, void *dst, uint64_t n)
{
	struct drm_i915_gem_pread a = { .handle = h, .offset = off, .size = n,
					.data_ptr = (uintptr_t)dst };
	return ioc(fd, DRM_IOCTL_I915_GEM_PREAD, &a);
}

static int pwrite_obj(int fd, uint32_t h, uint64_t off, const void *src, uint64_t n)
{
	struct drm_i915_gem_pwrite a = { .handle = h, .offset = off, .size = n,
					 .data_ptr = (uintptr_t)src };
	return ioc(fd, DRM_IOCTL_I915_GEM_PWRITE, &a);
}

static int set_domain(int fd, uint32_t h)
{
	struct drm_i915_gem_set_domain a = { .handle = h, .read_domains = I915_GEM_DOMAIN_CPU,
					     .write_domain = I915_GEM_DOMAIN_CPU };
	return ioc(fd, DRM_IOCTL_I915_GEM_SET_DOMAIN, &a);
}

static int userptr_over(int fd, void *p, uint64_t size, uint32_t *handle)
{
	struct drm_i915_gem_userptr u = { .user_ptr = (uintptr_t)p, .user_size = size };
	int ret = ioc(fd, DRM_IOCTL_I915_GEM_USERPTR, &u);
	*handle = u.handle;
	return ret;
}

static void gem_close(int fd, uint32_t h)
{
	struct drm_gem_close c = { .handle = h };
	ioc(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

int main(void)
{
	const size_t size = 64 << 10;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	int fd = open("/dev/dri/card0", O_RDWR);
	int other = open("/dev/dri/card0", O_RDWR);
	if (fd < 0 || other < 0) { perror("open"); return 2; }
	long err;
	uint8_t buf[256];

	/* WB mapping: coherent with pread/pwrite both ways */
	uint32_t h = create(fd, size);
	int64_t off = offset_of(fd, h, I915_MMAP_OFFSET_WB);
	uint8_t *p = map(fd, off, size, PROT_READ | PROT_WRITE, &err);
	printf("wb-map: %ld\n", err);
	if (!p) return 1;
	for (size_t i = 0; i < size; i++) p[i] = (uint8_t)(i * 7);
	pread_obj(fd, h, 4096, buf, sizeof buf);
	int same = 1;
	for (int i = 0; i < 256; i++) same &= buf[i] == (uint8_t)((4096 + i) * 7);
	printf("wb-write-then-pread: %s\n", same ? "ok" : "differs");
	memset(buf, 0xab, sizeof buf);
	pwrite_obj(fd, h, 8192, buf, sizeof buf);
	printf("pwrite-then-wb-read: %s\n", p[8192] == 0xab && p[8192 + 255] == 0xab ? "ok" : "differs");

	/* the GPU: a batch written through a WB mapping stores a dword into the object, which
	 * the CPU mapping then shows (both objects softpinned: no relocations) */
	uint32_t bh = create(fd, 4096);
	int64_t boff = offset_of(fd, bh, I915_MMAP_OFFSET_WB);
	uint32_t *bp = map(fd, boff, 4096, PROT_READ | PROT_WRITE, &err);
	if (bp) {
		uint64_t target = 0x100000 + 12288;
		bp[0] = 0x10000002;             /* MI_STORE_DWORD_IMM, 64-bit address */
		bp[1] = (uint32_t)target;
		bp[2] = (uint32_t)(target >> 32);
		bp[3] = 0xc0ffee;
		bp[4] = 0x05000000;             /* MI_BATCH_BUFFER_END */
		struct drm_i915_gem_exec_object2 eo[2] = {
			{ .handle = h, .offset = 0x100000,
			  .flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_WRITE },
			{ .handle = bh, .offset = 0x200000, .flags = EXEC_OBJECT_PINNED },
		};
		struct drm_i915_gem_execbuffer2 eb = { .buffers_ptr = (uintptr_t)eo,
						       .buffer_count = 2,
						       .flags = I915_EXEC_RENDER };
		int ret = ioc(fd, DRM_IOCTL_I915_GEM_EXECBUFFER2, &eb);
		struct drm_i915_gem_wait w = { .bo_handle = h, .timeout_ns = -1 };
		int wret = ret ? ret : ioc(fd, DRM_IOCTL_I915_GEM_WAIT, &w);
		printf("gpu-store-seen-by-wb: %d %d %s\n", ret, wret,
		       ((uint32_t *)p)[12288 / 4] == 0xc0ffee ? "ok" : "differs");
		munmap(bp, 4096);
	}
	gem_close(fd, bh);

	/* the node checks of i915_gem_mmap and do_mmap */
	map(fd, off + size, 4096, PROT_READ, &err);
	printf("no-node: %ld\n", err);
	map(fd, off, size + 4096, PROT_READ, &err);
	printf("past-node: %ld\n", err);
	map(other, off, size, PROT_READ, &err);
	printf("other-file: %ld\n", err);
	map(fd, off, 0, PROT_READ, &err);
	printf("zero-length: %ld\n", err);
	map(fd, off + 1, 4096, PROT_READ, &err);
	printf("unaligned-offset: %ld\n", err);
	uint8_t *part = map(fd, off, 4096, PROT_READ, &err);
	printf("prefix-of-node: %ld %s\n", err, part && part[1] == 7 ? "same" : "differs");

	/* the other mmap types */
	int64_t woff = offset_of(fd, h, I915_MMAP_OFFSET_WC);
	uint8_t *wc = map(fd, woff, size, PROT_READ | PROT_WRITE, &err);
	printf("wc-map: %ld %s\n", err, wc && wc[3] == 21 ? "same" : "differs");
	struct drm_i915_gem_mmap_gtt g = { .handle = h };
	int ret = ioc(fd, DRM_IOCTL_I915_GEM_MMAP_GTT, &g);
	uint8_t *gtt = ret ? NULL : map(fd, g.offset, size, PROT_READ | PROT_WRITE, &err);
	printf("gtt-map: %d %ld %s\n", ret, err, gtt && gtt[5] == 35 ? "same" : "differs");

	/* a userptr over a GEM mapping cannot be pinned */
	uint32_t u;
	ret = userptr_over(fd, p, size, &u);
	printf("userptr-over-mmap-offset: %d %d\n", ret, ret ? 0 : set_domain(fd, u));
	if (!ret) gem_close(fd, u);

	/* legacy GEM_MMAP: checks, then a shmem mapping gup may pin */
	struct drm_i915_gem_mmap lm = { .handle = h, .size = 0 };
	printf("legacy-zero-size: %d\n", ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm));
	lm = (struct drm_i915_gem_mmap){ .handle = h, .size = size, .flags = 2 };
	printf("legacy-bad-flags: %d\n", ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm));
	lm = (struct drm_i915_gem_mmap){ .handle = h, .offset = 4096, .size = size };
	printf("legacy-overflow: %d\n", ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm));
	lm = (struct drm_i915_gem_mmap){ .handle = 999, .size = size };
	printf("legacy-bad-handle: %d\n", ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm));
	lm = (struct drm_i915_gem_mmap){ .handle = h, .size = size };
	ret = ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm);
	uint8_t *legacy = (uint8_t *)(uintptr_t)lm.addr_ptr;
	printf("legacy-map: %d %s\n", ret, !ret && legacy[9] == 63 ? "same" : "differs");
	if (!ret) {
		legacy[10] = 0x5a;
		printf("legacy-write-seen-by-wb: %s\n", p[10] == 0x5a ? "ok" : "differs");
		ret = userptr_over(fd, legacy, size, &u);
		printf("userptr-over-legacy: %d %d\n", ret, ret ? 0 : set_domain(fd, u));
		if (!ret) gem_close(fd, u);
	}
	lm = (struct drm_i915_gem_mmap){ .handle = h, .size = size, .flags = I915_MMAP_WC };
	ret = ioc(fd, DRM_IOCTL_I915_GEM_MMAP, &lm);
	printf("legacy-wc: %d\n", ret);

	/* a dma-buf fd maps its object's shmem file, at object offsets */
	uint32_t xh = create(fd, 8192);
	struct drm_prime_handle xp = { .handle = xh, .flags = DRM_CLOEXEC | DRM_RDWR };
	ret = ioc(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &xp);
	uint8_t *xm = ret ? NULL : map(xp.fd, 0, 8192, PROT_READ | PROT_WRITE, &err);
	if (xm) {
		memset(xm, 0x42, 8192);
		pread_obj(fd, xh, 100, buf, 4);
	}
	printf("dmabuf-map: %d %ld %s\n", ret, err, xm && buf[0] == 0x42 ? "same" : "differs");
	map(xp.fd, 4096, 8192, PROT_READ, &err);
	printf("dmabuf-past-end: %ld\n", err);
	ret = xm ? userptr_over(fd, xm, 8192, &u) : -1;
	printf("userptr-over-dmabuf-map: %d %d\n", ret, ret ? 0 : set_domain(fd, u));
	if (!ret) gem_close(fd, u);
	uint32_t yh = create(fd, 8192);
	struct drm_prime_handle yp = { .handle = yh, .flags = DRM_CLOEXEC };
	ioc(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &yp);
	map(yp.fd, 0, 8192, PROT_READ | PROT_WRITE, &err);
	printf("dmabuf-rdonly-write: %ld\n", err);
	if (xm) munmap(xm, 8192);
	close(xp.fd);
	close(yp.fd);
	gem_close(fd, xh);
	gem_close(fd, yh);

	/* a device opened O_RDONLY: no FMODE_WRITE for do_mmap */
	int ro = open("/dev/dri/card0", O_RDONLY);
	uint32_t rh = create(ro, size);
	int64_t roff = offset_of(ro, rh, I915_MMAP_OFFSET_WB);
	map(ro, roff, size, PROT_READ | PROT_WRITE, &err);
	printf("rdonly-shared-write: %ld\n", err);
	void *rp = map(ro, roff, size, PROT_READ, &err);
	printf("rdonly-shared-read: %ld\n", err);
	printf("rdonly-mprotect-write: %d\n",
	       rp && mprotect(rp, size, PROT_READ | PROT_WRITE) ? -errno : 0);
	close(ro);

	/* mappings outlive GEM_CLOSE and close(fd) */
	gem_close(fd, h);
	close(fd);
	printf("after-close-read: %s %s\n", touch(p, 0), p[1] == 7 ? "same" : "differs");
	printf("after-close-write: %s\n", touch(p, 1));

	/* a purged object: every access is SIGBUS */
	uint32_t d = create(other, size);
	struct drm_i915_gem_madvise mad = { .handle = d, .madv = I915_MADV_DONTNEED };
	ret = ioc(other, DRM_IOCTL_I915_GEM_MADVISE, &mad);
	int64_t doff = offset_of(other, d, I915_MMAP_OFFSET_WB);
	uint8_t *dp = map(other, doff, size, PROT_READ, &err);
	printf("purged-map: %d %ld\n", ret, err);
	printf("purged-read: %s\n", dp ? touch(dp, 0) : "unmapped");
	return 0;
}
