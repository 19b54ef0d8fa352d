// Optimizer updates in place, one work item per parameter element. The
// formulas are the torch.optim pages', as src/optim/*.rs writes them out and
// `UpdateRule` (src/backend/mod.rs) documents; the operations are written in
// the same order as the CPU's so that results agree to rounding. FMA
// contraction is off for the same reason.

#pragma OPENCL FP_CONTRACT OFF

// SGD with momentum μ, dampening τ, Nesterov, L2 weight decay λ.
// has_buf = 0: no momentum (b unused). first: b <- g; else b <- μ·b + (1-τ)·g.
__kernel void sgd(__global float* p, __global const float* grad, __global float* b,
                  uint n, float lr, float mu, float dampening, float wd,
                  int nesterov, int first, int has_buf) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    float theta = p[i];
    float g = grad[i];
    if (wd != 0.0f) {
        g = g + wd * theta;
    }
    if (has_buf) {
        float bv = first ? g : mu * b[i] + (1.0f - dampening) * g;
        b[i] = bv;
        g = nesterov ? g + mu * bv : bv;
    }
    p[i] = theta - lr * g;
}

// Adam / AdamW (decoupled). step_size = lr / (1 - β1^t), bc2_sqrt = √(1 - β2^t).
__kernel void adam(__global float* p, __global const float* grad, __global float* m,
                   __global float* v, uint n, float lr, float beta1, float beta2,
                   float eps, float wd, int decoupled, float step_size, float bc2_sqrt) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    float theta = p[i];
    float g = grad[i];
    if (decoupled) {
        if (wd != 0.0f) {
            theta = theta * (1.0f - lr * wd);
        }
    } else if (wd != 0.0f) {
        g = g + wd * theta;
    }
    float mv = beta1 * m[i] + (1.0f - beta1) * g;
    float vv = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mv;
    v[i] = vv;
    p[i] = theta - step_size * mv / (sqrt(vv) / bc2_sqrt + eps);
}

// RMSprop: square_avg sq, grad_avg ga (centered), momentum buffer b (μ > 0).
__kernel void rmsprop(__global float* p, __global const float* grad, __global float* sq,
                      __global float* ga, __global float* b, uint n, float lr,
                      float alpha, float eps, float wd, float mu, int centered) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    float theta = p[i];
    float g = grad[i];
    if (wd != 0.0f) {
        g = g + wd * theta;
    }
    float s = alpha * sq[i] + (1.0f - alpha) * g * g;
    sq[i] = s;
    float denom = s;
    if (centered) {
        float a = alpha * ga[i] + (1.0f - alpha) * g;
        ga[i] = a;
        denom = denom - a * a;
    }
    denom = sqrt(fmax(denom, 0.0f)) + eps;
    if (mu > 0.0f) {
        float bv = mu * b[i] + g / denom;
        b[i] = bv;
        p[i] = theta - lr * bv;
    } else {
        p[i] = theta - lr * g / denom;
    }
}

// Adagrad with the decayed learning rate clr.
__kernel void adagrad(__global float* p, __global const float* grad, __global float* sum,
                      uint n, float clr, float eps, float wd) {
    uint i = get_global_id(0);
    if (i >= n) {
        return;
    }
    float theta = p[i];
    float g = grad[i];
    if (wd != 0.0f) {
        g = g + wd * theta;
    }
    float s = sum[i] + g * g;
    sum[i] = s;
    p[i] = theta - clr * g / (sqrt(s) + eps);
}
