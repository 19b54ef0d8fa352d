/* cl/matmul.cl — f32 GEMM for the OpenCL backend (tuned on PoCL pthread, AVX-512).
 *
 *   C (M x N, row-major, overwritten) = op(A) . op(B)      op(X) = X or X^T
 *
 * Four kernels, one per transpose combination (the letter is n = as stored,
 * t = transposed), all with the SAME argument list:
 *
 *   matmul_nn   C = A   . B     A stored M x K, B stored K x N
 *   matmul_nt   C = A   . B^T   A stored M x K, B stored N x K
 *   matmul_tn   C = A^T . B     A stored K x M, B stored K x N
 *   matmul_tt   C = A^T . B^T   A stored K x M, B stored N x K
 *
 *   arg  0  int          M
 *   arg  1  int          N
 *   arg  2  int          K
 *   arg  3  __global const float* A
 *   arg  4  int          offA   element offset of A(0,0) in the buffer
 *   arg  5  int          lda    row stride of A AS STORED (>= its column count)
 *   arg  6  __global const float* B
 *   arg  7  int          offB
 *   arg  8  int          ldb    row stride of B as stored
 *   arg  9  __global float* C
 *   arg 10  int          offC
 *   arg 11  int          ldc    row stride of C (>= N)
 *
 * Element (r, c) of a stored matrix X is X[offX + r*ldX + c].
 *
 * Launch geometry (2-D NDRange; cdiv(a,b) = (a+b-1)/b, rup(a,b) = cdiv(a,b)*b).
 * The local size is REQUIRED exactly as given (kernels use barriers).
 *
 *   matmul_nn, matmul_tn:  global = { cdiv(N,32),          rup(cdiv(M,8), 16) }
 *                          local  = { 1, 16 }
 *   matmul_tt:             global = { rup(cdiv(N,8), 16),  cdiv(M,32) }
 *                          local  = { 16, 1 }
 *   matmul_nt:             global = { rup(cdiv(N,4), 4),   rup(cdiv(M,4), 4) }
 *                          local  = { 4, 4 }
 *
 * Host-side requirements:
 *   - M >= 1 and N >= 1 (skip the launch when M == 0 or N == 0; K == 0 gives C = 0).
 *   - No padding or alignment of the buffers is needed; every read stays inside
 *     the stored matrices, and nothing outside the M x N block of C is written.
 *   - C must not overlap A or B.  All index arithmetic is 32-bit: offsets and
 *     (rows * ld) must stay below 2^31 elements.
 *   - Build options: none required ("" or "-cl-fast-relaxed-math" perform the
 *     same; fused multiply-add is requested explicitly with fma()).
 *
 * Design: each work-item owns an 8 x 32 register tile (16 float16 accumulators,
 * broadcast of op(A) elements x float16 rows of op(B)) for nn/tn; tt computes
 * C^T = B . A with the same tile and stores it transposed; nt (both operands
 * contiguous along K) uses a 4 x 4 tile of float16 dot-product accumulators.
 * Edge tiles are shifted inwards so that they stay full (overlapping tiles
 * write identical values); widths below 32 (resp. 4) use clamped gathers.
 * K is walked in chunks of 256 with a work-group barrier after each chunk:
 * PoCL then runs all work-items of the group over the same chunk, so the
 * shared op(B) panel stays in L1/L2 even for power-of-two strides.
 */
//@launch matmul_nn TM=8 TN=32 LX=1 LY=16
//@launch matmul_tn TM=8 TN=32 LX=1 LY=16
//@launch matmul_tt TM=32 TN=8 LX=16 LY=1
//@launch matmul_nt TM=4 TN=4 LX=4 LY=4

#ifndef KC
#define KC 256
#endif
#ifndef KCD
#define KCD 256
#endif

/* ---------------- broadcast form: 8 x 32 register tile ---------------- */
#define ACC_DECL(r) float16 c##r##0 = 0, c##r##1 = 0; \
    __global const float* x##r = X + min(r0 + (r), R - 1) * xr;
#define ACC_STEP(r) { float a = x##r[k * xk]; c##r##0 = fma(a, y0, c##r##0); c##r##1 = fma(a, y1, c##r##1); }
#define ACC_STORE(r) if (r0 + (r) < R) { \
    if (TC || Cn < 32) { for (int c = 0; c < 16; ++c) { \
        if (c0 + c < Cn) C[(r0 + (r)) * csr + (c0 + c) * csc] = c##r##0[c]; \
        if (c0 + c + 16 < Cn) C[(r0 + (r)) * csr + (c0 + c + 16) * csc] = c##r##1[c]; } } \
    else { vstore16(c##r##0, 0, C + (r0 + (r)) * csr + c0); vstore16(c##r##1, 1, C + (r0 + (r)) * csr + c0); } }
#define ALL8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

// P(r, c) = sum_k X(r,k) * Y(k,c), X(r,k) = X[r*xr + k*xk] (R rows), Y(k,c) = Y[k*yk + c]
// (Cn columns, contiguous).  P(r,c) -> C[r*ldc + c] (TC=0) or C[c*ldc + r] (TC=1).
inline void bcast_body(int R, int Cn, int K,
                       __global const float* X, const int xr, const int xk,
                       __global const float* Y, const int yk,
                       __global float* C, int ldc, const int TC) {
    int c0 = get_global_id(TC ? 1 : 0) * 32;
    int r0 = get_global_id(TC ? 0 : 1) * 8;
    // work-items past the end (global size rounded up to the local size) only join barriers
    const int active = c0 < Cn && r0 < R;
    // shift edge tiles inwards (overlapping tiles recompute identical values)
    r0 = max(0, min(r0, R - 8));
    c0 = max(0, min(c0, Cn - 32));
    const int csr = TC ? 1 : ldc, csc = TC ? ldc : 1;
    ALL8(ACC_DECL)
    if (Cn >= 32) {
        __global const float* Yp = Y + c0;
        for (int kb = 0; kb < K; kb += KC) {
            int ke = min(K, kb + KC);
            if (active) for (int k = kb; k < ke; ++k) {
                float16 y0 = vload16(0, Yp + k * yk);
                float16 y1 = vload16(1, Yp + k * yk);
                ALL8(ACC_STEP)
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    } else {
        // narrow: gather with clamped column indices
        int16 ci0 = min((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Cn - 1);
        int16 ci1 = min(ci0 + 16, Cn - 1);
        for (int kb = 0; kb < K; kb += KC) {
            int ke = min(K, kb + KC);
            if (active) for (int k = kb; k < ke; ++k) {
                __global const float* yr = Y + k * yk;
                float16 y0, y1;
#define G(l) y0.s##l = yr[ci0.s##l]; y1.s##l = yr[ci1.s##l];
                G(0) G(1) G(2) G(3) G(4) G(5) G(6) G(7) G(8) G(9) G(a) G(b) G(c) G(d) G(e) G(f)
#undef G
                ALL8(ACC_STEP)
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    if (active) { ALL8(ACC_STORE) }
}

/* ---------------- dot form (A row-major, B transposed): 4 x 4 tile ---------------- */
inline float hsum16(float16 v) {
    float8 a = v.lo + v.hi; float4 b = a.lo + a.hi; float2 c = b.lo + b.hi; return c.x + c.y;
}

#define DROW(r) __global const float* a##r = A + min(i0 + (r), M - 1) * lda; \
                __global const float* b##r = B + min(j0 + (r), N - 1) * ldb;
#define DACC(r) float16 s##r##0 = 0, s##r##1 = 0, s##r##2 = 0, s##r##3 = 0;
#define DSTEP(r) { float16 av = vload16(0, a##r + k); \
    s##r##0 = fma(av, bv0, s##r##0); s##r##1 = fma(av, bv1, s##r##1); \
    s##r##2 = fma(av, bv2, s##r##2); s##r##3 = fma(av, bv3, s##r##3); }
#define DREM(r) { float av = a##r[k]; \
    t##r##0 = fma(av, b0[k], t##r##0); t##r##1 = fma(av, b1[k], t##r##1); \
    t##r##2 = fma(av, b2[k], t##r##2); t##r##3 = fma(av, b3[k], t##r##3); }
#define DSTORE1(r, c) if (j0 + (c) < N) C[(i0 + (r)) * ldc + j0 + (c)] = hsum16(s##r##c) + t##r##c;
#define DSTORE(r) if (i0 + (r) < M) { DSTORE1(r, 0) DSTORE1(r, 1) DSTORE1(r, 2) DSTORE1(r, 3) }
#define ALL4(M) M(0) M(1) M(2) M(3)

inline void dot_body(int M, int N, int K, __global const float* A, int lda,
                     __global const float* B, int ldb, __global float* C, int ldc) {
    int j0 = get_global_id(0) * 4;
    int i0 = get_global_id(1) * 4;
    const int active = i0 < M && j0 < N;
    i0 = max(0, min(i0, M - 4));
    j0 = max(0, min(j0, N - 4));
    ALL4(DROW)
    ALL4(DACC)
    int K16 = K & ~15;
    for (int kb = 0; kb < K16; kb += KCD) {
        int ke = min(K16, kb + KCD);
        if (active) for (int k = kb; k < ke; k += 16) {
            float16 bv0 = vload16(0, b0 + k), bv1 = vload16(0, b1 + k);
            float16 bv2 = vload16(0, b2 + k), bv3 = vload16(0, b3 + k);
            ALL4(DSTEP)
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float t00 = 0, t01 = 0, t02 = 0, t03 = 0, t10 = 0, t11 = 0, t12 = 0, t13 = 0;
    float t20 = 0, t21 = 0, t22 = 0, t23 = 0, t30 = 0, t31 = 0, t32 = 0, t33 = 0;
    if (active) {
        for (int k = K16; k < K; ++k) { ALL4(DREM) }
        ALL4(DSTORE)
    }
}

#define ARGS int M, int N, int K, __global const float* A, int offA, int lda, \
             __global const float* B, int offB, int ldb, __global float* C, int offC, int ldc
__kernel void matmul_nn(ARGS) { bcast_body(M, N, K, A + offA, lda, 1, B + offB, ldb, C + offC, ldc, 0); }
__kernel void matmul_tn(ARGS) { bcast_body(M, N, K, A + offA, 1, lda, B + offB, ldb, C + offC, ldc, 0); }
/* C^T = op(B)^T-ish: rows = j (from B stored N x K), columns = i (from A stored K x M) */
__kernel void matmul_tt(ARGS) { bcast_body(N, M, K, B + offB, ldb, 1, A + offA, lda, C + offC, ldc, 1); }
__kernel void matmul_nt(ARGS) { dot_body(M, N, K, A + offA, lda, B + offB, ldb, C + offC, ldc); }
