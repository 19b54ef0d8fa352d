// Convolution as im2col + GEMM (matmul.cl), and col2im for the input's
// gradient. x: (N, C, H, W), w: (O, C, kh, kw) -> (N, O, H', W') with
// H' = (H + 2·padding - kh) / stride + 1 (src/backend/geometry.rs).
//
// cols is (C·kh·kw, N·H'·W'): row r = (c, ky, kx), column j = (n, oy, ox).
// Then out' = w (O, C·kh·kw) · cols is (O, N, H'W'), which layout.cl's
// swap_outer turns into (N, O, H'W'); the backward runs it the other way:
// dw = g' · colsᵀ and dcols = wᵀ · g', then col2im sums dcols into dx.

// Row kernels (see cl/README.md): a 2-D range (column, row), one element
// per work item; the divisions that locate a row depend on the row only,
// so they are not repeated along it.

// One row per (r, n, oy), r = (c, ky, kx): writes cols[r, n, oy, 0..ow).
__kernel void im2col(__global const float* x, __global float* cols,
                     uint n, uint c, uint h, uint w, uint kh, uint kw,
                     uint stride, uint pad, uint oh, uint ow) {
    uint row = get_global_id(1);
    uint rows = c * kh * kw * n * oh;
    if (row >= rows) {
        return;
    }
    uint oy = row % oh;
    uint img = (row / oh) % n;
    uint r = row / (oh * n);
    uint kx = r % kw;
    uint ky = (r / kw) % kh;
    uint ch = r / (kw * kh);
    int y = (int)(oy * stride + ky) - (int)pad;
    uint ox = get_global_id(0);
    if (ox >= ow) {
        return;
    }
    int xx = (int)(ox * stride + kx) - (int)pad;
    bool inside = y >= 0 && y < (int)h && xx >= 0 && xx < (int)w;
    cols[(size_t)row * ow + ox] =
        inside ? x[((img * c + ch) * h + (uint)y) * w + (uint)xx] : 0.0f;
}

// One row per (n, c, y): dx[n, c, y, x] = Σ over (ky, kx) whose output
// position (oy, ox) exists of dcols[(c, ky, kx), (n, oy, ox)]. A gather:
// deterministic, no atomics.
__kernel void col2im(__global const float* dcols, __global float* dx,
                     uint n, uint c, uint h, uint w, uint kh, uint kw,
                     uint stride, uint pad, uint oh, uint ow) {
    uint row = get_global_id(1);
    if (row >= n * c * h) {
        return;
    }
    uint y = row % h;
    uint ch = (row / h) % c;
    uint img = row / (h * c);
    uint p = oh * ow;
    uint ncols = n * p;
    uint x = get_global_id(0);
    if (x < w) {
        float s = 0.0f;
        for (uint ky = 0; ky < kh; ky++) {
            int ty = (int)(y + pad) - (int)ky;          // = oy·stride
            if (ty < 0 || ty % (int)stride != 0 || (uint)ty / stride >= oh) {
                continue;
            }
            uint oy = (uint)ty / stride;
            __global const float* src = dcols + (size_t)((ch * kh + ky) * kw) * ncols + img * p + oy * ow;
            for (uint kx = 0; kx < kw; kx++) {
                int tx = (int)(x + pad) - (int)kx;
                if (tx < 0 || tx % (int)stride != 0 || (uint)tx / stride >= ow) {
                    continue;
                }
                s += src[(size_t)kx * ncols + (uint)tx / stride];
            }
        }
        dx[(size_t)row * w + x] = s;
    }
}
