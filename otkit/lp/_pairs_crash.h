/* The crash basis of the batch solver of many small dense problems (_simplex_batch.pyx)
 * on costs too large for the orders of Vogel's start (_pairs_vogel.h): the forest of a
 * least-cost greedy flow, written into the arrays of a spanning tree through an artificial
 * root (the layout of _simplex_tree.pxd), as _shortlist_crash.h does for the sparse solver.
 * The tree of a forest (otkit_pairs_forest) serves both starts.
 *
 * Nodes: sources 0 .. n - 1, sinks n .. n + m - 1, the root n + m; arc i * m + j runs from
 * source i to sink n + j.  The arcs i -> bin q are taken in the order src[0 .. n_order - 1],
 * dst[...] (the cost order of the full cost, sorted once per call, filtered once per first
 * histogram: otkit_pairs_filter); an arc whose sink bin is zero in the pair (loc_b[q] < 0)
 * is skipped, the others carry min(supply left at the source, demand left at the sink).
 * Then the nodes with mass left (on 8 x 8 digits, ~21 of ~64 after the cheapest eighth of
 * the arcs, each one more tree under the root) are matched too: each source in turn sends
 * its mass to its cheapest sink with demand left, until one side runs out (76.2 pivots a
 * pair instead of 85.6, 4.7 k fewer instructions; the least-cost pair among them at each
 * step instead took 75.5 pivots, for a scan of ~100 arcs a step).  Every arc that carries
 * flow exhausts one of its ends (x - x is exactly 0), which no later arc meets again: the
 * arcs that carry flow form a forest, and a tree of k arcs has k exhausted nodes out of
 * k + 1, so at most one node with mass left.
 *
 * That node hangs its tree from the root by an artificial arc carrying the mass left (up
 * from a source, down to a sink); a tree with none hangs by a zero-flow arc root -> its
 * first node.  Zero flow only on arcs that point away from the root: the tree is strongly
 * feasible.  (Hanging each tree from its centre instead, the middle of a longest path, for
 * a shallower tree, took 2% more pivots on 8 x 8 digits.)
 */
#ifndef OTKIT_PAIRS_CRASH_H
#define OTKIT_PAIRS_CRASH_H

#include <stdint.h>

/* The arcs src[0 .. n_order - 1] -> dst[...] (bins) whose source bin is nonzero in the
 * first histogram (loc_a[p] >= 0), in their order, into out_src (the source's index among
 * the nonzero bins) and out_dst (the sink's bin); returns their number.  Done once for
 * the pairs that share a first histogram. */
static int64_t otkit_pairs_filter(const int32_t *src, const int32_t *dst, int64_t n_order,
                                  const int32_t *loc_a, int32_t *out_src, int32_t *out_dst)
{
    int64_t q, count = 0;
    for (q = 0; q < n_order; ++q) {
        int32_t s = loc_a[src[q]];
        if (s >= 0) {
            out_src[count] = s;
            out_dst[count] = dst[q];
            ++count;
        }
    }
    return count;
}

/* Basic arc n_basic: s -> t carrying f, the mass left at the end that runs out first
 * (min(residual[s], residual[t]): x - x leaves exactly 0 there); both ends lowered by f.
 * Returns n_basic + 1, or -1 when the arcs already fill a forest of N nodes (N - 1 arcs).
 * The step of every start here (the greedy, its matching, VAM). */
static inline int otkit_pairs_send(int s, int t, double f, int N, int n_basic,
                                   double *residual, int *basic_s, int *basic_t,
                                   double *basic_flow)
{
    if (n_basic >= N - 1)
        return -1;
    residual[s] -= f;
    residual[t] -= f;
    basic_s[n_basic] = s;
    basic_t[n_basic] = t;
    basic_flow[n_basic] = f;
    return n_basic + 1;
}

static int otkit_pairs_forest(int n, int m, int n_basic, const int *basic_s,
                              const int *basic_t, const double *basic_flow,
                              const double *residual, int *parent, int64_t *arc, uint8_t *up,
                              double *flow, int *thread, int *rev_thread, int *last,
                              int *preorder);

/* Fills parent, arc (-1: the artificial arc), up (1: the arc points to the parent), flow,
 * thread (preorder successor, cyclic through the root), rev_thread and last for the
 * n + m + 1 nodes.  cost: the pair's n x m costs, row-major (NULL: no second stage).
 * Scratch: work, 3 (n + m) ints; residual and basic_flow, n + m doubles each.  Returns 0
 * (the arrays half written) if the arcs that carry flow are not such a forest (which exact
 * residuals rule out), else 1.
 *
 * The tree comes from the order of the greedy arcs, without a search: each arc carrying
 * flow exhausts one of its ends (its source when both), which no later arc meets, so taken
 * backwards each arc brings that end in as a new leaf under the other one (a node not met
 * yet being the top of a new tree, under the root): its parent, and its place in the
 * preorder right after the parent (a first child).  The top of each tree is the one node
 * no arc exhausted: the node with mass left, if any. */
static int otkit_pairs_crash(int n, int m, const int32_t *src, const int32_t *dst,
                             int64_t n_order, const int32_t *loc_b, const double *cost,
                             const double *a, const double *b, int *parent, int64_t *arc,
                             uint8_t *up,
                             double *flow, int *thread, int *rev_thread, int *last,
                             int *work, double *residual, double *basic_flow)
{
    int n_nodes = n + m, x, s, t, n_basic = 0, left_a = n, left_b = m;
    int *basic_s = work, *basic_t = basic_s + n_nodes, *preorder = basic_t + n_nodes;
    int64_t q;
    for (x = 0; x < n; ++x)
        residual[x] = a[x];
    for (x = 0; x < m; ++x)
        residual[n + x] = b[x];
    for (q = 0; q < n_order; ++q) {
        t = loc_b[dst[q]];
        if (t < 0)
            continue;
        s = src[q];
        t += n;
        double f = residual[s] < residual[t] ? residual[s] : residual[t];
        if (f > 0.0) {
            n_basic = otkit_pairs_send(s, t, f, n_nodes, n_basic, residual, basic_s, basic_t,
                                       basic_flow);
            if (n_basic < 0)
                return 0; /* more arcs than a forest has */
            left_a -= residual[s] == 0.0;
            left_b -= residual[t] == 0.0;
            if (left_a == 0 || left_b == 0)
                break;
        }
    }
    /* The nodes with mass left: each source in turn sends it to its cheapest sink with
     * demand left (cost: the pair's n x m costs, row-major), until one side runs out. */
    if (cost != NULL && left_a > 0 && left_b > 0) {
        int *open = work + 2 * n_nodes, n_open = 0, k, best_k;
        for (t = 0; t < m; ++t)
            if (residual[n + t] > 0.0)
                open[n_open++] = t;
        for (s = 0; s < n && n_open > 0; ++s) {
            while (residual[s] > 0.0 && n_open > 0) {
                const double *row = cost + (int64_t)s * m;
                best_k = 0;
                for (k = 1; k < n_open; ++k)
                    if (row[open[k]] < row[open[best_k]])
                        best_k = k;
                t = n + open[best_k];
                n_basic = otkit_pairs_send(
                    s, t, residual[s] < residual[t] ? residual[s] : residual[t], n_nodes,
                    n_basic, residual, basic_s, basic_t, basic_flow);
                if (n_basic < 0)
                    return 0;
                if (residual[t] == 0.0)
                    open[best_k] = open[--n_open];
            }
        }
    }
    return otkit_pairs_forest(n, m, n_basic, basic_s, basic_t, basic_flow, residual, parent,
                              arc, up, flow, thread, rev_thread, last, preorder);
}

/* The tree of the forest of basic arcs basic_s[e] -> basic_t[e] carrying basic_flow[e]
 * (e < n_basic, in the order they were taken, each exhausting one of its ends, which no
 * later arc meets), residual: the mass left at each node, as described above (the greedy's
 * arcs or VAM's).  Scratch: preorder, n + m ints. */
static int otkit_pairs_forest(int n, int m, int n_basic, const int *basic_s,
                              const int *basic_t, const double *basic_flow,
                              const double *residual, int *parent, int64_t *arc, uint8_t *up,
                              double *flow, int *thread, int *rev_thread, int *last,
                              int *preorder)
{
    int n_nodes = n + m, root = n + m, x, y, s, t, e;
    for (x = 0; x < n_nodes; ++x)
        parent[x] = -1; /* not met */
    thread[root] = root;
    for (e = n_basic - 1; e >= 0; --e) {
        s = basic_s[e];
        t = basic_t[e];
        if (residual[s] == 0.0 && parent[s] == -1) {
            x = s; /* the end exhausted by this arc: met for the first time here */
            y = t;
        } else {
            x = t;
            y = s;
        }
        if (parent[x] != -1)
            return 0; /* not a forest of that order (exact residuals rule it out) */
        if (parent[y] == -1) {
            /* the top of a new tree, first child of the root */
            parent[y] = root;
            arc[y] = -1;
            thread[y] = thread[root];
            thread[root] = y;
        }
        parent[x] = y;
        arc[x] = (int64_t)s * m + (t - n);
        up[x] = x == s; /* the arc s -> t points up from its source */
        flow[x] = basic_flow[e];
        thread[x] = thread[y];
        thread[y] = x;
    }
    for (x = 0; x < n_nodes; ++x) {
        if (parent[x] == -1) {
            /* a node without arcs (when the scan stopped early) */
            parent[x] = root;
            arc[x] = -1;
            thread[x] = thread[root];
            thread[root] = x;
        }
        if (parent[x] == root) {
            /* the mass left goes up from a source, down to a sink (zero: down) */
            up[x] = x < n && residual[x] > 0.0;
            flow[x] = residual[x];
        }
    }
    /* rev_thread, and last in reverse preorder: a node's last child in preorder comes
     * first, so its subtree ends where the parent's does */
    y = root;
    for (e = 0; e < n_nodes; ++e) {
        x = thread[y];
        rev_thread[x] = y;
        preorder[e] = x;
        last[x] = x;
        y = x;
    }
    rev_thread[root] = y;
    last[root] = root;
    for (e = n_nodes - 1; e >= 0; --e) {
        x = preorder[e];
        if (last[parent[x]] == parent[x])
            last[parent[x]] = last[x];
    }
    return 1;
}

#endif
