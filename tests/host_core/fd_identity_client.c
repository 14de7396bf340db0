/*
 * Which open file an ioctl reaches, and the GETPARAM copy order, under softgem run.
 * Each step prints name=value (0 or -errno, or a value read back).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>

static FILE *out;

static void step(const char *name, int value) { fprintf(out, "%s=%d\n", name, value); }

static int busy(int fd, uint32_t handle)
{
	struct drm_i915_gem_busy arg = { .handle = handle };
	return drmIoctl(fd, DRM_IOCTL_I915_GEM_BUSY, &arg) ? -errno : 0;
}

static int getparam(int fd, struct drm_i915_getparam *gp)
{
	/* plain ioctl: drmIoctl would retry nothing here, but keep the errno untouched */
	return ioctl(fd, DRM_IOCTL_I915_GETPARAM, gp) ? -errno : 0;
}

static int thread_fd;
static int thread_result;

static void *thread_busy(void *arg)
{
	thread_result = busy(thread_fd, 1);
	return arg;
}

int main(int argc, char **argv)
{
	struct drm_i915_gem_create create = { .size = 4096 };
	struct drm_i915_getparam *gp;
	pthread_t t;
	char *page;
	int a, b, value;

	out = fopen(argv[1], "w");
	if (!out)
		return 2;
	setvbuf(out, NULL, _IOLBF, 0);
	a = open("/dev/dri/card0", O_RDWR);
	b = open("/dev/dri/card0", O_RDWR);
	step("open_two", a >= 0 && b >= 0 && a != b ? 0 : -1);
	step("create_on_a", drmIoctl(a, DRM_IOCTL_I915_GEM_CREATE, &create) ? -errno : 0);
	step("handle", (int)create.handle);
	step("busy_a", busy(a, 1));
	step("busy_b", busy(b, 1));
	step("busy_a_again", busy(a, 1));

	thread_fd = a;
	pthread_create(&t, NULL, thread_busy, NULL);
	pthread_join(t, NULL);
	step("busy_a_other_thread", thread_result);

	int c = dup(a);
	step("busy_dup_of_a", busy(c, 1));
	close(c);
	step("busy_closed_dup", busy(c, 1));

	/* fd a now names b's open file; a's own file is released */
	dup2(b, a);
	step("busy_a_after_dup2", busy(a, 1));

	/* the number of a is reused by a file that is not a device */
	close(a);
	int n = open("/dev/null", O_RDONLY);
	step("null_got_same_number", n == a ? 0 : -1);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gp = (struct drm_i915_getparam *)page;
	gp->param = I915_PARAM_HAS_LLC;
	gp->value = &value;
	step("getparam_on_null", getparam(n, gp));

	/* GETPARAM copy order: put_user of the value, then copy_to_user of the struct */
	value = -1;
	step("getparam_ok", getparam(b, gp));
	step("getparam_value", value);
	value = -1;
	mprotect(page, 4096, PROT_READ);
	step("getparam_read_only_struct", getparam(b, gp));
	step("getparam_value_written_before_fault", value);
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
	gp->value = (int *)16; /* unmapped */
	step("getparam_bad_value", getparam(b, gp));
	fclose(out);
	return 0;
}
