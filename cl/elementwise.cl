// Element-wise kernels: unary maps, their derivatives, and broadcasting
// binary maps. The formulas are those documented on `UnaryOp` / `BinaryOp`
// in src/backend/mod.rs and implemented by src/backend/cpu/elementwise.rs
// (the reference these kernels are tested against in tests/opencl_parity.rs).
//
// Every kernel but binary_mid_* (plane kernels, see cl/README.md) is 1-D over a
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
UNARY(relu, (v < 0.0f) ? 0.0f : v)                 // NaN stays NaN, as PyTorch
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

// One kernel per binary function and pattern (like the unary ones: no
// switch in the loop a CPU driver vectorises), by the macro below:
//   binary_same_<f>(a, b, out, n): out[i] = f(a[i], b[i]) (equal shapes)
//   binary_scalar_<f>(a, b, out, n, scalar_is_lhs): b is a single element,
//       out[i] = f(a[i], b[0]), or f(b[0], a[i]) when scalar_is_lhs
//   binary_mid_<f>(full, part, out, mid, inner, part_is_lhs): the bias
//       pattern. `full` has the output's shape (outer, mid, inner) and `part`
//       is indexed by the middle dimension only ((N,O,H,W)+(1,O,1,1) with
//       inner = H·W, or (N,F)+(F) with inner = 1). A plane kernel
//       (cl/README.md): plane = outer index, item (inner index, mid index).
// <f> and the formula in terms of (l, r) are listed after the macro, in
// the order of the op codes above (kernels.rs `BINARY_NAMES`).
#define BINARY(name, expr)                                                       \
    __kernel void binary_same_##name(__global const float* a,                    \
                                     __global const float* b,                    \
                                     __global float* out, uint n) {              \
        uint i = get_global_id(0);                                               \
        if (i < n) {                                                             \
            float l = a[i];                                                      \
            float r = b[i];                                                      \
            out[i] = (expr);                                                     \
        }                                                                        \
    }                                                                            \
    __kernel void binary_scalar_##name(__global const float* a,                  \
                                       __global const float* b,                  \
                                       __global float* out, uint n,              \
                                       int scalar_is_lhs) {                      \
        uint i = get_global_id(0);                                               \
        if (i < n) {                                                             \
            float s = b[0];                                                      \
            float v = a[i];                                                      \
            float l = scalar_is_lhs ? s : v;                                     \
            float r = scalar_is_lhs ? v : s;                                     \
            out[i] = (expr);                                                     \
        }                                                                        \
    }                                                                            \
    __kernel void binary_mid_##name(__global const float* full,                  \
                                    __global const float* part,                  \
                                    __global float* out, uint mid, uint inner,   \
                                    int part_is_lhs) {                           \
        uint o = get_global_id(2);                                               \
        uint m = get_global_id(1);                                               \
        uint k = get_global_id(0);                                               \
        if (m < mid && k < inner) {                                              \
            size_t at = ((size_t)o * mid + m) * inner + k;                       \
            float p = part[m];                                                   \
            float v = full[at];                                                  \
            float l = part_is_lhs ? p : v;                                       \
            float r = part_is_lhs ? v : p;                                       \
            out[at] = (expr);                                                    \
        }                                                                        \
    }
BINARY(add, l + r)
BINARY(sub, l - r)
BINARY(mul, l * r)
BINARY(div, l / r)
BINARY(eq, (l == r) ? 1.0f : 0.0f)
BINARY(bce_loss, bce(l, r))
BINARY(bce_grad, (l - r) / fmax(l * (1.0f - l), 1e-12f))
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
