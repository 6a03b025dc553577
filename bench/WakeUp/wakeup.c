/* What waking a thread costs on this machine, for setting the daemon's CPU a point at moderate rates beside it
 * (BENCHMARKS.md P21-P22: at 100k points/s most of the daemon's CPU beyond its in-process work is wake-ups).
 *
 *   clang -O2 -pthread -o /tmp/wakeup bench/WakeUp/wakeup.c && /tmp/wakeup   (or bench/run.py wakeup)
 *
 * Two threads hand a token back and forth through two eventfds (what libzmq's mailboxes use to wake a thread), no
 * pinning, as the daemon's threads run:
 *   idle  — the first thread sleeps 200 us before each hand-over, so that both threads (and, on an otherwise idle
 *           machine, both CPUs) are asleep when the token is sent: the case of a stage fed in bursts at 100k points/s;
 *   busy  — back to back: the other thread has just gone to sleep when it is woken.
 * For each: the round trip (send -> the other thread runs -> it answers -> the first thread runs again), its median
 * and 99th percentile, and the process's CPU time (both threads, user and kernel) a wake-up: each round trip is two
 * wake-ups, plus the timer's in `idle`. And a system call alone (getppid), for scale. Prints one JSON line.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int to_other, to_first;

static double now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void must(int ok, const char *what) {
    if (!ok) { perror(what); exit(1); }
}

static void *answer(void *unused) {
    (void)unused;
    uint64_t v;
    for (;;) {
        must(read(to_other, &v, 8) == 8, "read");
        if (v == 2) return NULL;
        v = 1;
        must(write(to_first, &v, 8) == 8, "write");
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Round trips with `gap_us` of sleep before each; fills median and p99 (us) and CPU us a wake-up. */
static void run(int n, int gap_us, double *p50, double *p99, double *cpu_per_wake) {
    double *rt = malloc(n * sizeof *rt);
    must(rt != NULL, "malloc");
    uint64_t v = 1;
    struct timespec gap = {0, gap_us * 1000L};
    double cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
        if (gap_us > 0) nanosleep(&gap, NULL);
        double t0 = now(CLOCK_MONOTONIC);
        v = 1;
        must(write(to_other, &v, 8) == 8, "write");
        must(read(to_first, &v, 8) == 8, "read");
        rt[i] = (now(CLOCK_MONOTONIC) - t0) * 1e6;
    }
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    qsort(rt, n, sizeof *rt, cmp);
    *p50 = rt[n / 2];
    *p99 = rt[n * 99 / 100];
    *cpu_per_wake = cpu * 1e6 / (n * (gap_us > 0 ? 3.0 : 2.0));
    free(rt);
}

int main(void) {
    to_other = eventfd(0, 0);
    to_first = eventfd(0, 0);
    must(to_other >= 0 && to_first >= 0, "eventfd");
    pthread_t t;
    must(pthread_create(&t, NULL, answer, NULL) == 0, "pthread_create");

    double ip50, ip99, icpu, bp50, bp99, bcpu;
    run(2000, 200, &ip50, &ip99, &icpu);   /* warm-up of the idle case's code paths */
    run(20000, 200, &ip50, &ip99, &icpu);
    run(200000, 0, &bp50, &bp99, &bcpu);

    uint64_t stop = 2;
    must(write(to_other, &stop, 8) == 8, "write");
    pthread_join(t, NULL);

    const int calls = 1000000;
    double c0 = now(CLOCK_MONOTONIC);
    for (int i = 0; i < calls; i++) syscall(SYS_getppid);
    double syscall_ns = (now(CLOCK_MONOTONIC) - c0) * 1e9 / calls;

    printf("{\"idle_round_trip_p50_us\": %.2f, \"idle_round_trip_p99_us\": %.2f, \"idle_cpu_us_per_wakeup\": %.2f, "
           "\"busy_round_trip_p50_us\": %.2f, \"busy_round_trip_p99_us\": %.2f, \"busy_cpu_us_per_wakeup\": %.2f, "
           "\"syscall_ns\": %.0f}\n", ip50, ip99, icpu, bp50, bp99, bcpu, syscall_ns);
    return 0;
}
