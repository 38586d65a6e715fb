/* owb-bench-stamp: a command backend for owb-device (--wifi-backend
 * command) that notes when it was called. On "apply" its first act is to
 * write the CLOCK_REALTIME time in nanoseconds to $OWB_BENCH_STAMP, so
 * that bench/run.sh can measure the time from a POST /v1/provision to the
 * backend being called. Every action succeeds; "scan" lists
 * $OWB_BENCH_SSID so that the join check finds the network. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "apply")) {
        const char *path = getenv("OWB_BENCH_STAMP");
        char text[32];
        int n = snprintf(text, sizeof text, "%lld\n",
                         (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
        if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) != 0)
            return 1;
        return 0;
    }
    if (!strcmp(argv[1], "scan")) {
        const char *ssid = getenv("OWB_BENCH_SSID");
        printf("%s\n", ssid ? ssid : "Bench Net");
    }
    return 0;
}
