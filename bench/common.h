/* common.h: what the two C contenders share (refs file, URLs, clocks). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <stdint.h>

typedef struct { char org[40], user[40], hp[40]; } bench_ref;

typedef struct {
    const char *base;
    char auth_header[600];
    bench_ref *refs;
    long nrefs;
} bench_env;

static void bench_load(bench_env *e, const char *path) {
    FILE *f = fopen(path, "r");
    const char *tok = getenv("BENCH_TOKEN");
    long cap = 256;
    e->base = getenv("BENCH_URL");
    if (!e->base || !tok) { fprintf(stderr, "bench: BENCH_URL and BENCH_TOKEN must be set\n"); exit(2); }
    snprintf(e->auth_header, sizeof e->auth_header, "Authorization: Bearer %s", tok);
    if (!f) { perror(path); exit(2); }
    e->refs = malloc(cap * sizeof *e->refs);
    e->nrefs = 0;
    for (;;) {
        bench_ref r;
        if (fscanf(f, "%39s %39s %39s", r.org, r.user, r.hp) != 3) break;
        if (e->nrefs == cap) { cap *= 2; e->refs = realloc(e->refs, cap * sizeof *e->refs); }
        e->refs[e->nrefs++] = r;
    }
    fclose(f);
    if (e->nrefs == 0) { fprintf(stderr, "bench: no refs in %s\n", path); exit(2); }
}

static void bench_url(const bench_env *e, long i, char *url, size_t cap) {
    const bench_ref *r = &e->refs[i % e->nrefs];
    snprintf(url, cap, "%s/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s", e->base, r->org, r->user, r->hp);
}

/* wall (monotonic), cpu = user + sys of this process, user, sys; seconds */
static void bench_clock(double *wall, double *cpu, double *user, double *sys) {
    struct timespec ts;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    getrusage(RUSAGE_SELF, &ru);
    *wall = ts.tv_sec + ts.tv_nsec / 1e9;
    *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    *cpu = *user + *sys;
}
#endif
