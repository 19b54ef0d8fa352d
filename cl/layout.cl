// Data movement: a strided gather that serves permute (strides permuted)
// and broadcast_to (stride 0 along broadcast dimensions), plus a tiled 2-D
// transpose for the common (A, B, C) -> (B, A, C) case of the convolution.
//
// Dimensions are merged on the host first, so rank <= 8 always suffices.

#define UNPACK8(v, a) uint a[8] = {v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7}

// out (row-major, of `shape`) [i] = x[Σ_d coord_d(i) · stride_d].
__kernel void gather_strided(__global const float* x, __global float* out, uint n,
                             uint rank, uint8 shape, uint8 stride) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    UNPACK8(shape, dims);
    UNPACK8(stride, st);
    uint rest = i;
    uint src = 0;
    for (int d = (int)rank - 1; d >= 0; d--) {
        src += (rest % dims[d]) * st[d];
        rest /= dims[d];
    }
    out[i] = x[src];
}

// x (a, b, c) -> out (b, a, c): swap the outer two of three dimensions
// (the convolution's (O, N, H'W') <-> (N, O, H'W')). A plane kernel (see
// cl/README.md): item (k, i) of plane j copies x[i, j, k] to out[j, i, k];
// no division anywhere.
__kernel void swap_outer(__global const float* x, __global float* out,
                         uint a, uint b, uint c) {
    uint j = get_global_id(2);
    uint i = get_global_id(1);
    uint k = get_global_id(0);
    if (i < a && k < c) {
        out[((size_t)j * a + i) * c + k] = x[((size_t)i * b + j) * c + k];
    }
}
