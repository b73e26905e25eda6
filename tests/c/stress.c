/*
 * stress.c: tritium under concurrency, several contexts and devices, CUDA graphs, and
 * many calls; every result checked against a host fp64 reference (test_support.h).
 *
 *   tritium_stress threads  [--threads 16] [--iters 5]   threads race the lazy load
 *   tritium_stress contexts [--rounds 3]                 cuCtxCreate'd contexts, churned
 *   tritium_stress devices  [--threads 8] [--iters 5]    two or more GPUs, interleaved
 *   tritium_stress graphs   [--replays 100] [--first] [--mode global|thread|relaxed]
 *   tritium_stress leaks    [--calls 100000]             device memory and RSS, before/after
 *   common: [--seed S]
 *
 * Each prints its figures and exits 0 on success, 1 on a failure, 77 ("skip") without a
 * GPU (or, for devices, without a second one), 2 on a usage error. Set TRITIUM_FORCE_ARCH=89
 * TRITIUM_FORCE_PTX=1 to run the sm_89 PTX path. No tritium call that loads the driver is
 * made before the part under test (the lazy load is part of what is tested).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_support.h"

#define EXIT_SKIP 77

typedef struct options {
    int threads, iters, rounds, replays, first, mode;
    long calls;
    uint64_t seed;
} options;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- the call set: every entry point that launches -------------------------------------- */

/* Triplet forward + backward in each reduction (the dtypes rotate), and matmul in fp32
 * 'highest' and 'high', fp16 and bf16, each with and without the workspace. Shapes come
 * from `shape_seed` (the same for every thread, so that threads share variants). */
enum { SET_SIZE = 11 };

static void make_set(test_case set[SET_SIZE], uint64_t shape_seed, int64_t max_extent) {
    uint64_t rng = shape_seed;
    for (int r = 0; r < 3; ++r) {
        case_random(&set[r], CASE_TRIPLET, &rng, max_extent);
        set[r].reduction = (tritium_reduction)r;
        set[r].dtype = (tritium_dtype)((r + shape_seed) % 3);
    }
    static const struct { tritium_dtype dt; tritium_precision prec; } modes[4] = {
        {TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST}, {TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH},
        {TRITIUM_FLOAT16, TRITIUM_PRECISION_HIGHEST}, {TRITIUM_BFLOAT16, TRITIUM_PRECISION_HIGHEST}};
    for (int i = 0; i < 8; ++i) {
        test_case *c = &set[3 + i];
        case_random(c, CASE_MATMUL, &rng, max_extent);
        c->dtype = modes[i / 2].dt;
        c->precision = modes[i / 2].prec;
        c->workspace = i % 2 == 0;
    }
}

static void set_alloc(test_case set[SET_SIZE], uint64_t *rng, CUstream s) {
    for (int i = 0; i < SET_SIZE; ++i) {
        case_alloc(&set[i]);
        case_fill(&set[i], rng, s);
    }
    dev_sync(s);
}

static void set_free(test_case set[SET_SIZE]) {
    for (int i = 0; i < SET_SIZE; ++i) case_free(&set[i]);
}

/* entry-point calls one enqueue of the case makes */
static int calls_of(const test_case *c) { return c->kind == CASE_TRIPLET ? 2 : 1; }

typedef struct tally {
    long calls, checks, failures;
} tally;

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(tally *t, const char *where, const test_case *c, const char *what) {
    char desc[160];
    case_describe(c, desc, sizeof desc);
    ++t->failures;
    pthread_mutex_lock(&print_lock);
    if (t->failures <= 10) printf("FAIL %s: %s: %s\n", where, desc, what);
    pthread_mutex_unlock(&print_lock);
}

/* Enqueues the whole set in s (starting at `start`, wrapping) with `current` as the
 * thread's current context (NULL: as it is), then, with `own` (the stream's context)
 * current, checks every result and, with `refill`, uploads fresh inputs. Rejected or
 * failed calls are failures: every call here is valid. */
static void run_set(test_case set[SET_SIZE], int start, CUstream s, CUcontext current, CUcontext own, uint64_t *rng,
                    int refill, tally *t, const char *where) {
    char msg[256];
    int launched[SET_SIZE] = {0};
    if (current) CU_OK(cu.CtxSetCurrent(current));
    for (int j = 0; j < SET_SIZE; ++j) {
        test_case *c = &set[(start + j) % SET_SIZE];
        tritium_status st = case_enqueue(c, s);
        t->calls += calls_of(c);
        if (st != TRITIUM_SUCCESS) {
            snprintf(msg, sizeof msg, "%s: %s", tritium_status_string(st), tritium_last_error());
            report(t, where, c, msg);
        } else {
            launched[(start + j) % SET_SIZE] = 1;
        }
    }
    CUcontext now = NULL;
    CU_OK(cu.CtxGetCurrent(&now));
    if (current && now != current) report(t, where, &set[start % SET_SIZE], "tritium left another context current");
    if (own) CU_OK(cu.CtxSetCurrent(own));
    for (int i = 0; i < SET_SIZE; ++i) {
        if (!launched[i]) continue;
        ++t->checks;
        if (case_check(&set[i], s, msg, sizeof msg)) report(t, where, &set[i], msg);
        if (refill) case_fill(&set[i], rng, s);
    }
    dev_sync(s);
}

static void print_devices(int count) {
    for (int i = 0; i < count; ++i) {
        int major = 0, minor = 0;
        char name[128] = "", image[512] = "";
        tritium_status s = tritium_device_info(i, &major, &minor, name, sizeof name, image, sizeof image);
        printf("device %d: %s sm_%d%d: %s\n", i, name, major, minor,
               s == TRITIUM_SUCCESS ? image : tritium_last_error());
    }
}

/* ---- threads ------------------------------------------------------------------------- */

typedef struct worker {
    int id, iters, devices;
    CUcontext ctx[8];
    uint64_t seed;
    pthread_barrier_t *barrier;
    double first_done_ms;
    tally t;
} worker;

static void *thread_main(void *arg) {
    worker *w = arg;
    CUstream s[8];
    test_case set[8][SET_SIZE];
    uint64_t rng = w->seed;
    for (int d = 0; d < w->devices; ++d) {
        CU_OK(cu.CtxSetCurrent(w->ctx[d]));
        CU_OK(cu.StreamCreate(&s[d], CU_STREAM_NON_BLOCKING));
        make_set(set[d], 1000 + (uint64_t)d, 256);
        set_alloc(set[d], &rng, s[d]);
    }
    /* half the threads start on the same call, the others each on another one */
    int start = w->id % 2 ? w->id % SET_SIZE : 0;
    pthread_barrier_wait(w->barrier);
    for (int it = 0; it < w->iters; ++it)
        for (int k = 0; k < w->devices; ++k) {
            /* with several devices, each thread goes through them in its own order, with
             * another device's context current: the call must use its stream's */
            int d = (k + w->id) % w->devices;
            run_set(set[d], start, s[d], w->ctx[(d + 1) % w->devices], w->ctx[d], &rng, 1, &w->t,
                    w->devices > 1 ? "devices" : "threads");
            if (it == 0 && k == 0) w->first_done_ms = now_ms();
        }
    for (int d = 0; d < w->devices; ++d) {
        CU_OK(cu.CtxSetCurrent(w->ctx[d]));
        set_free(set[d]);
        CU_OK(cu.StreamDestroy(s[d]));
    }
    return NULL;
}

static int run_threads(const options *o, int devices, const char *name) {
    int count = cu_open_or_skip(devices, name);
    if (devices > 1) devices = count < 8 ? count : 8;
    worker *ws = calloc((size_t)o->threads, sizeof *ws);
    pthread_t *tid = calloc((size_t)o->threads, sizeof *tid);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)o->threads + 1);
    for (int i = 0; i < o->threads; ++i) {
        ws[i].id = i;
        ws[i].iters = o->iters;
        ws[i].devices = devices;
        for (int d = 0; d < devices; ++d) ws[i].ctx[d] = cu_primary(d);
        ws[i].seed = o->seed * 7919 + (uint64_t)i;
        ws[i].barrier = &barrier;
        if (pthread_create(&tid[i], NULL, thread_main, &ws[i])) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    pthread_barrier_wait(&barrier);
    double t0 = now_ms(), first = 0;
    tally all = {0, 0, 0};
    for (int i = 0; i < o->threads; ++i) {
        pthread_join(tid[i], NULL);
        all.calls += ws[i].t.calls;
        all.checks += ws[i].t.checks;
        all.failures += ws[i].t.failures;
        if (ws[i].first_done_ms - t0 > first) first = ws[i].first_done_ms - t0;
    }
    print_devices(devices);
    printf("%s: %d threads x %d iterations on %d device(s), %ld calls, %ld results checked, %ld failures; "
           "first round of all threads done in %.1f ms, all in %.1f ms\n",
           name, o->threads, o->iters, devices, all.calls, all.checks, all.failures, first, now_ms() - t0);
    pthread_barrier_destroy(&barrier);
    free(ws);
    free(tid);
    return all.failures != 0;
}

/* ---- contexts ------------------------------------------------------------------------ */

typedef struct ctx_job {
    CUcontext ctx, current;   /* the stream's context; the one current on the thread */
    test_case *set;
    CUstream s;
    uint64_t rng;
    int iters;
    tally t;
} ctx_job;

static void *ctx_job_main(void *arg) {
    ctx_job *j = arg;
    for (int it = 0; it < j->iters; ++it)
        run_set(j->set, it, j->s, j->current, j->ctx, &j->rng, 1, &j->t, "contexts (two threads)");
    return NULL;
}

static int run_contexts(const options *o) {
    cu_open_or_skip(1, "contexts");
    CUdevice dev;
    CU_OK(cu.DeviceGet(&dev, 0));
    CUcontext prim = cu_primary(0);
    tally t = {0, 0, 0};
    uint64_t rng = o->seed;
    char msg[256];
    for (int round = 0; round < o->rounds; ++round) {
        /* a context of the caller's own, current on this thread, with a stream in it */
        CUcontext own;
        CU_OK(cu.CtxCreate(&own, 0, dev));
        CU_OK(cu.CtxSetCurrent(own));
        CUstream s;
        CU_OK(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING));
        test_case set[SET_SIZE];
        make_set(set, 2000 + (uint64_t)round, 200);
        set_alloc(set, &rng, s);
        run_set(set, 0, s, NULL, NULL, &rng, 1, &t, "own context, its stream");
        /* the same stream with the primary context current: the call must run in the
         * stream's context and leave the caller's current */
        run_set(set, 3, s, prim, own, &rng, 0, &t, "own context's stream, primary current");
        for (int i = 0; i < SET_SIZE; ++i) case_fill(&set[i], &rng, s);
        dev_sync(s);
        /* the NULL stream: the legacy stream of the current (own) context */
        run_set(set, 5, NULL, NULL, NULL, &rng, 1, &t, "own context, NULL stream");
        /* two threads at once: one on the own context's stream, one on a primary-context
         * stream, each with the other's context current */
        CUstream ps;
        CU_OK(cu.CtxSetCurrent(prim));
        CU_OK(cu.StreamCreate(&ps, CU_STREAM_NON_BLOCKING));
        test_case pset[SET_SIZE];
        make_set(pset, 3000 + (uint64_t)round, 200);
        set_alloc(pset, &rng, ps);
        ctx_job jobs[2] = {{own, prim, set, s, o->seed + 11, 3, {0, 0, 0}}, {prim, own, pset, ps, o->seed + 13, 3, {0, 0, 0}}};
        pthread_t tid[2];
        for (int i = 0; i < 2; ++i) pthread_create(&tid[i], NULL, ctx_job_main, &jobs[i]);
        for (int i = 0; i < 2; ++i) {
            pthread_join(tid[i], NULL);
            t.calls += jobs[i].t.calls;
            t.checks += jobs[i].t.checks;
            t.failures += jobs[i].t.failures;
        }
        CU_OK(cu.CtxSetCurrent(prim));
        set_free(pset);
        CU_OK(cu.StreamDestroy(ps));
        CU_OK(cu.CtxSetCurrent(own));
        set_free(set);
        CU_OK(cu.StreamDestroy(s));
        /* destroyed: the next round's context loads the kernels afresh */
        CU_OK(cu.CtxSetCurrent(NULL));
        CU_OK(cu.CtxDestroy(own));
    }
    /* a thread with no current context and a NULL stream: the primary context of the
     * data's device (what PyTorch's autograd worker threads do) */
    CU_OK(cu.CtxSetCurrent(prim));
    test_case pset[SET_SIZE];
    make_set(pset, 4000, 200);
    set_alloc(pset, &rng, NULL);
    CU_OK(cu.CtxSetCurrent(NULL));
    for (int i = 0; i < SET_SIZE; ++i) {
        tritium_status st = case_enqueue(&pset[i], NULL);
        t.calls += calls_of(&pset[i]);
        if (st != TRITIUM_SUCCESS) {
            snprintf(msg, sizeof msg, "no current context, NULL stream: %s: %s", tritium_status_string(st),
                     tritium_last_error());
            report(&t, "contexts", &pset[i], msg);
            continue;
        }
        CUcontext cur = NULL;
        CU_OK(cu.CtxGetCurrent(&cur));
        if (cur != NULL) report(&t, "contexts", &pset[i], "a context was left current on the thread");
        CU_OK(cu.CtxSetCurrent(prim));
        CU_OK(cu.CtxSynchronize());
        ++t.checks;
        if (case_check(&pset[i], NULL, msg, sizeof msg)) report(&t, "contexts, no current context", &pset[i], msg);
        CU_OK(cu.CtxSetCurrent(NULL));
    }
    CU_OK(cu.CtxSetCurrent(prim));
    set_free(pset);
    print_devices(1);
    printf("contexts: %d rounds of a created context (its stream, with the primary current, NULL stream, two "
           "threads), then no current context; %ld calls, %ld results checked, %ld failures\n",
           o->rounds, t.calls, t.checks, t.failures);
    return t.failures != 0;
}

/* ---- graphs -------------------------------------------------------------------------- */

static int run_graphs(const options *o) {
    cu_open_or_skip(1, "graphs");
    static const char *const modes[3] = {"global", "thread", "relaxed"};
    CUstream s;
    CU_OK(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t rng = o->seed;
    test_case set[SET_SIZE];
    make_set(set, 5000, 128); /* 100 replays: small enough for the host reference */
    set_alloc(set, &rng, s); /* size queries only: nothing loads the driver in tritium */
    tally t = {0, 0, 0};
    if (!o->first) run_set(set, 0, s, NULL, NULL, &rng, 1, &t, "graphs (before capture)");

    CU_OK(cu.StreamBeginCapture(s, o->mode));
    int captured = 0;
    char msg[256];
    for (int i = 0; i < SET_SIZE; ++i) {
        tritium_status st = case_enqueue(&set[i], s);
        t.calls += calls_of(&set[i]);
        if (st != TRITIUM_SUCCESS) {
            snprintf(msg, sizeof msg, "during capture (mode %s%s): %s: %s", modes[o->mode],
                     o->first ? ", the process's first launching call" : "", tritium_status_string(st),
                     tritium_last_error());
            report(&t, "graphs", &set[i], msg);
        } else {
            captured += calls_of(&set[i]);
        }
    }
    CUgraph graph = NULL;
    CUresult r = cu.StreamEndCapture(s, &graph);
    if (r != 0 || t.failures) {
        printf("FAIL graphs: capture %s (cuStreamEndCapture: %s)\n", t.failures ? "had failed calls" : "failed",
               cu_error_name(r));
        return 1;
    }
    CUgraphExec exec;
    CU_OK(cu.GraphInstantiateWithFlags(&exec, graph, 0));
    for (int rep = 0; rep < o->replays; ++rep) {
        /* new inputs in the same buffers (and NaN in the outputs), then the replay */
        for (int i = 0; i < SET_SIZE; ++i) case_fill(&set[i], &rng, s);
        CU_OK(cu.GraphLaunch(exec, s));
        for (int i = 0; i < SET_SIZE; ++i) {
            ++t.checks;
            if (case_check(&set[i], s, msg, sizeof msg)) {
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (replay %d)", rep);
                report(&t, "graphs", &set[i], msg);
            }
        }
    }
    CU_OK(cu.GraphExecDestroy(exec));
    CU_OK(cu.GraphDestroy(graph));
    set_free(set);
    CU_OK(cu.StreamDestroy(s));
    print_devices(1);
    printf("graphs: %d entry-point calls captured (mode %s, first launching call of the process: %s), %d replays "
           "with new inputs, %ld results checked, %ld failures\n",
           captured, modes[o->mode], o->first ? "yes" : "no", o->replays, t.checks, t.failures);
    return t.failures != 0;
}

/* ---- leaks --------------------------------------------------------------------------- */

/* One call of the mix: mostly launches, also the queries and rejected calls. */
static int mixed_call(test_case set[SET_SIZE], long i, CUstream s) {
    test_case *c = &set[i % SET_SIZE];
    size_t bytes;
    int major, minor, count;
    char name[64], image[256];
    switch (i % 16) {
    case 11: return tritium_matmul_workspace_size(c->dtype, TRITIUM_PRECISION_HIGH, 100 + i % 7, 64, 300, &bytes) != 0;
    case 12: return tritium_triplet_margin_loss_workspace_size(i % 1000, 4096, TRITIUM_REDUCTION_MEAN, &bytes) != 0;
    case 13: return tritium_device_info(0, &major, &minor, name, sizeof name, image, sizeof image) != 0 ||
                    tritium_device_count(&count) != 0;
    case 14: /* rejected: c overlaps a */
        return tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, dptr(c->dev[0]), 4, 1,
                              dptr(c->dev[0]), 4, 1, dptr(c->dev[0]), 4, 1, NULL, 0, s) != TRITIUM_ERROR_INVALID_VALUE ||
               tritium_last_error()[0] == '\0';
    case 15: /* rejected: p = NaN */
        return tritium_triplet_margin_loss_saved_size(4, NAN, &bytes) != TRITIUM_ERROR_INVALID_VALUE;
    default: return case_enqueue(c, s) != TRITIUM_SUCCESS;
    }
}

static size_t device_free(void) {
    size_t free_b = 0, total = 0;
    CU_OK(cu.CtxSynchronize());
    CU_OK(cu.MemGetInfo(&free_b, &total));
    return free_b;
}

static int run_leaks(const options *o) {
    cu_open_or_skip(1, "leaks");
    CUstream s;
    CU_OK(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t rng = o->seed;
    test_case set[SET_SIZE];
    make_set(set, 6000, 64);
    set_alloc(set, &rng, s);
    tally t = {0, 0, 0};
    /* warm-up: every call of the mix once (modules loaded), and the results checked */
    run_set(set, 0, s, NULL, NULL, &rng, 1, &t, "leaks (warm-up)");
    long bad = 0;
    for (long i = 0; i < 64; ++i) bad += mixed_call(set, i, s);
    dev_sync(s);
    size_t free0 = device_free(), rss0 = rss_bytes();
    double t0 = now_ms();
    for (long i = 0; i < o->calls; ++i) {
        bad += mixed_call(set, i, s);
        if (i % 1024 == 1023) dev_sync(s);
    }
    dev_sync(s);
    double ms = now_ms() - t0;
    size_t free1 = device_free(), rss1 = rss_bytes();
    for (int i = 0; i < SET_SIZE; ++i) case_fill(&set[i], &rng, s);
    run_set(set, 0, s, NULL, NULL, &rng, 0, &t, "leaks (after the calls)");
    long long dfree = (long long)free0 - (long long)free1, drss = (long long)rss1 - (long long)rss0;
    const long long dev_tol = 2 << 20, rss_tol = 4 << 20;
    printf("leaks: %ld calls in %.0f ms (%ld failed), device free %.1f MiB -> %.1f MiB (%lld bytes fewer; "
           "tolerance %lld), RSS %.1f MiB -> %.1f MiB (%+lld bytes; tolerance %lld)\n",
           o->calls, ms, bad, free0 / 1048576.0, free1 / 1048576.0, dfree, dev_tol, rss0 / 1048576.0,
           rss1 / 1048576.0, drss, rss_tol);
    int fail = bad != 0 || t.failures != 0 || dfree > dev_tol || drss > rss_tol;
    if (fail) printf("FAIL leaks\n");
    set_free(set);
    CU_OK(cu.StreamDestroy(s));
    /* exit with the modules loaded: the process's teardown must cope */
    return fail;
}

/* ---- main ---------------------------------------------------------------------------- */

static int usage(void) {
    fprintf(stderr,
            "usage: tritium_stress threads|contexts|devices|graphs|leaks [--threads T] [--iters I] [--rounds R]\n"
            "       [--replays K] [--first] [--mode global|thread|relaxed] [--calls N] [--seed S]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    options o = {16, 5, 3, 100, 0, 0, 100000, 12345};
    const char *cmd = argv[1];
    if (!strcmp(cmd, "devices")) o.threads = 8;
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--first")) { o.first = 1; continue; }
        if (!v) return usage();
        ++i;
        if (!strcmp(a, "--threads")) o.threads = atoi(v);
        else if (!strcmp(a, "--iters")) o.iters = atoi(v);
        else if (!strcmp(a, "--rounds")) o.rounds = atoi(v);
        else if (!strcmp(a, "--replays")) o.replays = atoi(v);
        else if (!strcmp(a, "--calls")) o.calls = atol(v);
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--mode")) {
            o.mode = !strcmp(v, "global") ? 0 : !strcmp(v, "thread") ? 1 : !strcmp(v, "relaxed") ? 2 : -1;
            if (o.mode < 0) return usage();
        } else return usage();
    }
    if (o.threads < 1 || o.iters < 1 || o.rounds < 1 || o.replays < 1 || o.calls < 1) return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("tritium %s, seed %llu\n", tritium_version_string(), (unsigned long long)o.seed);
    if (!strcmp(cmd, "threads")) return run_threads(&o, 1, "threads");
    if (!strcmp(cmd, "devices")) return run_threads(&o, 2, "devices");
    if (!strcmp(cmd, "contexts")) return run_contexts(&o);
    if (!strcmp(cmd, "graphs")) return run_graphs(&o);
    if (!strcmp(cmd, "leaks")) return run_leaks(&o);
    return usage();
}
