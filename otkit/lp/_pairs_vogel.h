/* The start of the batch solver of many small dense problems (_simplex_batch.pyx): Vogel's
 * approximation method (VAM), its basic arcs in the order it takes them, from which
 * _pairs_crash.h's otkit_pairs_forest builds the spanning tree.
 *
 * Lines: the sources 0 .. n - 1 and sinks n .. n + m - 1 with mass left.  A line's
 * penalty is the gap c2 - c1 between its two cheapest arcs to open lines of the other side
 * (+inf with one partner left); VAM takes the line of largest penalty (ties: the larger
 * cheapest cost c1, then the lowest index) and sends min(mass left at either end) on its
 * cheapest arc (ties: the first in the cost order), which closes one end or both.  Every
 * arc exhausts one end, which no later arc meets, so the arcs form a forest, as the
 * greedy's do (_pairs_crash.h).  On 8 x 8 digits (squared grid cost) the simplex then takes
 * 32.5 pivots a pair instead of 76.2 after the greedy start (42.9 with ties to the lowest
 * index: many penalties are equal small integers).
 *
 * Cost: each line walks a cursor along its row (column) of the full cost in cost order,
 * sorted once per cost (order_r, order_c: bins, each row ended by a sentinel bin whose map
 * entry is n + m), skipping the bins that are zero in the pair or closed (map -1); it keeps
 * the positions of its two cheapest open partners.  A line watches those two partners:
 * each has a list of its watchers' nodes (node 2x or 2x + 1 of line x, one per cursor
 * position), and when it closes, only its watchers move on and get their new penalty
 * (which may rise: lazy penalties, recomputed at the top only, took 60.3 pivots).  The
 * largest key: blocks of 16 lines, each with its best line; a pick scans the block bests,
 * a key change rescans its block only when the block's best fell.  On the digits ~30.5 k
 * instructions a pair against ~13.4 k for the greedy, for ~44 fewer pivots (~1,000 each
 * with their searches).  Tried: a tournament tree for the maximum (+1.9 k; a first try
 * with one, ~58 k), blocks of 8 or 32 lines (+0.45 k, +13 k), the lines' fields in
 * separate arrays (+1.9 k, spills), the costs in sorted arrays beside the orders (-1.1 k,
 * but 8 more bytes per entry of M).
 *
 * Reference: N. V. Reinfeld, W. R. Vogel, Mathematical Programming, Prentice-Hall, 1958
 * (the method); R. K. Ahuja, T. L. Magnanti, J. B. Orlin, Network Flows, 1993, ch. 11.
 */
#ifndef OTKIT_PAIRS_VOGEL_H
#define OTKIT_PAIRS_VOGEL_H

#include <math.h>
#include <stdint.h>

#include "_pairs_crash.h" /* otkit_pairs_send */

#define OTKIT_VOGEL_SHIFT 4 /* blocks of 16 lines (8: +0.45 k a pair, 32: +13 k) */
#define OTKIT_VOGEL_BLOCK (1 << OTKIT_VOGEL_SHIFT)
/* The key c2 - c1 + c1 2**-26: the tie to the larger c1 without a second comparison (exact
 * on integer costs below 2**26; otherwise a tie-break within 2**-26 of the costs). */
#define OTKIT_VOGEL_TIE 1.4901161193847656e-08

typedef struct {
    const int32_t *ord; /* the other side's bins in cost order, sentinel-ended */
    const double *cst;  /* the pair's costs of this line: partner y's at cst[y * stride] */
    double key;         /* the penalty with its tie-break; -inf: closed, or no partner */
    double c1;          /* the cheapest cost */
    int pos1, pos2;     /* the two cheapest open partners in ord; pos1 -1: closed */
    int first;          /* which of the line's watch nodes 2x, 2x + 1 is on pos1 */
    int head;           /* the first node watching this line (-1: none) */
    int next[2];        /* the next nodes after 2x and 2x + 1 in their lists */
} OtkitVogelLine;

typedef struct {
    int N; /* n + m: also the sentinel's map entry */
    OtkitVogelLine *L;
    int *bbest;    /* each block's best line */
    double *bkey;  /* its key */
} OtkitVogel;

/* Line x's key changed from old: its block's best kept (the lowest index of the largest). */
static inline void vogel_update(OtkitVogel *V, int x, double old)
{
    int b = x >> OTKIT_VOGEL_SHIFT, bb = V->bbest[b];
    const OtkitVogelLine *L = V->L;
    double kx = L[x].key;
    if (bb == x) {
        if (kx < old) {
            int k, lo = b << OTKIT_VOGEL_SHIFT;
            double best = L[lo].key;
            bb = lo;
            for (k = lo + 1; k < lo + OTKIT_VOGEL_BLOCK; ++k)
                if (L[k].key > best) {
                    bb = k;
                    best = L[k].key;
                }
            V->bbest[b] = bb;
            V->bkey[b] = best;
        } else {
            V->bkey[b] = kx;
        }
    } else if (kx > V->bkey[b] || (kx == V->bkey[b] && x < bb)) {
        V->bbest[b] = x;
        V->bkey[b] = kx;
    }
}

static inline void vogel_key(OtkitVogelLine *l, int a2, int64_t stride, int N)
{
    double c1 = l->c1;
    l->key = a2 == N ? INFINITY : (l->cst[a2 * stride] - c1) + c1 * OTKIT_VOGEL_TIE;
}

static inline void vogel_watch(OtkitVogelLine *L, int k, int a)
{
    L[k >> 1].next[k & 1] = L[a].head;
    L[a].head = k;
}

/* Line x's two cheapest open partners (loc: the other side's map), watched. */
static inline void vogel_first(OtkitVogel *V, int x, const int32_t *loc, int64_t stride)
{
    OtkitVogelLine *L = V->L, *l = L + x;
    const int32_t *o = l->ord, *q = o, *r;
    while (loc[*q] < 0)
        ++q;
    int a1 = loc[*q], a2;
    l->pos1 = (int)(q - o);
    l->first = 2 * x;
    if (a1 == V->N) { /* the sentinel: no partner (the other side has none) */
        l->key = -INFINITY;
        return;
    }
    r = q + 1;
    while (loc[*r] < 0)
        ++r;
    a2 = loc[*r];
    l->pos2 = (int)(r - o);
    vogel_watch(L, 2 * x, a1);
    vogel_watch(L, 2 * x + 1, a2);
    l->c1 = l->cst[a1 * stride];
    vogel_key(l, a2, stride, V->N);
}

/* Line z has closed (loc: its side's map, z's bin already -1 there): its open watchers
 * move the cursor that was on z to their next open partner.  Only one line of a side
 * closes at a time, so a watcher's other partner is open. */
static inline void vogel_watchers(OtkitVogel *V, int z, const int32_t *loc, int64_t stride)
{
    OtkitVogelLine *L = V->L;
    int k = L[z].head, nk;
    for (; k >= 0; k = nk) {
        int y = k >> 1;
        OtkitVogelLine *l = L + y;
        nk = l->next[k & 1];
        if (l->pos1 < 0)
            continue; /* closed */
        const int32_t *o = l->ord, *r = o + l->pos2 + 1;
        double old = l->key;
        if (l->first == k) { /* its cheapest closed: the second moves up */
            l->first = k ^ 1;
            l->pos1 = l->pos2;
            int a1 = loc[o[l->pos1]];
            if (a1 == V->N) {
                l->key = -INFINITY;
                vogel_update(V, y, old);
                continue;
            }
            l->c1 = l->cst[a1 * stride];
        }
        while (loc[*r] < 0)
            ++r;
        int a2 = loc[*r];
        l->pos2 = (int)(r - o);
        vogel_watch(L, k, a2);
        vogel_key(l, a2, stride, V->N);
        vogel_update(V, y, old);
    }
}

static inline void vogel_close(OtkitVogel *V, int x)
{
    double old = V->L[x].key;
    V->L[x].key = -INFINITY;
    V->L[x].pos1 = -1;
    vogel_update(V, x, old);
}

/* VAM on the pair of sources bins_a (masses a, n of them) and sinks bins_b (b, m), costs
 * cost (n x m, row-major): its arcs basic_s[e] -> basic_t[e] carrying basic_flow[e] in the
 * order taken, their number returned (-1: more than a forest has, which cannot happen),
 * residual[x] the mass left at each node.  order_r: n_full rows of m_full + 1 bins (the
 * last the sentinel m_full), order_c: m_full rows of n_full + 1; loc_a, loc_b: maps of
 * n_full + 1 and m_full + 1 entries, all -1 (left so).  Scratch: lines, 16 nb + 1 entries,
 * bbest and bkey, nb each, nb = ceil((n + m) / 16). */
static int otkit_pairs_vogel(int n, int m, const int64_t *bins_a, const int64_t *bins_b,
                             const int32_t *order_r, int64_t n_full, const int32_t *order_c,
                             int64_t m_full, const double *cost, int32_t *loc_a,
                             int32_t *loc_b, const double *a, const double *b, int *basic_s,
                             int *basic_t, double *basic_flow, double *residual,
                             OtkitVogelLine *lines, int *bbest, double *bkey)
{
    OtkitVogel V;
    OtkitVogelLine *L = lines;
    int N = n + m, nb = (N + OTKIT_VOGEL_BLOCK - 1) >> OTKIT_VOGEL_SHIFT, x, n_basic = 0;
    V.N = N;
    V.L = L;
    V.bbest = bbest;
    V.bkey = bkey;
    for (x = 0; x < n; ++x) {
        loc_a[bins_a[x]] = x;
        residual[x] = a[x];
        L[x].ord = order_r + bins_a[x] * (m_full + 1);
        L[x].cst = cost + (int64_t)x * m - n;
    }
    for (x = 0; x < m; ++x) {
        loc_b[bins_b[x]] = n + x;
        residual[n + x] = b[x];
        L[n + x].ord = order_c + bins_b[x] * (n_full + 1);
        L[n + x].cst = cost + x;
    }
    loc_a[n_full] = N;
    loc_b[m_full] = N;
    for (x = 0; x <= OTKIT_VOGEL_BLOCK * nb; ++x)
        L[x].head = -1;
    for (x = 0; x < n; ++x)
        vogel_first(&V, x, loc_b, 1);
    for (x = n; x < N; ++x)
        vogel_first(&V, x, loc_a, m);
    for (x = N; x < OTKIT_VOGEL_BLOCK * nb; ++x)
        L[x].key = -INFINITY;
    for (x = 0; x < nb; ++x) {
        int k, bb = x << OTKIT_VOGEL_SHIFT;
        for (k = bb + 1; k < (x << OTKIT_VOGEL_SHIFT) + OTKIT_VOGEL_BLOCK; ++k)
            if (L[k].key > L[bb].key)
                bb = k;
        bbest[x] = bb;
        bkey[x] = L[bb].key;
    }
    for (;;) {
        int pick = 0;
        for (x = 1; x < nb; ++x)
            if (bkey[x] > bkey[pick])
                pick = x;
        if (bkey[pick] == -INFINITY)
            break; /* no line with a partner left */
        int best = bbest[pick];
        int y = (best < n ? loc_b : loc_a)[L[best].ord[L[best].pos1]];
        int s = best < n ? best : y, t = best < n ? y : best;
        n_basic = otkit_pairs_send(s, t, residual[s] < residual[t] ? residual[s] : residual[t],
                                   N, n_basic, residual, basic_s, basic_t, basic_flow);
        if (n_basic < 0)
            break;
        int closed_s = residual[s] == 0.0, closed_t = residual[t] == 0.0;
        if (closed_s) {
            loc_a[bins_a[s]] = -1;
            vogel_close(&V, s);
        }
        if (closed_t) {
            loc_b[bins_b[t - n]] = -1;
            vogel_close(&V, t);
        }
        if (closed_s)
            vogel_watchers(&V, s, loc_a, m);
        if (closed_t)
            vogel_watchers(&V, t, loc_b, 1);
    }
    for (x = 0; x < n; ++x)
        loc_a[bins_a[x]] = -1;
    for (x = 0; x < m; ++x)
        loc_b[bins_b[x]] = -1;
    loc_a[n_full] = -1;
    loc_b[m_full] = -1;
    return n_basic;
}

#endif
