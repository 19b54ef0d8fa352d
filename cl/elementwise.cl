// Element-wise kernels: unary maps, their derivatives, and broadcasting
// binary maps. The formulas are those documented on `UnaryOp` / `BinaryOp`
// in src/backend/mod.rs and implemented by src/backend/cpu/elementwise.rs
// (the reference these kernels are tested against in tests/opencl_parity.rs).
//
// Every kernel but binary_mid (a row kernel, see cl/README.md) is 1-D over a
// contiguous output of n elements; the global size is rounded up to the
// work-group size, so each work item checks i < n.
//
// Binary op codes (must match src/backend/opencl/storage.rs):
//   binary: 0 add, 1 sub, 2 mul, 3 div, 4 eq, 5 bce_loss, 6 bce_grad

inline float sigmoid_stable(float x) {
    if (x >= 0.0f) {
        return 1.0f / (1.0f + exp(-x));
    }
    float e = exp(x);
    return e / (1.0f + e);
}

// One kernel per function, so that each body is straight-line code a CPU
// driver can vectorise across work items: unary_<name>(x, y, n, p0, p1),
// y[i] = f(x[i]).
#define UNARY(name, expr)                                                  \
    __kernel void unary_##name(__global const float* x, __global float* y, \
                               uint n, float p0, float p1) {               \
        uint i = get_global_id(0);                                         \
        if (i < n) {                                                       \
            float v = x[i];                                                \
            y[i] = (expr);                                                 \
        }                                                                  \
    }

UNARY(neg, -v)
UNARY(exp, exp(v))
UNARY(log, log(v))
UNARY(relu, fmax(v, 0.0f))                          // NaN -> 0, as f32::max
UNARY(sigmoid, sigmoid_stable(v))
UNARY(tanh, tanh(v))
UNARY(pow, pow(v, p0))
UNARY(clamp, isnan(v) ? v : fmin(fmax(v, p0), p1))  // clamp keeps NaN

// unary_backward_<name>(s, g, n, p0, p1): g[i] <- g[i]·f'(s[i]) in place,
// s being x, or y for exp, sigmoid and tanh.
#define UNARY_BACKWARD(name, expr)                                          \
    __kernel void unary_backward_##name(__global const float* s,             \
                                        __global float* g, uint n,           \
                                        float p0, float p1) {                \
        uint i = get_global_id(0);                                           \
        if (i < n) {                                                         \
            float v = s[i];                                                  \
            float d = g[i];                                                  \
            g[i] = (expr);                                                   \
        }                                                                    \
    }

UNARY_BACKWARD(neg, -d)
UNARY_BACKWARD(exp, d * v)
UNARY_BACKWARD(log, d / v)
UNARY_BACKWARD(relu, (v <= 0.0f) ? 0.0f : d)        // a NaN input passes g on
UNARY_BACKWARD(sigmoid, d * (v * (1.0f - v)))
UNARY_BACKWARD(tanh, d * (1.0f - v * v))
// p·x^(p-1); exactly 0 for p = 0; x^1 computed as x (as the CPU)
UNARY_BACKWARD(pow, p0 == 0.0f ? 0.0f
                    : (p0 - 1.0f == 1.0f ? d * (p0 * v) : d * (p0 * pow(v, p0 - 1.0f))))
UNARY_BACKWARD(clamp, (v < p0 || v > p1) ? 0.0f : d)

// PyTorch's per-element binary cross-entropy, logs clamped at -100.
inline float bce(float p, float y) {
    if (isnan(p)) {
        return p;
    }
    float log_p = fmax(log(p), -100.0f);
    float log_1mp = fmax(log(1.0f - p), -100.0f);
    return -(y * log_p + (1.0f - y) * log_1mp);
}

inline float binary_f(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return (a == b) ? 1.0f : 0.0f;
    case 5: return bce(a, b);
    default: return (a - b) / fmax(a * (1.0f - a), 1e-12f);
    }
}

// Same shapes: out[i] = f(a[i], b[i]).
__kernel void binary_same(__global const float* a, __global const float* b,
                          __global float* out, uint n, int op) {
    uint i = get_global_id(0);
    if (i < n) {
        out[i] = binary_f(op, a[i], b[i]);
    }
}

// One operand is a single element: out[i] = f(a[i], b[0]), or f(b[0], a[i])
// when scalar_is_lhs.
__kernel void binary_scalar(__global const float* a, __global const float* b,
                            __global float* out, uint n, int op, int scalar_is_lhs) {
    uint i = get_global_id(0);
    if (i < n) {
        float s = b[0];
        out[i] = scalar_is_lhs ? binary_f(op, s, a[i]) : binary_f(op, a[i], s);
    }
}

// The bias pattern: `full` has the output's shape (outer, mid, inner) and
// `part` is indexed by the middle dimension only ((N,O,H,W)+(1,O,1,1) with
// inner = H·W, or (N,F)+(F) with inner = 1). A row kernel (cl/README.md):
// rows are (outer, mid) pairs, columns run along inner.
__kernel void binary_mid(__global const float* full, __global const float* part,
                         __global float* out, uint rows, uint mid, uint inner,
                         int op, int part_is_lhs) {
    uint row = get_global_id(1);
    if (row >= rows) {
        return;
    }
    float p = part[row % mid];
    size_t base = (size_t)row * inner;
    uint k = get_global_id(0);
    if (k < inner) {
        float f = full[base + k];
        out[base + k] = part_is_lhs ? binary_f(op, p, f) : binary_f(op, f, p);
    }
}

// Any broadcast of rank <= 8 (after merging dimensions): shape holds the
// output's dimensions (unused trailing ones are 1), sa/sb each operand's
// element strides (0 where broadcast).
__kernel void binary_bcast(__global const float* a, __global const float* b,
                           __global float* out, uint n, int op, uint rank,
                           uint8 shape, uint8 sa, uint8 sb) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    uint dims[8] = {shape.s0, shape.s1, shape.s2, shape.s3, shape.s4, shape.s5, shape.s6, shape.s7};
    uint as[8] = {sa.s0, sa.s1, sa.s2, sa.s3, sa.s4, sa.s5, sa.s6, sa.s7};
    uint bs[8] = {sb.s0, sb.s1, sb.s2, sb.s3, sb.s4, sb.s5, sb.s6, sb.s7};
    uint rest = i;
    uint ia = 0;
    uint ib = 0;
    for (int d = (int)rank - 1; d >= 0; d--) {
        uint c = rest % dims[d];
        rest /= dims[d];
        ia += c * as[d];
        ib += c * bs[d];
    }
    out[i] = binary_f(op, a[ia], b[ib]);
}

// a += b (gradient accumulation).
__kernel void add_assign(__global float* a, __global const float* b, uint n) {
    uint i = get_global_id(0);
    if (i < n) {
        a[i] += b[i];
    }
}
