/* Finds the GPU the way Mesa's loader and libdrm users do: drmGetDevices2 over /dev/dri,
 * then drmGetDevice2 on an opened fd, and prints what libdrm reports, one key=value a line.
 * Exits non-zero when a libdrm call fails (the failing call and its errno are printed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>

static const char *bus_name(int bus)
{
	switch (bus) {
	case DRM_BUS_PCI: return "pci";
	case DRM_BUS_USB: return "usb";
	case DRM_BUS_PLATFORM: return "platform";
	case DRM_BUS_HOST1X: return "host1x";
	default: return "unknown";
	}
}

static void print_device(const char *prefix, drmDevicePtr dev)
{
	printf("%s.bus=%s\n", prefix, bus_name(dev->bustype));
	if (dev->available_nodes & (1 << DRM_NODE_PRIMARY))
		printf("%s.primary=%s\n", prefix, dev->nodes[DRM_NODE_PRIMARY]);
	if (dev->available_nodes & (1 << DRM_NODE_RENDER))
		printf("%s.render=%s\n", prefix, dev->nodes[DRM_NODE_RENDER]);
	if (dev->bustype != DRM_BUS_PCI)
		return;
	printf("%s.slot=%04x:%02x:%02x.%u\n", prefix, dev->businfo.pci->domain,
	       dev->businfo.pci->bus, dev->businfo.pci->dev, dev->businfo.pci->func);
	printf("%s.vendor=0x%04x\n", prefix, dev->deviceinfo.pci->vendor_id);
	printf("%s.device=0x%04x\n", prefix, dev->deviceinfo.pci->device_id);
	printf("%s.subvendor=0x%04x\n", prefix, dev->deviceinfo.pci->subvendor_id);
	printf("%s.subdevice=0x%04x\n", prefix, dev->deviceinfo.pci->subdevice_id);
	printf("%s.revision=0x%02x\n", prefix, dev->deviceinfo.pci->revision_id);
}

int main(void)
{
	drmDevicePtr devs[8], dev;
	char *name;
	int n, fd, i, ret;

	n = drmGetDevices2(0, devs, 8);
	if (n < 0) {
		printf("drmGetDevices2=%d\n", n);
		return 1;
	}
	printf("count=%d\n", n);
	for (i = 0; i < n; i++) {
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "list%d", i);
		print_device(prefix, devs[i]);
	}
	drmFreeDevices(devs, n);

	fd = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("open=%d\n", -errno);
		return 1;
	}
	ret = drmGetDevice2(fd, 0, &dev);
	if (ret) {
		printf("drmGetDevice2=%d\n", ret);
		return 1;
	}
	print_device("fd", dev);
	drmFreeDevice(&dev);
	/* the revision is read (from sysfs "revision" or "config") only when asked for */
	ret = drmGetDevice2(fd, DRM_DEVICE_GET_PCI_REVISION, &dev);
	if (ret) {
		printf("drmGetDevice2(revision)=%d\n", ret);
		return 1;
	}
	printf("asked.revision=0x%02x\n", dev->deviceinfo.pci->revision_id);
	drmFreeDevice(&dev);

	name = drmGetDeviceNameFromFd2(fd);
	printf("fd.name=%s\n", name ? name : "(null)");
	free(name);
	name = drmGetPrimaryDeviceNameFromFd(fd);
	printf("fd.primary_name=%s\n", name ? name : "(null)");
	free(name);
	close(fd);
	return 0;
}
