/*
 * PRIME, sync_file and syncobj fds as real userspace uses them: libdrm's drmIoctl and the
 * kernel's uapi headers.  One "step=result" line per step (0 or -errno, or a 0/1 check) goes
 * to the file named by argv[1]; tests/host_fds/test_host_fds.py runs it under the supervisor
 * and compares the lines with fds_scenario.py played in the simulated machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>
#include <linux/sync_file.h>
#include <linux/dma-buf.h>

static FILE *out;

static int ret(int r) { return r ? -errno : 0; }
static void step(const char *name, int value) { fprintf(out, "%s=%d\n", name, value); }

static int gem_create(int fd, uint32_t *handle)
{
	struct drm_i915_gem_create c = { .size = 4096 };
	int r = ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_CREATE, &c));
	*handle = c.handle;
	return r;
}

static int gem_pwrite(int fd, uint32_t h, const void *data, uint64_t n)
{
	struct drm_i915_gem_pwrite p = { .handle = h, .size = n, .data_ptr = (uintptr_t)data };
	return ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_PWRITE, &p));
}

static int reads_abcd(int fd, uint32_t h)
{
	char buf[4] = { 0 };
	struct drm_i915_gem_pread p = { .handle = h, .size = 4, .data_ptr = (uintptr_t)buf };
	if (drmIoctl(fd, DRM_IOCTL_I915_GEM_PREAD, &p))
		return -errno;
	return memcmp(buf, "abcd", 4) == 0;
}

static int to_fd(int fd, uint32_t h, uint32_t flags, int *dmafd)
{
	struct drm_prime_handle p = { .handle = h, .flags = flags, .fd = -1 };
	int r = ret(drmIoctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p));
	*dmafd = p.fd;
	return r;
}

static int to_handle(int fd, int dmafd, uint32_t *h)
{
	struct drm_prime_handle p = { .fd = dmafd };
	int r = ret(drmIoctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p));
	*h = p.handle;
	return r;
}

static int gem_close(int fd, uint32_t h)
{
	struct drm_gem_close c = { .handle = h };
	return ret(drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &c));
}

static int execbuf(int fd, uint32_t batch, uint64_t flags, uint64_t rsvd2, uint64_t cliprects,
		   uint32_t ncliprects, int *out_fence)
{
	struct drm_i915_gem_exec_object2 obj = { .handle = batch };
	struct drm_i915_gem_execbuffer2 eb = {
		.buffers_ptr = (uintptr_t)&obj, .buffer_count = 1, .flags = flags,
		.rsvd2 = rsvd2, .cliprects_ptr = cliprects, .num_cliprects = ncliprects,
	};
	int r = ret(drmIoctl(fd, DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, &eb));
	if (out_fence)
		*out_fence = r ? -1 : (int)(eb.rsvd2 >> 32);
	return r;
}

static int polled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 5000);
	return n == 1 && (p.revents & POLLIN) ? 1 : (n < 0 ? -errno : 0);
}

static int file_info(int fd, int *status, int *num)
{
	struct sync_file_info info = { 0 };
	int r = ret(ioctl(fd, SYNC_IOC_FILE_INFO, &info));
	*status = info.status;
	*num = (int)info.num_fences;
	return r;
}

static int syncobj(int fd, unsigned long req, void *arg) { return ret(drmIoctl(fd, req, arg)); }

static void send_fd(int sock, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	sendmsg(sock, &m, 0);
}

static int recv_fd(int sock)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	int fd = -1;
	if (recvmsg(sock, &m, 0) == 1 && CMSG_FIRSTHDR(&m))
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

static int lowest_free_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

int main(int argc, char **argv)
{
	static const uint32_t bbe[2] = { 0xA << 23, 0 };
	uint32_t h, h_same, h_other, h_again, batch, h_x;
	int fd, fd2, dmafd, pipefd[2], fence, merged_fd, st, num, r;

	out = fopen(argv[1], "w");
	fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	fd2 = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	step("open", fd >= 0 && fd2 >= 0 ? 0 : -errno);

	/* PRIME export and import, same and other drm file */
	step("create", gem_create(fd, &h));
	step("pwrite", gem_pwrite(fd, h, "abcd", 4));
	step("export_bad_flags", to_fd(fd, h, 0x1, &dmafd));
	step("export_bad_handle", to_fd(fd, 999, DRM_CLOEXEC, &dmafd));
	step("export", to_fd(fd, h, DRM_CLOEXEC | DRM_RDWR, &dmafd));
	/* host-only checks (the simulated machine has no close-on-exec flag) */
	int plain;
	step("host_export_cloexec", (fcntl(dmafd, F_GETFD) & FD_CLOEXEC) != 0);
	to_fd(fd, h, 0, &plain);
	step("host_export_plain_inherits", (fcntl(plain, F_GETFD) & FD_CLOEXEC) == 0);
	close(plain);
	struct dma_buf_sync sync = { .flags = 1 << 3 };
	step("dmabuf_sync_bad_flags", ret(ioctl(dmafd, DMA_BUF_IOCTL_SYNC, &sync)));
	sync.flags = DMA_BUF_SYNC_END;
	step("dmabuf_sync_without_rw", ret(ioctl(dmafd, DMA_BUF_IOCTL_SYNC, &sync)));
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
	step("dmabuf_sync_start", ret(ioctl(dmafd, DMA_BUF_IOCTL_SYNC, &sync)));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	step("dmabuf_sync_end", ret(ioctl(dmafd, DMA_BUF_IOCTL_SYNC, &sync)));
	step("drm_ioctl_on_dmabuf", ret(ioctl(dmafd, DRM_IOCTL_GEM_CLOSE, &h)));
	step("import_same", to_handle(fd, dmafd, &h_same));
	step("import_same_is_the_handle", h_same == h);
	step("import_other", to_handle(fd2, dmafd, &h_other));
	step("import_other_reads", reads_abcd(fd2, h_other));
	step("import_other_again_same_handle",
	     to_handle(fd2, dmafd, &h_again) == 0 && h_again == h_other);
	step("import_drm_fd", to_handle(fd, fd2, &h_x));
	pipe(pipefd);
	step("import_pipe", to_handle(fd, pipefd[0], &h_x));
	step("import_closed_fd", to_handle(fd, 1000, &h_x));

	/* a forked child imports the inherited dma-buf fd into its own drm file */
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = open("/dev/dri/renderD128", O_RDWR);
		uint32_t ch;
		_exit(to_handle(cfd, dmafd, &ch) == 0 && reads_abcd(cfd, ch) == 1 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	step("fork_child_imports", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* SCM_RIGHTS: a dma-buf exported after the fork reaches the child over a socket; the
	 * parent closes its handle and fd at once, the child's fd keeps the object alive */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		int got = recv_fd(sv[1]);
		int cfd = open("/dev/dri/renderD128", O_RDWR);
		uint32_t ch;
		_exit(got >= 0 && to_handle(cfd, got, &ch) == 0 && reads_abcd(cfd, ch) == 1 ? 0 : 1);
	}
	uint32_t h3;
	int dmafd3;
	gem_create(fd, &h3);
	gem_pwrite(fd, h3, "abcd", 4);
	step("scm_export", to_fd(fd, h3, DRM_CLOEXEC, &dmafd3));
	send_fd(sv[0], dmafd3);
	close(dmafd3);
	step("scm_close_handle", gem_close(fd, h3));
	waitpid(pid, &st, 0);
	step("scm_rights_child_imports", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(sv[0]);
	close(sv[1]);

	/* the dma-buf keeps the object after every handle is closed, until its last fd */
	step("close_handle", gem_close(fd, h));
	step("close_other_handle", gem_close(fd2, h_other));
	step("lifetime_import", to_handle(fd, dmafd, &h_again));
	step("lifetime_reads", reads_abcd(fd, h_again));
	step("lifetime_close", gem_close(fd, h_again));
	close(dmafd);

	/* FENCE_OUT, poll, SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE, FENCE_IN */
	gem_create(fd, &batch);
	gem_pwrite(fd, batch, bbe, sizeof(bbe));
	step("fence_out", execbuf(fd, batch, I915_EXEC_FENCE_OUT, 0, 0, 0, &fence));
	step("fence_poll", polled(fence));
	step("host_fence_cloexec", (fcntl(fence, F_GETFD) & FD_CLOEXEC) != 0);
	r = file_info(fence, &st, &num);
	step("file_info", r);
	step("file_info_status", st);
	step("file_info_num_fences", num);
	struct sync_merge_data merge = { .name = "both", .fd2 = fence };
	step("merge", ret(ioctl(fence, SYNC_IOC_MERGE, &merge)));
	merged_fd = merge.fence;
	step("merged_poll", polled(merged_fd));
	struct sync_merge_data bad = { .fd2 = fd2 };
	step("merge_not_sync_file", ret(ioctl(fence, SYNC_IOC_MERGE, &bad)));
	step("drm_ioctl_on_sync_file", ret(ioctl(fence, DRM_IOCTL_GEM_CLOSE, &h)));
	step("fence_in", execbuf(fd, batch, I915_EXEC_FENCE_IN, (uint64_t)merged_fd, 0, 0, NULL));
	step("fence_in_not_sync_file", execbuf(fd, batch, I915_EXEC_FENCE_IN, (uint64_t)fd2, 0, 0,
					       NULL));
	close(merged_fd);
	close(fence);

	/* the out-fence fd is reserved first: EMFILE queues nothing */
	struct rlimit old, lim;
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = lowest_free_fd();
	setrlimit(RLIMIT_NOFILE, &lim);
	step("fence_out_emfile", execbuf(fd, batch, I915_EXEC_FENCE_OUT, 0, 0, 0, &fence));
	setrlimit(RLIMIT_NOFILE, &old);

	/* sync objects: create, signal, wait, fd round trip, export, execbuf signal */
	struct drm_syncobj_create cr = { .flags = DRM_SYNCOBJ_CREATE_SIGNALED };
	step("syncobj_create", syncobj(fd, DRM_IOCTL_SYNCOBJ_CREATE, &cr));
	uint32_t so = cr.handle;
	struct drm_syncobj_wait w = { .handles = (uintptr_t)&so, .count_handles = 1 };
	step("syncobj_wait_signalled", syncobj(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w));
	struct drm_syncobj_handle sh = { .handle = so };
	step("syncobj_to_fd", syncobj(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &sh));
	struct drm_syncobj_handle sh2 = { .fd = sh.fd };
	step("syncobj_from_fd_other_file", syncobj(fd2, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &sh2));
	uint32_t so2 = sh2.handle;
	struct drm_syncobj_wait w2 = { .handles = (uintptr_t)&so2, .count_handles = 1 };
	step("syncobj_wait_other_file", syncobj(fd2, DRM_IOCTL_SYNCOBJ_WAIT, &w2));
	close(sh.fd);
	struct drm_syncobj_handle ex = {
		.handle = so, .flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE };
	step("syncobj_export_sync_file", syncobj(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &ex));
	step("syncobj_exported_poll", polled(ex.fd));
	close(ex.fd);
	struct drm_syncobj_create cr2 = { 0 };
	syncobj(fd, DRM_IOCTL_SYNCOBJ_CREATE, &cr2);
	uint32_t empty = cr2.handle;
	struct drm_syncobj_wait we = { .handles = (uintptr_t)&empty, .count_handles = 1 };
	step("syncobj_wait_empty", syncobj(fd, DRM_IOCTL_SYNCOBJ_WAIT, &we));
	struct drm_i915_gem_exec_fence ef = { .handle = empty, .flags = I915_EXEC_FENCE_SIGNAL };
	step("syncobj_execbuf_signal", execbuf(fd, batch, I915_EXEC_FENCE_ARRAY, 0,
					       (uintptr_t)&ef, 1, NULL));
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	we.timeout_nsec = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + 5000000000LL;
	step("syncobj_wait_execbuf", syncobj(fd, DRM_IOCTL_SYNCOBJ_WAIT, &we));
	fclose(out);
	return 0;
}
