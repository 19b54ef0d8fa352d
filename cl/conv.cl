// Convolution as im2col + GEMM (matmul.cl), and col2im for the input's
// gradient. x: (N, C, H, W), w: (O, C, kh, kw) -> (N, O, H', W') with
// H' = (H + 2·padding - kh) / stride + 1 (src/backend/geometry.rs).
//
// cols is (C·kh·kw, N·H'·W'): row r = (c, ky, kx), column j = (n, oy, ox).
// Then out' = w (O, C·kh·kw) · cols is (O, N, H'W'), which layout.cl's
// swap_outer turns into (N, O, H'W'); the backward runs it the other way:
// dw = g' · colsᵀ and dcols = wᵀ · g', then col2im sums dcols into dx.

// Plane kernels (see cl/README.md): a 3-D range (column, row, plane) whose
// work-groups are one plane deep, so everything computed from the plane
// index (the divisions by shape sizes) is the same for a whole work-group
// and a CPU driver computes it once per group, not per element.

// Plane z = (r, img), r = (c, ky, kx); item (ox, oy): writes
// cols[r, img, oy, ox].
__kernel void im2col(__global const float* x, __global float* cols,
                     uint n, uint c, uint h, uint w, uint kh, uint kw,
                     uint stride, uint pad, uint oh, uint ow) {
    uint z = get_global_id(2);
    uint img = z % n;
    uint r = z / n;
    uint kx = r % kw;
    uint ky = (r / kw) % kh;
    uint ch = r / (kw * kh);
    __global const float* src = x + (size_t)(img * c + ch) * h * w;
    __global float* dst = cols + (size_t)z * oh * ow;
    int oy = (int)get_global_id(1);
    int ox = (int)get_global_id(0);
    if (oy < (int)oh && ox < (int)ow) {
        // int arithmetic and an unconditional load (of element 0 outside
        // the image) keep the body branch-free for a CPU driver's vectoriser
        int y = oy * (int)stride + (int)ky - (int)pad;
        int xx = ox * (int)stride + (int)kx - (int)pad;
        bool inside = y >= 0 && y < (int)h && xx >= 0 && xx < (int)w;
        float v = src[inside ? y * (int)w + xx : 0];
        dst[oy * (int)ow + ox] = inside ? v : 0.0f;
    }
}

// Plane z = (img, ch); item (x, y): dx[img, ch, y, x] = Σ over (ky, kx)
// whose output position (oy, ox) exists of dcols[(ch, ky, kx), (img, oy, ox)].
// A gather: deterministic, no atomics. Stride 1 (the common case) skips the
// divisibility tests.
__kernel void col2im(__global const float* dcols, __global float* dx,
                     uint n, uint c, uint h, uint w, uint kh, uint kw,
                     uint stride, uint pad, uint oh, uint ow) {
    uint z = get_global_id(2);
    uint ch = z % c;
    uint img = z / c;
    uint p = oh * ow;
    size_t ncols = (size_t)n * p;
    __global const float* base = dcols + (size_t)ch * kh * kw * ncols + (size_t)img * p;
    uint y = get_global_id(1);
    uint x = get_global_id(0);
    if (y >= h || x >= w) {
        return;
    }
    float s = 0.0f;
    if (stride == 1) {
        for (uint ky = 0; ky < kh; ky++) {
            int oy = (int)(y + pad) - (int)ky;
            if (oy < 0 || oy >= (int)oh) {
                continue;
            }
            __global const float* src = base + (size_t)(ky * kw) * ncols + (uint)oy * ow;
            for (uint kx = 0; kx < kw; kx++) {
                int ox = (int)(x + pad) - (int)kx;
                if (ox >= 0 && ox < (int)ow) {
                    s += src[(size_t)kx * ncols + (uint)ox];
                }
            }
        }
    } else {
        for (uint ky = 0; ky < kh; ky++) {
            int ty = (int)(y + pad) - (int)ky;          // = oy·stride
            if (ty < 0 || ty % (int)stride != 0 || (uint)ty / stride >= oh) {
                continue;
            }
            uint oy = (uint)ty / stride;
            __global const float* src = base + (size_t)(ky * kw) * ncols + oy * ow;
            for (uint kx = 0; kx < kw; kx++) {
                int tx = (int)(x + pad) - (int)kx;
                if (tx < 0 || tx % (int)stride != 0 || (uint)tx / stride >= ow) {
                    continue;
                }
                s += src[(size_t)kx * ncols + (uint)tx / stride];
            }
        }
    }
    dx[((size_t)z * h + y) * w + x] = s;
}
