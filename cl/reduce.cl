// Reductions and their companions: sums over axes (also used for
// sum_to_shape), max along one axis with its winners,
// scatter_add (the gradient of max and max-pool), log-softmax and its
// backward. Semantics: src/backend/mod.rs `BackendStorage`; reference:
// the CPU backend.
//
// Shapes are merged on the host before a launch: runs of adjacent kept (or
// reduced) dimensions become one, so rank <= 8 covers every tensor the
// engine makes. Dimensions and strides travel as uint8 vectors.

#define UNPACK8(v, a) uint a[8] = {v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7}

// Partial sums: work item g = o·chunks + c adds the c-th slice (of `per`
// elements, in row-major order of the reduced dimensions) of output o's
// reduced elements. With chunks = 1 it writes the finished sums; otherwise
// the host sums the (n_out, chunks) partials with a second launch, which
// keeps long sums (a bias gradient over N·H·W) spread over many work items.
__kernel void sum_axes(__global const float* x, __global float* out,
                       uint n_out, uint chunks, uint per, uint rcount,
                       uint krank, uint8 kshape, uint8 kstride,
                       uint rrank, uint8 rshape, uint8 rstride) {
    uint g = get_global_id(0);
    if (g >= n_out * chunks) {
        return;
    }
    uint o = g / chunks;
    uint c = g % chunks;
    UNPACK8(kshape, kd);
    UNPACK8(kstride, ks);
    UNPACK8(rshape, rd);
    UNPACK8(rstride, rs);
    uint base = 0;
    uint rest = o;
    for (int d = (int)krank - 1; d >= 0; d--) {
        base += (rest % kd[d]) * ks[d];
        rest /= kd[d];
    }
    uint start = c * per;
    uint end = min(start + per, rcount);
    // odometer over the reduced dimensions, starting at `start`
    uint idx[8];
    uint off = 0;
    rest = start;
    for (int d = (int)rrank - 1; d >= 0; d--) {
        idx[d] = rest % rd[d];
        rest /= rd[d];
        off += idx[d] * rs[d];
    }
    float acc = 0.0f;
    int last = (int)rrank - 1;
    uint inner_len = rd[last];
    uint inner_stride = rs[last];
    uint r = start;
    while (r < end) {
        // run along the innermost reduced dimension
        uint run = min(inner_len - idx[last], end - r);
        for (uint k = 0; k < run; k++) {
            acc += x[base + off + k * inner_stride];
        }
        r += run;
        off += run * inner_stride;
        idx[last] += run;
        // carry
        for (int d = last; d > 0 && idx[d] == rd[d]; d--) {
            off -= rd[d] * rs[d];
            idx[d] = 0;
            idx[d - 1] += 1;
            off += rs[d - 1];
        }
    }
    out[g] = acc;
}

// x viewed as (outer, len, inner): the max along len and the flat input
// index of its FIRST maximal element (strict '>' while scanning, as the CPU).
__kernel void max_dim(__global const float* x, __global float* out,
                      __global uint* idx, uint outer, uint len, uint inner) {
    uint i = get_global_id(0);
    if (i >= outer * inner) {
        return;
    }
    uint base = (i / inner) * len * inner + (i % inner);
    uint best = base;
    float best_v = x[base];
    for (uint k = 1; k < len; k++) {
        uint at = base + k * inner;
        float v = x[at];
        if (v > best_v) {
            best = at;
            best_v = v;
        }
    }
    out[i] = best_v;
    idx[i] = best;
}

// out[idx[i]] = g[i] where the indices are known to be distinct (max along a
// dimension, max-pool with stride >= k); out was zero-filled.
__kernel void scatter_unique(__global const float* g, __global const uint* idx,
                             __global float* out, uint n) {
    uint i = get_global_id(0);
    if (i < n) {
        out[idx[i]] = g[i];
    }
}

// out[idx[i]] += g[i] with repeats (overlapping pool windows): a float add
// built from 32-bit compare-and-swap (core since OpenCL 1.1). The order of
// the additions varies, so the sums can differ in the last bits.
__kernel void scatter_atomic(__global const float* g, __global const uint* idx,
                             __global float* out, uint n) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    volatile __global uint* cell = (volatile __global uint*)(out + idx[i]);
    float add = g[i];
    uint old = *cell;
    for (;;) {
        uint desired = as_uint(as_float(old) + add);
        uint seen = atomic_cmpxchg(cell, old, desired);
        if (seen == old) {
            break;
        }
        old = seen;
    }
}

// log-softmax along len of x viewed as (outer, len, inner), stably:
// y = x - max - ln Σ e^(x - max). One work item per row.
__kernel void log_softmax(__global const float* x, __global float* y,
                          uint outer, uint len, uint inner) {
    uint i = get_global_id(0);
    if (i >= outer * inner) {
        return;
    }
    uint base = (i / inner) * len * inner + (i % inner);
    float m = -INFINITY;
    for (uint k = 0; k < len; k++) {
        m = fmax(m, x[base + k * inner]);
    }
    float s = 0.0f;
    for (uint k = 0; k < len; k++) {
        s += exp(x[base + k * inner] - m);
    }
    float lse = m + log(s);
    for (uint k = 0; k < len; k++) {
        y[base + k * inner] = x[base + k * inner] - lse;
    }
}

// dx = g - e^y · Σ_len g, y the log-softmax output.
__kernel void log_softmax_backward(__global const float* y, __global const float* g,
                                   __global float* dx, uint outer, uint len, uint inner) {
    uint i = get_global_id(0);
    if (i >= outer * inner) {
        return;
    }
    uint base = (i / inner) * len * inner + (i % inner);
    float s = 0.0f;
    for (uint k = 0; k < len; k++) {
        s += g[base + k * inner];
    }
    for (uint k = 0; k < len; k++) {
        uint at = base + k * inner;
        dx[at] = g[at] - exp(y[at]) * s;
    }
}
