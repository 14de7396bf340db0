/* Test programs for the host-mode supervisor: one binary, one mode per scenario.
 * Usage: programs MODE OUTFILE [ARG]; results are written to OUTFILE as "key=value" lines. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRM_IOCTL_VERSION 0xC0406400UL
#define DRM_IOCTL_I915_GETPARAM 0xC0106446UL

struct drm_version { int major, minor, patch; size_t name_len; char *name;
                     size_t date_len; char *date; size_t desc_len; char *desc; };
struct getparam { int param; int *value; };

static FILE *out;

static int chipset(int fd)
{
    int value = 0;
    struct getparam gp = {4, &value};
    return ioctl(fd, DRM_IOCTL_I915_GETPARAM, &gp) ? -errno : value;
}

static int version(void)
{
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    char name[16] = "", date[16] = "", desc[32] = "", link[64] = "", path[64];
    struct drm_version v = {0, 0, 0, sizeof name - 1, name, sizeof date - 1, date,
                            sizeof desc - 1, desc};
    struct stat st, st128;
    if (fd < 0)
        return fprintf(out, "open=%d\n", -errno), 1;
    fprintf(out, "version=%d\n", ioctl(fd, DRM_IOCTL_VERSION, &v) ? -errno : 0);
    fprintf(out, "name=%s\nname_len=%zu\ndesc=%s\n", name, v.name_len, desc);
    fprintf(out, "chipset=%#x\n", chipset(fd));
    fstat(fd, &st);
    fprintf(out, "fstat=%s:%u:%u\n", S_ISCHR(st.st_mode) ? "chr" : "other",
            major(st.st_rdev), minor(st.st_rdev));
    stat("/dev/dri/card0", &st128);
    fprintf(out, "same_inode=%d\n", st.st_ino == st128.st_ino && st.st_dev == st128.st_dev);
    fprintf(out, "stat128=%d\n", stat("/dev/dri/renderD128", &st128) ? -errno
            : (int)minor(st128.st_rdev));
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    readlink(path, link, sizeof link - 1);
    fprintf(out, "link=%s\n", link);
    fprintf(out, "cloexec=%d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    fprintf(out, "missing=%d\n", open("/dev/dri/card1", O_RDWR) < 0 ? -errno : 0);
    return 0;
}

static int share(void)
{
    int fd = open("/dev/dri/card0", O_RDWR), copy = dup(fd), status;
    pid_t child = fork();
    if (child == 0) {
        int ok = chipset(copy) > 0;
        close(fd);
        close(copy);
        _exit(ok ? 0 : 1);
    }
    waitpid(child, &status, 0);
    fprintf(out, "child=%d\n", WEXITSTATUS(status));
    close(fd);
    fprintf(out, "after_first_close=%d\n", chipset(copy));
    close(copy);
    fprintf(out, "after_last_close=%d\n", chipset(copy));
    return 0;
}

static int efault(void)
{
    int fd = open("/dev/dri/card0", O_RDWR);
    int *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct getparam bad = {4, (int *)8}, readonly = {4, ro}, unknown = {9999, ro};
    fprintf(out, "struct=%d\n", ioctl(fd, DRM_IOCTL_VERSION, (void *)8) ? errno : 0);
    fprintf(out, "value=%d\n", ioctl(fd, DRM_IOCTL_I915_GETPARAM, &bad) ? errno : 0);
    fprintf(out, "readonly=%d\n", ioctl(fd, DRM_IOCTL_I915_GETPARAM, &readonly) ? errno : 0);
    fprintf(out, "param=%d\n", ioctl(fd, DRM_IOCTL_I915_GETPARAM, &unknown) ? errno : 0);
    fprintf(out, "unknown=%d\n", ioctl(fd, 0xC0086400UL | (0x99 << 0), &bad) ? errno : 0);
    fprintf(out, "mmap=%d\n", mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED
            ? errno : 0);
    return 0;
}

static int mm(void)
{
    long page = 4096;
    char *a = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fprintf(out, "base=%lu\n", (unsigned long)a);
    munmap(a + 3 * page, page);
    mprotect(a + page, page, PROT_READ);
    madvise(a, page, MADV_DONTNEED);
    madvise(a, page, MADV_WILLNEED);            /* not an invalidation: no event */
    mmap(a + 2 * page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return 0;
}

static int fd_for_threads;
static void *hammer(void *arg)
{
    long failures = 0;
    for (int i = 0; i < 200; i++)
        failures += chipset(fd_for_threads) != 0x1912;
    return (void *)failures;
}

static int threads(int nthreads, int die)
{
    pthread_t t[16];
    long failures = 0;
    fd_for_threads = open("/dev/dri/card0", O_RDWR);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    if (die) {
        usleep(2000);
        kill(getpid(), SIGKILL);
    }
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(t[i], &r);
        failures += (long)r;
    }
    fprintf(out, "failures=%ld\n", failures);
    return 0;
}

static int brk_shrink(void)
{
    char *top = sbrk(0);
    sbrk(16 * 4096);
    sbrk(-8 * 4096);                      /* shrink: the released pages are unmapped */
    fprintf(out, "top=%lu\n", (unsigned long)top);
    return 0;
}

static void *closer(void *arg)
{
    usleep(100);
    close(fd_for_threads);                 /* closed while the other threads use it */
    return arg;
}

static int storm(void)
{
    /* forks that open, share and close device fds while threads race a close */
    for (int round = 0; round < 16; round++) {
        pid_t child = fork();
        if (child == 0) {
            pthread_t t[3];
            fd_for_threads = open(round % 2 ? "/dev/dri/renderD128" : "/dev/dri/card0", O_RDWR);
            dup(fd_for_threads);
            pthread_create(&t[0], NULL, hammer, NULL);
            pthread_create(&t[1], NULL, hammer, NULL);
            pthread_create(&t[2], NULL, closer, NULL);
            for (int i = 0; i < 3; i++)
                pthread_join(t[i], NULL);
            if (round % 4 == 0)
                kill(getpid(), SIGKILL);
            _exit(0);
        }
    }
    while (wait(NULL) > 0)
        ;
    fprintf(out, "done=1\n");
    return 0;
}

static int forkexec(void)
{
    int status;
    pid_t child = fork();
    if (child == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(99);
    }
    waitpid(child, &status, 0);
    fprintf(out, "child=%d\nchild_pid=%d\nparent_pid=%d\n", WEXITSTATUS(status), child,
            getpid());
    return 0;
}

static int sysfs(void)
{
    char link[128] = "", vendor[16] = "", names[64] = "";
    int dir, fd;
    DIR *d;
    struct dirent *e;
    readlink("/sys/dev/char/226:0", link, sizeof link - 1);
    fprintf(out, "link=%s\n", link);
    dir = open("/sys/dev/char/226:0", O_RDONLY | O_DIRECTORY);
    fd = openat(dir, "device/vendor", O_RDONLY);
    read(fd, vendor, sizeof vendor - 1);
    fprintf(out, "vendor=%s", vendor);
    d = opendir("/dev/dri");
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            strcat(strcat(names, e->d_name), ",");
    fprintf(out, "entries=%s\n", names);
    fprintf(out, "access=%d\n", access("/dev/dri/card0", R_OK | W_OK) ? -errno : 0);
    fd = openat(dir, "../renderD128/dev", O_RDONLY);
    memset(vendor, 0, sizeof vendor);
    read(fd, vendor, sizeof vendor - 1);
    fprintf(out, "relative=%s", vendor);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argv[1];
    int ret = 0;
    out = fopen(argv[2], "w");
    setvbuf(out, NULL, _IONBF, 0);
    if (!strcmp(mode, "version"))
        ret = version();
    else if (!strcmp(mode, "share"))
        ret = share();
    else if (!strcmp(mode, "efault"))
        ret = efault();
    else if (!strcmp(mode, "mm"))
        ret = mm();
    else if (!strcmp(mode, "threads"))
        ret = threads(4, 0);
    else if (!strcmp(mode, "killed-mid-ioctl"))
        ret = threads(4, 1);
    else if (!strcmp(mode, "brk"))
        ret = brk_shrink();
    else if (!strcmp(mode, "storm"))
        ret = storm();
    else if (!strcmp(mode, "forkexec"))
        ret = forkexec();
    else if (!strcmp(mode, "sysfs"))
        ret = sysfs();
    else if (!strcmp(mode, "exit"))
        ret = atoi(argv[3]);
    else if (!strcmp(mode, "signal"))
        kill(getpid(), atoi(argv[3]));
    return ret;
}
