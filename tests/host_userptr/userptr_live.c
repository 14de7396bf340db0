/* userptr as a live view, the notifier window and write-only pins, driven through libdrm.
 *
 * Usage: userptr_live OUTFILE [ITERATIONS]
 * Writes "name=value" lines; userptr_live_scenario.py plays the same steps in the simulated
 * machine and the test compares both.  Values are 0 / -errno / small counts, never addresses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>

#define PG 4096
#define SZ (16 * PG)
#define MI_STORE_DWORD_IMM_GEN4 ((0x20 << 23) | 2)
#define MI_BATCH_BUFFER_END (0x0A << 23)
#define XY_SRC_COPY_BLT_CMD ((2 << 29) | (0x53 << 22))
#define BLT_WRITE_RGBA ((1 << 21) | (1 << 20))

static FILE *out;
static int fd;

static void step(const char *name, long value) { fprintf(out, "%s=%ld\n", name, value); }

static int ioc(unsigned long req, void *arg) { return drmIoctl(fd, req, arg) ? -errno : 0; }

static int userptr(void *ptr, uint64_t size, uint32_t flags, uint32_t *handle)
{
	struct drm_i915_gem_userptr arg = { .user_ptr = (uintptr_t)ptr, .user_size = size,
					    .flags = flags };
	int err = ioc(DRM_IOCTL_I915_GEM_USERPTR, &arg);
	*handle = err ? 0 : arg.handle;
	return err;
}

static int set_domain(uint32_t handle)
{
	struct drm_i915_gem_set_domain arg = { .handle = handle,
					       .read_domains = I915_GEM_DOMAIN_CPU };
	return ioc(DRM_IOCTL_I915_GEM_SET_DOMAIN, &arg);
}

static void gem_close(uint32_t handle)
{
	struct drm_gem_close arg = { .handle = handle };
	ioc(DRM_IOCTL_GEM_CLOSE, &arg);
}

static uint32_t batch(const uint32_t *words, int n)
{
	struct drm_i915_gem_create create = { .size = PG };
	ioc(DRM_IOCTL_I915_GEM_CREATE, &create);
	struct drm_i915_gem_pwrite pw = { .handle = create.handle, .size = 4 * n,
					  .data_ptr = (uintptr_t)words };
	ioc(DRM_IOCTL_I915_GEM_PWRITE, &pw);
	return create.handle;
}

/* Softpinned objects: handles[i] at base + 1 MiB * i; the last one is the batch. */
static int exec_at(const uint32_t *handles, int n, uint64_t ring, uint64_t base)
{
	struct drm_i915_gem_exec_object2 obj[4];
	memset(obj, 0, sizeof(obj));
	for (int i = 0; i < n; i++) {
		obj[i].handle = handles[i];
		obj[i].offset = base + ((uint64_t)i << 20);
		obj[i].flags = EXEC_OBJECT_PINNED | (i < n - 1 ? EXEC_OBJECT_WRITE : 0);
	}
	struct drm_i915_gem_execbuffer2 eb = { .buffers_ptr = (uintptr_t)obj, .buffer_count = n,
					       .flags = ring };
	int err;
	do
		err = ioc(DRM_IOCTL_I915_GEM_EXECBUFFER2, &eb);
	while (err == -EAGAIN);
	return err;
}

static int exec(const uint32_t *handles, int n, uint64_t ring)
{
	return exec_at(handles, n, ring, 1 << 20);
}

static int gem_wait(uint32_t handle)
{
	struct drm_i915_gem_wait arg = { .bo_handle = handle, .timeout_ns = -1 };
	return ioc(DRM_IOCTL_I915_GEM_WAIT, &arg);
}

static void *anon(size_t size, int prot)
{
	return mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* 1. MI_STORE_DWORD into a userptr, GEM_WAIT: the program reads the value. */
static void gpu_store_is_seen(void)
{
	uint32_t *buf = anon(SZ, PROT_READ | PROT_WRITE), h;
	memset(buf, 0x11, SZ);
	step("store_create", userptr(buf, SZ, 0, &h));
	uint64_t target = (1 << 20) + 5 * PG + 8;
	uint32_t words[] = { MI_STORE_DWORD_IMM_GEN4, (uint32_t)target, 0, 0xdeadbeef,
			     MI_BATCH_BUFFER_END, 0 };
	uint32_t handles[] = { h, batch(words, 6) };
	step("store_exec", exec(handles, 2, I915_EXEC_RENDER));
	step("store_wait", gem_wait(h));
	step("store_seen", buf[(5 * PG + 8) / 4] == 0xdeadbeef);
	step("store_neighbour_kept", buf[(5 * PG + 4) / 4] == 0x11111111);
	/* CPU write after a validation, then a second store elsewhere: both are there. */
	buf[7] = 0x7777;
	step("store_again_exec", exec(handles, 2, I915_EXEC_RENDER));
	step("store_again_wait", gem_wait(h));
	step("store_cpu_write_kept", buf[7] == 0x7777);
	gem_close(handles[1]);
	gem_close(h);
	munmap(buf, SZ);
}

/* 2. CPU writes after validation, then a blit from the userptr: the GPU sees them. */
static void blit_sees_cpu_writes(void)
{
	uint32_t *src = anon(SZ, PROT_READ | PROT_WRITE), *dst = anon(SZ, PROT_READ | PROT_WRITE);
	uint32_t hs, hd;
	userptr(src, SZ, 0, &hs);
	userptr(dst, SZ, 0, &hd);
	step("blit_validate", set_domain(hs) | set_domain(hd));
	for (int i = 0; i < SZ / 4; i++)
		src[i] = 0xa0000000u + i;           /* after the pin */
	uint32_t words[] = { XY_SRC_COPY_BLT_CMD | BLT_WRITE_RGBA | 8,
			     (3 << 24) | (0xCC << 16) | PG, 0, ((SZ / PG) << 16) | (PG / 4),
			     2 << 20, 0, 0, PG, 1 << 20, 0, MI_BATCH_BUFFER_END, 0 };
	uint32_t handles[] = { hs, hd, batch(words, 12) };
	step("blit_exec", exec(handles, 3, I915_EXEC_BLT));
	step("blit_wait", gem_wait(hd));
	step("blit_equal", memcmp(src, dst, SZ) == 0);
	gem_close(handles[2]);
	gem_close(hs);
	gem_close(hd);
	munmap(src, SZ);
	munmap(dst, SZ);
}

/* 3. Validation on one thread racing munmap (or mprotect PROT_NONE) on another. */
struct race {
	uint32_t handle;
	atomic_int unmapped, stop;
	long valid_after, efault_after, ran;
};

static void *validator(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		int seen = atomic_load(&r->unmapped);
		int err = set_domain(r->handle);
		r->ran++;
		if (seen) {   /* munmap had returned before this validation began */
			if (err == 0)
				r->valid_after++;
			else if (err == -EFAULT)
				r->efault_after++;
			atomic_store(&r->stop, 1);
		}
	}
	return NULL;
}

static void race_validation_against_munmap(int iterations)
{
	long violations = 0, efaults = 0;
	for (int i = 0; i < iterations; i++) {
		void *m = anon(SZ, PROT_READ | PROT_WRITE);
		memset(m, 1, SZ);
		struct race r = { 0 };
		userptr(m, SZ, 0, &r.handle);
		pthread_t t;
		pthread_create(&t, NULL, validator, &r);
		for (volatile int spin = 0; spin < (i % 7) * 1000; spin++)
			;
		if (i & 1)   /* odd rounds: mprotect(PROT_NONE), which the pin refuses as well */
			mprotect((char *)m + (i % 16) * PG, PG, PROT_NONE);
		else
			munmap((char *)m + (i % 16) * PG, PG);
		atomic_store(&r.unmapped, 1);
		pthread_join(t, NULL);
		violations += r.valid_after;
		efaults += r.efault_after;
		gem_close(r.handle);
		munmap(m, SZ);
	}
	step("race_valid_after_munmap", violations);
	step("race_efault_after_munmap", efaults == iterations);
}

/* 4. Write-only memory pins (FOLL_WRITE needs VM_WRITE only); read-only userptr does not. */
static void write_only_pins(void)
{
	uint32_t *w = anon(SZ, PROT_WRITE), h, hro;
	step("wo_create", userptr(w, SZ, 0, &h));
	step("wo_validate", set_domain(h));
	step("wo_read_only_create", userptr(w, SZ, I915_USERPTR_READ_ONLY, &hro));
	step("wo_read_only_validate", set_domain(hro));
	uint64_t target = (1 << 20) + 3 * PG;
	uint32_t words[] = { MI_STORE_DWORD_IMM_GEN4, (uint32_t)target, 0, 0x5eed,
			     MI_BATCH_BUFFER_END, 0 };
	uint32_t handles[] = { h, batch(words, 6) };
	step("wo_exec", exec(handles, 2, I915_EXEC_RENDER));
	step("wo_wait", gem_wait(h));
	/* The kernel's copy_from_user reads a page the program may only write (x86 PTEs). */
	w[8 * PG / 4] = 0xfeedf00d;
	struct drm_i915_gem_create cr = { .size = PG };
	ioc(DRM_IOCTL_I915_GEM_CREATE, &cr);
	struct drm_i915_gem_pwrite pw = { .handle = cr.handle, .size = 4,
					  .data_ptr = (uintptr_t)&w[8 * PG / 4] };
	step("wo_pwrite_from", ioc(DRM_IOCTL_I915_GEM_PWRITE, &pw));
	uint32_t back = 0;
	struct drm_i915_gem_pread pr = { .handle = cr.handle, .size = 4,
					 .data_ptr = (uintptr_t)&back };
	ioc(DRM_IOCTL_I915_GEM_PREAD, &pr);
	step("wo_pwrite_seen", back == 0xfeedf00d);
	gem_close(cr.handle);
	mprotect(w, SZ, PROT_READ | PROT_WRITE);
	step("wo_store_seen", w[3 * PG / 4] == 0x5eed);
	gem_close(handles[1]);
	gem_close(h);
	gem_close(hro);
	munmap(w, SZ);
}

/* 5. A userfaultfd-registered range: the pin waits for the program's fault handler. */
struct uffd_ctx {
	int uffd;
	long served;
};

static void *fault_handler(void *arg)
{
	struct uffd_ctx *c = arg;
	static char page[PG] __attribute__((aligned(PG)));
	for (;;) {
		struct pollfd p = { .fd = c->uffd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0)
			return NULL;
		struct uffd_msg msg;
		if (read(c->uffd, &msg, sizeof(msg)) != sizeof(msg))
			return NULL;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		memset(page, 0x42, PG);
		struct uffdio_copy copy = { .dst = msg.arg.pagefault.address & ~(uint64_t)(PG - 1),
					    .src = (uintptr_t)page, .len = PG };
		ioctl(c->uffd, UFFDIO_COPY, &copy);
		if (++c->served == SZ / PG)
			return NULL;
	}
}

/* prefix "uffd" over read-write memory; "uffd_wo" over PROT_WRITE-only memory, where the
 * pin (FOLL_WRITE) must wait for the handler too */
static void userfaultfd_pin_waits(const char *prefix, int prot)
{
	char name[64];
#define STEP(what, v) (snprintf(name, sizeof name, "%s_%s", prefix, what), step(name, v))
	struct uffd_ctx c = { .uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC) };
	if (c.uffd < 0) {
		STEP("available", -errno);
		return;
	}
	STEP("available", 0);
	struct uffdio_api api = { .api = UFFD_API };
	ioctl(c.uffd, UFFDIO_API, &api);
	char *m = anon(SZ, prot);
	struct uffdio_register reg = { .range = { .start = (uintptr_t)m, .len = SZ },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	STEP("register", ioctl(c.uffd, UFFDIO_REGISTER, &reg) ? -errno : 0);
	pthread_t t;
	pthread_create(&t, NULL, fault_handler, &c);
	uint32_t h;
	STEP("create", userptr(m, SZ, 0, &h));
	STEP("validate", set_domain(h));
	pthread_join(t, NULL);
	STEP("all_served", c.served == SZ / PG);
	mprotect(m, SZ, PROT_READ | PROT_WRITE);
	STEP("contents", m[5 * PG + 9] == 0x42);
#undef STEP
	gem_close(h);
	munmap(m, SZ);
	close(c.uffd);
}

/* 6. GPU work pending when the program unmaps its source: the work uses the pages it
 * pinned, with what the program wrote into them before the munmap. */
static void pending_work_keeps_unmapped_pages(void)
{
	uint32_t *src = anon(SZ, PROT_READ | PROT_WRITE), *dst = anon(SZ, PROT_READ | PROT_WRITE);
	uint32_t hs, hd, expect = 0;
	for (int i = 0; i < SZ / 4; i++)
		src[i] = 0xc0000000u + i;
	userptr(src, SZ, 0, &hs);
	userptr(dst, SZ, 0, &hd);
	/* a spinner (jumps to itself until hang recovery) holds the blitter's timeline */
	uint32_t spin[] = { 0x18800001 | 0x100, 16 << 20, 0, MI_BATCH_BUFFER_END };
	uint32_t spinner = batch(spin, 4);
	step("pending_spinner_exec", exec_at(&spinner, 1, I915_EXEC_BLT, 16 << 20));
	uint32_t words[] = { XY_SRC_COPY_BLT_CMD | BLT_WRITE_RGBA | 8,
			     (3 << 24) | (0xCC << 16) | PG, 0, ((SZ / PG) << 16) | (PG / 4),
			     2 << 20, 0, 0, PG, 1 << 20, 0, MI_BATCH_BUFFER_END, 0 };
	uint32_t handles[] = { hs, hd, batch(words, 12) };
	step("pending_blit_exec", exec(handles, 3, I915_EXEC_BLT));   /* pins the source */
	for (int i = 0; i < SZ / 4; i++)
		src[i] = 0xd0000000u + i;       /* written into the pinned pages */
	munmap(src, SZ);                 /* while the blit waits behind the spinner */
	step("pending_blit_wait", gem_wait(hd));
	for (int i = 0; i < SZ / 4; i++)
		expect |= dst[i] ^ (0xd0000000u + i);
	step("pending_dst_has_last_src", expect == 0);
	step("pending_validate_after", set_domain(hs));
	gem_close(handles[2]);
	gem_close(spinner);
	gem_close(hs);
	gem_close(hd);
	munmap(dst, SZ);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int iterations = argc > 2 ? atoi(argv[2]) : 200;
	out = fopen(argv[1], "w");
	fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (!out || fd < 0)
		return 1;
	gpu_store_is_seen();
	blit_sees_cpu_writes();
	race_validation_against_munmap(iterations);
	write_only_pins();
	userfaultfd_pin_waits("uffd", PROT_READ | PROT_WRITE);
	userfaultfd_pin_waits("uffd_wo", PROT_WRITE);
	pending_work_keeps_unmapped_pages();
	fclose(out);
	return 0;
}
