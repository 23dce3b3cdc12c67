/* The crash basis of the shortlist's sparse solves (SparseNetworkSimplex.crash in
 * _sparse_simplex.pyx): the forest of a greedy flow, written into the arrays of a
 * spanning tree through an artificial root (the layout of _simplex_tree.pxd).
 *
 * Nodes: sources 0 .. n - 1, sinks n .. n + m - 1, the root n + m.  Arc k runs from source
 * tail[k] to sink n + head[k].  The arcs order[0 .. n_order - 1] are taken in turn, each
 * carrying min(supply left at its source, demand left at its sink).  Every arc that carries
 * flow exhausts one of its ends (x - x is exactly 0), which no later arc meets again: the
 * arcs that carry flow form a forest, and a tree of k arcs has k exhausted nodes out of
 * k + 1, so at most one node with mass left.  That node hangs its tree from the root by
 * an artificial arc carrying the mass left (up from a source, down to a sink); a tree
 * with none hangs by a zero-flow arc root -> its first node.  Zero flow only on arcs that
 * point away from the root: the tree is strongly feasible.
 */
#ifndef OTKIT_SHORTLIST_CRASH_H
#define OTKIT_SHORTLIST_CRASH_H

#include <stdint.h>

/* Fills parent, arc (-1: the artificial arc), up (1: the arc points to the parent), flow,
 * thread (preorder successor, cyclic through the root), rev_thread and last (each
 * subtree's last node in preorder) for the n + m + 1 nodes.  Scratch: residual (n + m),
 * basic, basic_flow (n + m), offset (n + m + 1), incident (2 (n + m)), stack, preorder
 * (n + m + 1).  Returns 0, with the arrays half written, if the arcs that carry flow do
 * not form such a forest (which exact residuals rule out), else 1. */
static int otkit_crash_forest(int n, int m, const int32_t *tail, const int32_t *head,
                              const int64_t *order, int64_t n_order, const double *a,
                              const double *b, int *parent, int64_t *arc, uint8_t *up,
                              double *flow, int *thread, int *rev_thread, int *last,
                              double *residual, int64_t *basic, double *basic_flow,
                              int64_t *offset, int64_t *incident, int *stack, int *preorder)
{
    int n_nodes = n + m, root = n + m, x, y, s, t, top, count = 0;
    int64_t q, k, e, slot, hang, n_basic = 0;
    for (x = 0; x < n; ++x)
        residual[x] = a[x];
    for (x = 0; x < m; ++x)
        residual[n + x] = b[x];
    for (q = 0; q < n_order; ++q) {
        k = order[q];
        s = tail[k];
        t = n + head[k];
        double f = residual[s] < residual[t] ? residual[s] : residual[t];
        if (f > 0.0) {
            residual[s] -= f;
            residual[t] -= f;
            if (n_basic >= n_nodes - 1)
                return 0; /* more arcs than a forest has */
            basic[n_basic] = k;
            basic_flow[n_basic] = f;
            n_basic += 1;
        }
    }
    /* adjacency of the forest: CSR over the nodes, entries index `basic` */
    for (x = 0; x <= n_nodes; ++x)
        offset[x] = 0;
    for (e = 0; e < n_basic; ++e) {
        offset[tail[basic[e]] + 1] += 1;
        offset[n + head[basic[e]] + 1] += 1;
    }
    for (x = 0; x < n_nodes; ++x)
        offset[x + 1] += offset[x];
    for (e = 0; e < n_basic; ++e) {
        incident[offset[tail[basic[e]]]++] = e;
        incident[offset[n + head[basic[e]]]++] = e;
    }
    for (x = n_nodes; x > 0; --x)
        offset[x] = offset[x - 1];
    offset[0] = 0;
    /* depth-first search from each hanging node: the nodes with mass left first, then the
     * first node of every tree not reached */
    for (x = 0; x < n_nodes; ++x)
        parent[x] = -2; /* not reached */
    for (hang = 0; hang < 2 * (int64_t)n_nodes; ++hang) {
        x = (int)(hang < n_nodes ? hang : hang - n_nodes);
        if (hang < n_nodes && !(residual[x] > 0.0))
            continue;
        if (parent[x] != -2) {
            if (hang < n_nodes)
                return 0; /* two nodes with mass left in one tree */
            continue;
        }
        parent[x] = root;
        arc[x] = -1;
        up[x] = x < n && residual[x] > 0.0;
        flow[x] = residual[x];
        stack[0] = x;
        top = 1;
        while (top > 0) {
            x = stack[--top];
            preorder[count++] = x;
            for (slot = offset[x]; slot < offset[x + 1]; ++slot) {
                e = incident[slot];
                k = basic[e];
                s = tail[k];
                t = n + head[k];
                y = s == x ? t : s;
                if (y == parent[x] && arc[x] == k)
                    continue;
                if (parent[y] != -2)
                    return 0; /* a cycle */
                parent[y] = x;
                arc[y] = k;
                up[y] = y == s; /* the arc s -> t points up from its source */
                flow[y] = basic_flow[e];
                stack[top++] = y;
            }
        }
    }
    thread[root] = preorder[0];
    rev_thread[preorder[0]] = root;
    for (q = 0; q + 1 < n_nodes; ++q) {
        thread[preorder[q]] = preorder[q + 1];
        rev_thread[preorder[q + 1]] = preorder[q];
    }
    thread[preorder[n_nodes - 1]] = root;
    rev_thread[root] = preorder[n_nodes - 1];
    for (x = 0; x <= n_nodes; ++x)
        last[x] = x;
    /* in reverse preorder, a node's last child in preorder comes first: its subtree ends
     * where the parent's does */
    for (q = n_nodes - 1; q >= 0; --q) {
        x = preorder[q];
        if (last[parent[x]] == parent[x])
            last[parent[x]] = last[x];
    }
    return 1;
}

#endif
