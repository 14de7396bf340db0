/*
 * A userptr client written like real userspace: libdrm's drmIoctl, the kernel's uapi headers.
 * It prints one "step=result" line per step (result: 0 or -errno) to the file named by argv[1];
 * tests/host_core/test_host_core.py runs it under `softgem run` and compares the lines with the
 * same scenario played in the simulated machine.  It exits without closing anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>

#define SZ (64 * 1024)
#define PG 4096

static FILE *out;

static int ret(int r) { return r ? -errno : 0; }

static int userptr(int fd, void *ptr, uint64_t size, uint32_t flags, uint32_t *handle)
{
	struct drm_i915_gem_userptr arg = { .user_ptr = (uintptr_t)ptr, .user_size = size,
					    .flags = flags };
	int r = ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_USERPTR, &arg));
	*handle = r ? 0 : arg.handle;
	return r;
}

static int set_domain(int fd, uint32_t handle)
{
	struct drm_i915_gem_set_domain arg = { .handle = handle,
					       .read_domains = I915_GEM_DOMAIN_CPU };
	return ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_SET_DOMAIN, &arg));
}

static void step(const char *name, int value) { fprintf(out, "%s=%d\n", name, value); }

int main(int argc, char **argv)
{
	uint32_t h_malloc, h_mmap, h_probe, h_ro, h_rw_on_ro, h;
	void *heap, *map, *ro;
	int fd, r;

	out = fopen(argv[1], "w");
	if (!out)
		return 2;
	setvbuf(out, NULL, _IOLBF, 0);
	fd = open("/dev/dri/card0", O_RDWR);
	step("open", fd >= 0 ? 0 : -errno);

	if (posix_memalign(&heap, PG, SZ))
		return 3;
	memset(heap, 1, SZ);
	step("create_malloc", userptr(fd, heap, SZ, 0, &h_malloc));
	step("validate_malloc", set_domain(fd, h_malloc));

	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	step("create_mmap", userptr(fd, map, SZ, 0, &h_mmap));
	step("validate_mmap", set_domain(fd, h_mmap));
	munmap((char *)map + PG, PG);
	step("validate_after_munmap", set_domain(fd, h_mmap));
	step("probe_over_hole", userptr(fd, map, SZ, I915_USERPTR_PROBE, &h));
	mmap((char *)map + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
	     -1, 0);
	step("validate_after_map_fixed", set_domain(fd, h_mmap));
	step("probe_mapped", userptr(fd, map, SZ, I915_USERPTR_PROBE, &h_probe));

	ro = mmap(NULL, SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	step("create_read_only", userptr(fd, ro, SZ, I915_USERPTR_READ_ONLY, &h_ro));
	step("validate_read_only", set_domain(fd, h_ro));
	step("create_rw_on_ro", userptr(fd, ro, SZ, 0, &h_rw_on_ro));
	step("validate_rw_on_ro", set_domain(fd, h_rw_on_ro));

	step("bad_flags", userptr(fd, map, SZ, 0x4, &h));
	step("unaligned", userptr(fd, (char *)map + 1, SZ, 0, &h));
	step("zero_size", userptr(fd, map, 0, 0, &h));
	step("unsynchronized", userptr(fd, map, SZ, I915_USERPTR_UNSYNCHRONIZED, &h));
	step("null_created", userptr(fd, NULL, SZ, 0, &h));
	step("null_validate", set_domain(fd, h));

	fflush(out);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child shares the drm file but not the address space */
		step("child_validate_parent_userptr", set_domain(fd, h_mmap));
		fflush(out);
		_exit(0);
	}
	waitpid(pid, &r, 0);
	step("parent_validate_after_fork", set_domain(fd, h_mmap));
	fclose(out);
	return 0; /* exit with every handle, mapping and userptr still open */
}
