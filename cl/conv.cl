// Convolution as im2col + GEMM (matmul.cl), and col2im for the input's
// gradient. x: (N, C, H, W), w: (O, C, kh, kw) -> (N, O, H', W') with
// H' = (H + 2·padding - kh) / stride + 1 (src/backend/geometry.rs).
//
// cols is (C·kh·kw, N·H'·W'): row r = (c, ky, kx), column j = (n, oy, ox).
// Then out' = w (O, C·kh·kw) · cols is (O, N, H'W'), which layout.cl's
// swap_outer turns into (N, O, H'W'); the backward runs it the other way:
// dw = g' · colsᵀ and dcols = wᵀ · g', then col2im sums dcols into dx.

// One work item per image plane (not per element): PoCL runs a work-group
// as a loop over its items and does not hoist the integer divisions that
// locate an element out of that loop (~26 cycles each, more than the copy),
// and a work-group per small 14×14 plane made its fixed cost per group
// dominate (28,800 groups for cnn-mnist's conv2). Here an item does its
// divisions once and copies contiguous rows, with the valid (unpadded)
// ranges computed once, as the CPU's `im2col_image` / `col2im_image`
// (backend/cpu/conv.rs). An earlier per-element version was about twice as
// slow end to end.

// The run [lo, hi) of outputs o whose input o·stride + k − pad lies in
// [0, len) (geometry.rs `valid`).
inline uint2 valid_run(uint k, uint pad, uint stride, uint out_len, uint len) {
    uint lo = k < pad ? min((pad - k + stride - 1) / stride, out_len) : 0;
    uint hi = len + pad > k ? min((len + pad - k + stride - 1) / stride, out_len) : 0;
    return (uint2)(lo, max(hi, lo));
}

// Range (img, 1, r), r = (c, ky, kx) the plane: item writes
// cols[r, img, 0..oh, 0..ow).
__kernel void im2col_image(__global const float* restrict x, __global float* restrict cols,
                           uint n, uint c, uint h, uint w, uint kh, uint kw,
                           uint stride, uint pad, uint oh, uint ow) {
    uint img = get_global_id(0);
    uint r = get_global_id(2);
    if (img >= n || get_global_id(1) != 0) {
        return;
    }
    uint kx = r % kw;
    uint ky = (r / kw) % kh;
    uint ch = r / (kw * kh);
    __global float* dst = cols + (size_t)(r * n + img) * oh * ow;
    __global const float* src = x + (size_t)(img * c + ch) * h * w;
    uint2 ys = valid_run(ky, pad, stride, oh, h);
    uint2 xs = valid_run(kx, pad, stride, ow, w);
    uint len = xs.y - xs.x;
    // padding rows above and below
    for (uint i = 0; i < ys.x * ow; i++) {
        dst[i] = 0.0f;
    }
    for (uint i = ys.y * ow; i < oh * ow; i++) {
        dst[i] = 0.0f;
    }
    for (uint oy = ys.x; oy < ys.y; oy++) {
        __global float* d = dst + oy * ow;
        __global const float* s =
            src + (oy * stride + ky - pad) * w + (xs.x * stride + kx - pad);
        for (uint o = 0; o < xs.x; o++) {
            d[o] = 0.0f;
        }
        if (stride == 1) {
            for (uint i = 0; i < len; i++) {
                d[xs.x + i] = s[i];
            }
        } else {
            for (uint i = 0; i < len; i++) {
                d[xs.x + i] = s[i * stride];
            }
        }
        for (uint o = xs.y; o < ow; o++) {
            d[o] = 0.0f;
        }
    }
}

// Range (img, 1, ch), ch the plane: item writes the plane dx[img, ch], adding
// each (ky, kx)'s block of dcols into it in (ky, kx) order: a gather (every
// plane has one writer), deterministic, no atomics; each pixel's terms are
// added in the order v1 adds them.
__kernel void col2im_image(__global const float* restrict dcols, __global float* restrict dx,
                           uint n, uint c, uint h, uint w, uint kh, uint kw,
                           uint stride, uint pad, uint oh, uint ow) {
    uint img = get_global_id(0);
    uint ch = get_global_id(2);
    if (img >= n || get_global_id(1) != 0) {
        return;
    }
    uint p = oh * ow;
    __global float* dst = dx + (size_t)(img * c + ch) * h * w;
    for (uint i = 0; i < h * w; i++) {
        dst[i] = 0.0f;
    }
    for (uint ky = 0; ky < kh; ky++) {
        uint2 ys = valid_run(ky, pad, stride, oh, h);
        for (uint kx = 0; kx < kw; kx++) {
            uint2 xs = valid_run(kx, pad, stride, ow, w);
            uint len = xs.y - xs.x;
            __global const float* src =
                dcols + ((size_t)((ch * kh + ky) * kw + kx) * n + img) * p + xs.x;
            for (uint oy = ys.x; oy < ys.y; oy++) {
                __global float* d = dst + (oy * stride + ky - pad) * w + (xs.x * stride + kx - pad);
                __global const float* s = src + oy * ow;
                if (stride == 1) {
                    for (uint i = 0; i < len; i++) {
                        d[i] += s[i];
                    }
                } else {
                    for (uint i = 0; i < len; i++) {
                        d[i * stride] += s[i];
                    }
                }
            }
        }
    }
}
