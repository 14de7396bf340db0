/* What a program learns of the machine's RAM: sysinfo(2), sysconf and /proc/meminfo, then
 * the free RAM again after it created and touched a 16 MiB GEM object (the model's frames). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include <i915_drm.h>

static void report(const char *when)
{
	struct sysinfo s;
	if (sysinfo(&s)) { printf("%s sysinfo errno %d\n", when, errno); return; }
	printf("%s total %llu free %llu unit %u swap %lu sharedram %lu\n", when,
	       (unsigned long long)s.totalram * s.mem_unit,
	       (unsigned long long)s.freeram * s.mem_unit, s.mem_unit, s.totalswap, s.sharedram);
}

int main(void)
{
	char line[128];
	report("start");
	printf("sysconf pages %ld\n", sysconf(_SC_PHYS_PAGES));
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "MemTotal:", 9) || !strncmp(line, "MemAvailable:", 13) ||
		    !strncmp(line, "SwapTotal:", 10))
			fputs(line, stdout);
	if (f) fclose(f);
	errno = 0;
	int bad = sysinfo((struct sysinfo *)8);
	printf("bad pointer %d errno %d\n", bad, errno);

	int fd = open("/dev/dri/card0", O_RDWR);
	struct drm_i915_gem_create c = { .size = 16 << 20 };
	if (fd < 0 || ioctl(fd, DRM_IOCTL_I915_GEM_CREATE, &c)) { printf("create failed\n"); return 1; }
	struct drm_i915_gem_mmap_offset mo = { .handle = c.handle, .flags = I915_MMAP_OFFSET_WB };
	if (ioctl(fd, DRM_IOCTL_I915_GEM_MMAP_OFFSET, &mo)) { printf("mmap_offset failed\n"); return 1; }
	char *p = mmap(0, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, mo.offset);
	if (p == MAP_FAILED) { printf("mmap failed\n"); return 1; }
	memset(p, 1, c.size);
	report("object");
	return 0;
}
