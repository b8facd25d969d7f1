/*
 * The kernel's own SCM_RIGHTS rate on this machine, for comparison with the JMH figures: over a Unix
 * stream socket pair, send BATCH copies of one descriptor with a one-byte payload, receive them, close
 * them, for about two seconds per batch size, in one thread (as the JMH benchmarks do).
 *
 * usage: scm_rights_baseline BATCH...    prints: batch=<n> msgs_per_s=<x> fds_per_s=<y>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 253

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void transfer(int sender, int receiver, int fd, int batch) {
    char byte = 'x';
    char control[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * batch)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * batch);
    int *fds = (int *) CMSG_DATA(cmsg);
    for (int i = 0; i < batch; i++) {
        fds[i] = fd;
    }
    if (sendmsg(sender, &msg, 0) != 1) {
        perror("sendmsg");
        exit(1);
    }
    struct msghdr in = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    if (recvmsg(receiver, &in, MSG_CMSG_CLOEXEC) != 1 || (in.msg_flags & MSG_CTRUNC)) {
        perror("recvmsg");
        exit(1);
    }
    for (cmsg = CMSG_FIRSTHDR(&in); cmsg; cmsg = CMSG_NXTHDR(&in, cmsg)) {
        int count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *received = (int *) CMSG_DATA(cmsg);
        for (int i = 0; i < count; i++) {
            close(received[i]);
        }
    }
}

int main(int argc, char **argv) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        perror("socketpair");
        return 1;
    }
    int fd = open("/dev/null", O_RDONLY);
    for (int a = 1; a < argc; a++) {
        int batch = atoi(argv[a]);
        if (batch < 1 || batch > MAX_FDS) {
            fprintf(stderr, "batch must be 1..%d\n", MAX_FDS);
            return 1;
        }
        for (int i = 0; i < 10000; i++) {
            transfer(pair[0], pair[1], fd, batch); /* warm-up */
        }
        long messages = 0;
        double start = now(), elapsed;
        do {
            for (int i = 0; i < 1000; i++) {
                transfer(pair[0], pair[1], fd, batch);
            }
            messages += 1000;
            elapsed = now() - start;
        } while (elapsed < 2.0);
        printf("batch=%d msgs_per_s=%.0f fds_per_s=%.0f\n", batch, messages / elapsed, messages * batch / elapsed);
    }
    return 0;
}
