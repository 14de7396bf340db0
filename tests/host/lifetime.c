/* Programs for tests/host/test_lifetime.py: hostile signals, a tree that must die with the
 * supervisor, a huge execbuf count.  Each mode writes key=value lines to argv[2]. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

struct userptr { uint64_t user_ptr, user_size; uint32_t flags, handle; };
struct gem_close { uint32_t handle, pad; };
struct exec_object2 { uint32_t handle, relocation_count; uint64_t relocs_ptr, alignment,
                      offset, flags, rsvd1, rsvd2; };
struct execbuffer2 { uint64_t buffers_ptr; uint32_t buffer_count, batch_start_offset, batch_len,
                     DR1, DR4, num_cliprects; uint64_t cliprects_ptr, flags, rsvd1, rsvd2; };

#define IOCTL_USERPTR 0xC0186473UL      /* DRM_IOWR(0x73, struct drm_i915_gem_userptr) */
#define IOCTL_GEM_CLOSE 0x40086409UL    /* DRM_IOW(0x09, struct drm_gem_close) */
#define IOCTL_EXECBUFFER2 0x40406469UL  /* DRM_IOW(0x69, struct drm_i915_gem_execbuffer2) */

static volatile sig_atomic_t signals;
static void on_alarm(int sig) { (void)sig; signals++; }

static FILE *out;

static int card(void)
{
    int fd = open("/dev/dri/card0", O_RDWR);
    if (fd < 0) { perror("open card0"); exit(2); }
    return fd;
}

/* USERPTR in a loop while a timer interrupts it (no SA_RESTART); then every handle number
 * that could have been made is closed: one that closes is a handle nobody was told about. */
static int userptr_signals(int n)
{
    int fd = card(), ok = 0, eintr = 0, other = 0, leaked = 0;
    size_t size = 64 * 4096;
    void *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;          /* sa_flags 0: SA_RESTART off */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 50 }, { 0, 50 } };
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < n; i++) {
        struct userptr u = { (uintptr_t)buf, size, 0, 0 };
        if (ioctl(fd, IOCTL_USERPTR, &u) == 0) {
            struct gem_close c = { u.handle, 0 };
            while (ioctl(fd, IOCTL_GEM_CLOSE, &c) != 0 && errno == EINTR)
                ;
            ok++;
        } else if (errno == EINTR) {
            eintr++;
        } else {
            other++;
        }
    }
    struct itimerval stop = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &stop, NULL);
    /* Before 5.19 the supervisor closes the handle of an interrupted creation after the
     * program has already seen EINTR: let the last one's undo finish before counting. */
    usleep(300 * 1000);
    for (uint32_t h = 1; h <= (uint32_t)n + 64; h++) {
        struct gem_close c = { h, 0 };
        if (ioctl(fd, IOCTL_GEM_CLOSE, &c) == 0)
            leaked++;
    }
    fprintf(out, "ok=%d\neintr=%d\nother=%d\nleaked=%d\nsignals=%d\n", ok, eintr, other,
            leaked, (int)signals);
    return 0;
}

/* The program forks a child that forks a grandchild; all three write their pid and sleep. */
static int tree(void) __attribute__((noreturn));
static int tree(void)
{
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            fprintf(out, "grandchild=%d\n", getpid());
            fflush(out);
            pause();
            _exit(0);
        }
        fprintf(out, "child=%d\n", getpid());
        fflush(out);
        pause();
        _exit(0);
    }
    fprintf(out, "program=%d\n", getpid());
    fflush(out);
    for (;;)
        pause();
}

static int sleeper(void) __attribute__((noreturn));
static int sleeper(void)
{
    fprintf(out, "ready=1\n");
    fflush(out);
    for (;;)
        pause();
}

/* EXECBUFFER2 with a huge buffer_count over one page holding one exec object. */
static int execbuf_count(unsigned long count)
{
    int fd = card();
    struct exec_object2 *obj = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(obj, 0, 4096);
    obj->handle = 1;
    struct execbuffer2 eb;
    memset(&eb, 0, sizeof(eb));
    eb.buffers_ptr = (uintptr_t)obj;
    eb.buffer_count = (uint32_t)count;
    int ret = ioctl(fd, IOCTL_EXECBUFFER2, &eb);
    fprintf(out, "ret=%d\nerrno=%d\n", ret, ret ? errno : 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 64;
    out = fopen(argv[2], "w");
    if (!out)
        return 65;
    setvbuf(out, NULL, _IOLBF, 0);
    const char *mode = argv[1];
    int rc = 64;
    if (!strcmp(mode, "userptr-signals"))
        rc = userptr_signals(argc > 3 ? atoi(argv[3]) : 2000);
    else if (!strcmp(mode, "tree"))
        rc = tree();
    else if (!strcmp(mode, "sleep"))
        rc = sleeper();
    else if (!strcmp(mode, "execbuf-count"))
        rc = execbuf_count(strtoul(argv[3], NULL, 0));
    fclose(out);
    return rc;
}
