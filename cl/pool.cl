// Max and average pooling over square k×k windows, no padding, and average
// pooling's backward (max-pool's backward is reduce.cl's scatter).
//
// x: (N, C, H, W) -> (N, C, H', W'), H' = (H - k) / stride + 1 (floor).
// Tie rule for max: the FIRST maximum in row-major order within the window
// wins (strict '>' while scanning), as the CPU backend.
// Plane kernels (cl/README.md): plane z = (n, c), item (ox, oy) of the
// output, or (x, y) of the input for the backward.

// The window's values and winners; idx holds flat indices into x.
__kernel void max_pool(__global const float* x, __global float* out, __global uint* idx,
                       uint planes, uint h, uint w, uint oh, uint ow, uint k, uint stride) {
    uint plane = get_global_id(2);
    uint oy = get_global_id(1);
    uint ox = get_global_id(0);
    if (oy < oh && ox < ow) {
        uint i = (plane * oh + oy) * ow + ox;
        uint first = plane * h * w + oy * stride * w + ox * stride;
        uint best = first;
        float best_v = x[first];
        for (uint ky = 0; ky < k; ky++) {
            uint at = first + ky * w;
            for (uint kx = 0; kx < k; kx++) {
                float v = x[at + kx];
                if (v > best_v) {
                    best = at + kx;
                    best_v = v;
                }
            }
        }
        out[i] = best_v;
        idx[i] = best;
    }
}

// Mean of each window (sum, then times 1/k², as the CPU).
__kernel void avg_pool(__global const float* x, __global float* out,
                       uint planes, uint h, uint w, uint oh, uint ow, uint k, uint stride,
                       float scale) {
    uint plane = get_global_id(2);
    uint oy = get_global_id(1);
    uint ox = get_global_id(0);
    if (oy < oh && ox < ow) {
        uint first = plane * h * w + oy * stride * w + ox * stride;
        float s = 0.0f;
        for (uint ky = 0; ky < k; ky++) {
            for (uint kx = 0; kx < k; kx++) {
                s += x[first + ky * w + kx];
            }
        }
        out[(plane * oh + oy) * ow + ox] = s * scale;
    }
}

// dx[y, x] = Σ over the windows (oy, ox) that cover (y, x) of g[oy, ox]·scale:
// a gather, so no two work items write one cell.
__kernel void avg_pool_backward(__global const float* g, __global float* dx,
                                uint planes, uint h, uint w, uint oh, uint ow, uint k,
                                uint stride, float scale) {
    uint plane = get_global_id(2);
    uint y = get_global_id(1);
    uint x = get_global_id(0);
    if (y >= h || x >= w) {
        return;
    }
    // windows oy with oy·stride <= y < oy·stride + k
    uint oy_lo = (y + 1 > k) ? (y + 1 - k + stride - 1) / stride : 0;
    uint oy_hi = min(y / stride + 1, oh);
    __global const float* gp = g + plane * oh * ow;
    uint ox_lo = (x + 1 > k) ? (x + 1 - k + stride - 1) / stride : 0;
    uint ox_hi = min(x / stride + 1, ow);
    float s = 0.0f;
    for (uint oy = oy_lo; oy < oy_hi; oy++) {
        for (uint ox = ox_lo; ox < ox_hi; ox++) {
            s += gp[oy * ow + ox] * scale;
        }
    }
    dx[(plane * h + y) * w + x] = s;
}
