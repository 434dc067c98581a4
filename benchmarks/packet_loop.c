/* Connect/echo loops for benchmarks/bench_packet_path.py (compiled by it when a C compiler is present).
 *
 *   packet_loop server PORT                      echo server on every address (one epoll loop), runs until killed
 *   packet_loop rr  SRC DST PORT COUNT           one connection from SRC, COUNT 1-byte round trips:
 *                                                prints nanoseconds per round trip (established packets),
 *                                                wall then this process's CPU
 *   packet_loop crr SRC DST PORT COUNT           COUNT times: connect from SRC, one 1-byte round trip, close
 *                                                (reset, no TIME_WAIT): nanoseconds per connection, wall then CPU
 *
 * Exit 0 and the figures on stdout, or exit 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "packet_loop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void addr_of(struct sockaddr_in *sa, const char *ip, int port) {
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
        fprintf(stderr, "packet_loop: not an IPv4 address: %s\n", ip);
        exit(1);
    }
}

static int connect_from(const char *src, const char *dst, int port) {
    struct sockaddr_in s, d;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    addr_of(&s, src, 0);
    addr_of(&d, dst, port);
    if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) die("bind");
    if (connect(fd, (struct sockaddr *)&d, sizeof(d)) < 0) die("connect");
    return fd;
}

static void round_trip(int fd) {
    char c = 'x';
    if (write(fd, &c, 1) != 1) die("write");
    if (read(fd, &c, 1) != 1) die("read");
}

static int server(int port) {
    struct sockaddr_in a;
    struct epoll_event ev, evs[64];
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
    if (listen(lfd, 1024) < 0) die("listen");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0) continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                ev.events = EPOLLIN;
                ev.data.fd = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                continue;
            }
            char buf[4096];
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0 || write(fd, buf, (size_t)r) != r) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]));
    if (argc != 6) {
        fprintf(stderr, "usage: packet_loop server PORT | rr|crr SRC DST PORT COUNT\n");
        return 1;
    }
    int port = atoi(argv[4]);
    long count = atol(argv[5]);
    if (count <= 0) {
        fprintf(stderr, "packet_loop: COUNT must be positive\n");
        return 1;
    }
    long long t0, t1, c0, c1;
    if (strcmp(argv[1], "rr") == 0) {
        int fd = connect_from(argv[2], argv[3], port);
        round_trip(fd); /* the connection is established and classified before timing */
        c0 = cpu_ns();
        t0 = now_ns();
        for (long i = 0; i < count; i++) round_trip(fd);
        t1 = now_ns();
        c1 = cpu_ns();
        close(fd);
    } else if (strcmp(argv[1], "crr") == 0) {
        struct linger lg = {1, 0};
        c0 = cpu_ns();
        t0 = now_ns();
        for (long i = 0; i < count; i++) {
            int fd = connect_from(argv[2], argv[3], port);
            round_trip(fd);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(fd);
        }
        t1 = now_ns();
        c1 = cpu_ns();
    } else {
        fprintf(stderr, "packet_loop: unknown mode %s\n", argv[1]);
        return 1;
    }
    printf("%.1f %.1f\n", (double)(t1 - t0) / (double)count, (double)(c1 - c0) / (double)count);
    return 0;
}
