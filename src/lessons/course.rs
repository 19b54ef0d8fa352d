//! The lessons of the introductory course, in its order, with its defaults.

use super::{Check, Condition, Hyper, Lesson, LossKind, Objective, SmallData, SmallModel, Task};
use crate::nn::LayerSpec;
use crate::optim::OptimizerKind;
use crate::train::OptimizerSettings;

fn hyper(
    epochs: usize,
    lr: f32,
    optimizer: OptimizerKind,
    batch_size: usize,
    log_every: usize,
) -> Hyper {
    Hyper::sgd(epochs, lr, batch_size, log_every).with_optimizer(optimizer.into())
}

const SGD: OptimizerKind = OptimizerKind::Sgd;

/// y(x) to minimise; the lessons' expressions are tested to parse.
fn objective(expr: &str, start: f32, window: [f32; 2], minimum: Option<f32>) -> Task {
    Task::Scalar {
        objective: Objective::new(expr, start, window, minimum)
            .expect("a lesson's objective parses (tests/lessons.rs builds every lesson)"),
    }
}

/// The momentum lesson's two valleys: x⁴ − 4x² + x has dy/dx = 4x³ − 8x + 1 = 0
/// at x ≈ −1.473 (y ≈ −5.444, the global minimum), 0.126 (the bump) and 1.347
/// (y ≈ −2.619, a local minimum).
pub const MOMENTUM_GLOBAL_MIN: f32 = -1.472_997_6;
pub const MOMENTUM_LOCAL_MIN: f32 = 1.346_997_4;

/// "the cost stalls near ln 2": BCE of p = 0.5 everywhere, whatever the targets.
const STALL_LN2: Condition = Condition::CostNear {
    value: std::f32::consts::LN_2,
    tol: 1e-3,
    name: "ln 2",
};

fn linear(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Linear {
        in_features: i,
        out_features: o,
    }
}

fn conv(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Conv2d {
        in_channels: i,
        out_channels: o,
        kernel_size: 3,
        stride: 1,
        padding: 1,
    }
}

const POOL2: LayerSpec = LayerSpec::MaxPool2d {
    kernel_size: 2,
    stride: 2,
};

pub(super) fn all() -> Vec<Lesson> {
    vec![
        Lesson {
            name: "tensor-basics",
            blurb: "make tensors, slice them, add, multiply, reduce",
            title: "Tensor basics",
            summary: "the course's tensor code at a >>> prompt: shapes, slicing, broadcasting, matmul, mean/sum/max",
            notes: "Enter runs the line (the course's next line is filled in after it); type your own \
                    code too. Watch the shapes: [[1, 2]] + [[3], [4]] broadcasts to 2x2, and m1 * m2 \
                    multiplies element by element where m1.matmul(m2) multiplies matrices.",
            task: Task::TensorCode { code: TENSOR_BASICS.to_string() },
            checks: Vec::new(),
            defaults: hyper(0, 0.1, SGD, 0, 1),
        },
        Lesson {
            name: "gd-scalar",
            blurb: "roll downhill to the lowest point of a curve",
            title: "Gradient descent on one variable",
            summary: "minimise y = (x-3)^2 + 4 from x = 5 by autograd, lr 0.1",
            notes: "Each step computes dy/dx = 2(x-3) by backward() and moves x <- x - lr*dy/dx. \
                    x slides to 3, where y reaches its minimum 4. With lr 1.0 it jumps between 5 and 1; \
                    above 1.0 it diverges.",
            checks: vec![Check {
                when: Condition::ParamNear { param: "x", value: 3.0, tol: 1e-3 },
                says: "x reached the minimum, where dy/dx = 0 and y = 4",
            }],
            task: objective("(x - 3)^2 + 4", 5.0, [-1.0, 7.0], Some(3.0)),
            defaults: hyper(100, 0.1, SGD, 0, 10),
        },
        Lesson {
            name: "momentum",
            blurb: "momentum rolls over a bump that stops plain descent",
            title: "Momentum and local minima",
            summary: "minimise y = x^4 - 4x^2 + x from x = 2.5, SGD momentum 0.9, lr 0.01: \
                      crosses into the deeper valley",
            notes: "The curve has two valleys: a shallow one at x = 1.35 and the deepest at x = -1.47. \
                    Plain gradient descent stops where dy/dx = 0, the shallow valley's floor. Momentum \
                    keeps a running sum of past gradients (v <- 0.9v + dy/dx, x <- x - lr*v), so x \
                    arrives with speed and rolls over the bump at x = 0.13 into the deeper valley. \
                    Run dl-lab run momentum --momentum 0 to see it stick.",
            checks: vec![
                Check {
                    when: Condition::ParamNear { param: "x", value: MOMENTUM_GLOBAL_MIN, tol: 1e-2 },
                    says: "x crossed the bump into the deeper valley, the global minimum (y = -5.444)",
                },
                Check {
                    when: Condition::ParamNear { param: "x", value: MOMENTUM_LOCAL_MIN, tol: 1e-2 },
                    says: "x stopped in the shallow valley, a local minimum (y = -2.619): dy/dx = 0 \
                           there, so plain gradient descent stays; momentum 0.9 rolls on over the bump",
                },
            ],
            task: objective("x^4 - 4*x^2 + x", 2.5, [-2.2, 2.7], Some(MOMENTUM_GLOBAL_MIN)),
            defaults: hyper(200, 0.01, SGD, 0, 20)
                .with_optimizer(OptimizerSettings::sgd_momentum(0.9)),
        },
        Lesson {
            name: "linear",
            blurb: "fit a straight line through three points",
            title: "Linear regression H(x) = Wx + b",
            summary: "x = y = [1,2,3], W = b = 0, MSE, SGD lr 0.01, 1000 epochs",
            notes: "The data lie on y = x, so W should approach 1 and b approach 0 as the cost falls.",
            checks: vec![Check {
                when: Condition::ParamNear { param: "W", value: 1.0, tol: 0.1 },
                says: "W is near 1: the fitted line follows y = x",
            }],
            task: Task::Regression {
                data: SmallData::Table { x: vec![vec![1.0], vec![2.0], vec![3.0]], y: vec![1.0, 2.0, 3.0] },
                model: SmallModel::Affine,
                loss: LossKind::Mse,
            },
            defaults: hyper(1000, 0.01, SGD, 0, 100),
        },
        Lesson {
            name: "multivariate",
            blurb: "predict a final exam score from three quiz scores",
            title: "Linear regression with several inputs",
            summary: "three quiz scores -> final score, W zeros(3,1), MSE, SGD lr 1e-5, 20 epochs",
            notes: "H(x) = xW + b with x of 3 features: a matrix multiply replaces x1*w1 + x2*w2 + x3*w3. \
                    The inputs are large (~90), so the learning rate must be tiny.",
            checks: Vec::new(),
            task: Task::Regression {
                data: SmallData::Table {
                    x: vec![
                        vec![73.0, 80.0, 75.0],
                        vec![93.0, 88.0, 93.0],
                        vec![89.0, 91.0, 90.0],
                        vec![96.0, 98.0, 100.0],
                        vec![73.0, 66.0, 70.0],
                    ],
                    y: vec![152.0, 185.0, 180.0, 196.0, 142.0],
                },
                model: SmallModel::Affine,
                loss: LossKind::Mse,
            },
            defaults: hyper(20, 1e-5, SGD, 0, 1),
        },
        Lesson {
            name: "mlp-regression",
            blurb: "a small neural network learns to bend into a curve",
            title: "An MLP fits y = x^2 + 3",
            summary: "1000 points x ~ N(0,1), Linear 1-6-10-6-1 with ReLU, MSE, SGD lr 0.01, 10000 epochs",
            notes: "A straight line cannot follow a parabola; stacked Linear layers with ReLU between them \
                    bend it piece by piece.",
            checks: Vec::new(),
            task: Task::Regression {
                data: SmallData::Parabola { n: 1000 },
                model: SmallModel::Layers(vec![
                    linear(1, 6),
                    LayerSpec::ReLU,
                    linear(6, 10),
                    LayerSpec::ReLU,
                    linear(10, 6),
                    LayerSpec::ReLU,
                    linear(6, 1),
                ]),
                loss: LossKind::Mse,
            },
            defaults: hyper(10000, 0.01, SGD, 0, 1000),
        },
        Lesson {
            name: "mlp-noisy",
            blurb: "a deeper network fits a parabola through noise",
            title: "An MLP 1-10-30-10-1 fits a noisy y = x^2 + 3",
            summary: "200 points y = x^2 + 3 + 0.3*noise, Linear 1-10-30-10-1 with ReLU, MSE, SGD lr 0.01, 3000 epochs",
            notes: "The targets scatter around the parabola (noise with std 0.3), so the cost cannot reach 0: \
                    it levels off near the noise's variance, 0.09. The curve follows the parabola, not each point.",
            checks: Vec::new(),
            task: Task::Regression {
                data: SmallData::NoisyParabola { n: 200, noise: 0.3 },
                model: SmallModel::Layers(vec![
                    linear(1, 10),
                    LayerSpec::ReLU,
                    linear(10, 30),
                    LayerSpec::ReLU,
                    linear(30, 10),
                    LayerSpec::ReLU,
                    linear(10, 1),
                ]),
                loss: LossKind::Mse,
            },
            defaults: hyper(3000, 0.01, SGD, 0, 300),
        },
        Lesson {
            name: "xor-perceptron",
            blurb: "one neuron tries the XOR puzzle, and cannot solve it",
            title: "XOR with a single perceptron (it fails)",
            summary: "Linear(2,1) + Sigmoid, BCE, SGD lr 1, 10001 steps: the cost stalls at ln 2",
            notes: "One line cannot separate XOR's classes. The best a single perceptron can do is answer \
                    0.5 everywhere, where BCE = ln 2 = 0.693147.",
            checks: vec![Check {
                when: STALL_LN2,
                says: "the model answers about 0.5 everywhere. A single perceptron draws one line, \
                       and no line separates XOR's classes",
            }],
            task: Task::Regression {
                data: xor_table(),
                model: SmallModel::Layers(vec![linear(2, 1), LayerSpec::Sigmoid]),
                loss: LossKind::Bce,
            },
            defaults: hyper(10000, 1.0, SGD, 0, 100),
        },
        Lesson {
            name: "backprop",
            blurb: "the chain rule, one product at a time",
            title: "Backpropagation, one product at a time",
            summary: "f = w*x + b at w = -2, x = 5, b = 3: every local derivative times the gradient from above",
            notes: "Each step multiplies a node's local derivative by the gradient arriving from above; \
                    a value used twice adds up both products. v shows the same for the XOR MLP's \
                    parameters, e types another expression, a its values.",
            task: Task::Backprop {
                expr: crate::explain::backprop::DEFAULT_EXPR.to_string(),
                at: crate::explain::backprop::DEFAULT_AT.to_string(),
            },
            checks: Vec::new(),
            defaults: hyper(0, 0.1, SGD, 0, 1),
        },
        Lesson {
            name: "xor-mlp",
            blurb: "two layers of neurons solve the XOR puzzle",
            title: "XOR with a two-layer MLP (it learns)",
            summary: "Linear(2,2)-Sigmoid-Linear(2,1)-Sigmoid, BCE, SGD lr 1, 10001 steps: learns XOR",
            notes: "A hidden layer of two units draws two lines; the output unit combines them. \
                    Backpropagation carries the error back through both layers by the chain rule.",
            checks: vec![
                Check {
                    when: Condition::ClassifiesAll,
                    says: "the hidden layer's two lines separate XOR's classes",
                },
                Check {
                    when: STALL_LN2,
                    says: "the model answers about 0.5 everywhere: the hidden units have not split the plane yet",
                },
            ],
            task: Task::Regression {
                data: xor_table(),
                model: SmallModel::Layers(vec![linear(2, 2), LayerSpec::Sigmoid, linear(2, 1), LayerSpec::Sigmoid]),
                loss: LossKind::Bce,
            },
            defaults: hyper(10000, 1.0, SGD, 0, 100),
        },
        Lesson {
            name: "xor-deep",
            blurb: "four layers of neurons solve the XOR puzzle",
            title: "XOR with a deep MLP 2-10-10-10-1",
            summary: "Linear 2-10-10-10-1 with Sigmoid between, BCE, SGD lr 1, 10001 steps: learns XOR",
            notes: "The course's deeper XOR network: three hidden layers of 10 sigmoid units. The cost sits near \
                    ln 2 for a while (the gradient has to pass through three sigmoids) and then drops.",
            checks: vec![
                Check {
                    when: Condition::ClassifiesAll,
                    says: "the three hidden layers separate XOR's classes",
                },
                Check {
                    when: STALL_LN2,
                    says: "the model answers about 0.5 everywhere: the gradient has not got through the three sigmoids yet",
                },
            ],
            task: Task::Regression {
                data: xor_table(),
                model: SmallModel::Layers(vec![
                    linear(2, 10),
                    LayerSpec::Sigmoid,
                    linear(10, 10),
                    LayerSpec::Sigmoid,
                    linear(10, 10),
                    LayerSpec::Sigmoid,
                    linear(10, 1),
                    LayerSpec::Sigmoid,
                ]),
                loss: LossKind::Bce,
            },
            defaults: hyper(10000, 1.0, SGD, 0, 100),
        },
        Lesson {
            name: "softmax-mnist",
            blurb: "read handwritten digits with a single layer",
            title: "Softmax regression on MNIST",
            summary: "Linear(784,10), CrossEntropy, SGD lr 0.1, batch 100, 15 epochs",
            notes: "Press s to train. The loss falls batch by batch and the held-out accuracy climbs after \
                    each epoch. Each of the 10 outputs scores one digit; softmax turns the scores into \
                    probabilities and cross-entropy punishes a low probability on the true digit.",
            checks: Vec::new(),
            task: Task::Classifier { layers: vec![linear(784, 10)], input_shape: vec![784] },
            defaults: hyper(15, 0.1, SGD, 100, 1),
        },
        Lesson {
            name: "cnn-mnist",
            blurb: "read handwritten digits with a convolutional network",
            title: "A CNN on MNIST",
            summary: "conv 32 & 64 3x3 pad 1, ReLU, max-pool 2 -> Linear(3136,10); Adam lr 1e-3, batch 100, 15 epochs",
            notes: "Press s to train and watch conv1's 32 filters in the Conv/Pool pane change from noise \
                    into edge and stroke detectors while the loss falls. Convolutions look at 3x3 neighbourhoods with shared weights; pooling halves the image twice \
                    (28 -> 14 -> 7), leaving 64 maps of 7x7 = 3136 features for the final Linear layer.",
            checks: Vec::new(),
            task: Task::Classifier {
                layers: vec![
                    conv(1, 32),
                    LayerSpec::ReLU,
                    POOL2,
                    conv(32, 64),
                    LayerSpec::ReLU,
                    POOL2,
                    LayerSpec::Flatten,
                    linear(7 * 7 * 64, 10),
                ],
                input_shape: vec![1, 28, 28],
            },
            defaults: hyper(15, 1e-3, OptimizerKind::Adam, 100, 1),
        },
        Lesson {
            name: "overfit-mnist",
            blurb: "a network memorises 500 digits and stops generalising",
            title: "Overfitting: 500 training images, 40 epochs",
            summary: "Linear 784-256-10 with ReLU on the first 500 training images; Adam lr 1e-3, batch 50, 40 epochs",
            notes: "Press s to train. With only 500 images to learn from, training accuracy climbs to 100% \
                    while held-out accuracy stalls well below it; the held-out loss falls for a few epochs, \
                    then turns up as the network grows sure of answers it only memorised. The Loss pane \
                    charts both pairs: the gap between the training and held-out lines is overfitting.",
            checks: Vec::new(),
            task: Task::Classifier {
                layers: vec![linear(784, 256), LayerSpec::ReLU, linear(256, 10)],
                input_shape: vec![784],
            },
            defaults: Hyper { train_subset: 500, ..hyper(40, 1e-3, OptimizerKind::Adam, 50, 1) },
        },
        Lesson {
            name: "optimizer-race",
            blurb: "seven optimizers race down the same hill",
            title: "The optimizer race",
            summary: "SGD, momentum, Nesterov, Adam, AdamW, RMSprop, Adagrad from one point of a 2-D surface",
            notes: "Space steps every optimizer at once, s runs them, f switches the surface (a long bowl, \
                    Rosenbrock's curved valley). Momentum overshoots and swings back; Adam's first steps are \
                    about lr in each coordinate whatever the slope (see its inspector). Without --lr each \
                    optimizer has PyTorch's default; SGD's is 0.1 on the bowl, 1e-3 on Rosenbrock.",
            task: Task::Race {
                surface: crate::train::race::Surface::Bowl,
                start: [-8.0, 2.0],
            },
            checks: Vec::new(),
            defaults: hyper(100, 0.1, SGD, 0, 10),
        },
    ]
}

fn xor_table() -> SmallData {
    SmallData::Table {
        x: vec![
            vec![0.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![1.0, 1.0],
        ],
        y: vec![0.0, 1.0, 1.0, 0.0],
    }
}

/// The lines tensor-basics fills in at its prompt, one at a time: the
/// course's tensor code (lab 1; all of it is in tests/fixtures/tensor/basics.py).
const TENSOR_BASICS: &str = "t = torch.FloatTensor([0., 1., 2., 3., 4., 5., 6.])
print(t.dim(), t.shape)
print(t[0], t[1], t[-1])
print(t[2:5], t[4:-1])
t = torch.FloatTensor([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.], [10., 11., 12.]])
print(t.size())
print(t[:, 1])
m1 = torch.FloatTensor([[1, 2]])
m2 = torch.FloatTensor([[3], [4]])
print(m1 + m2)
m1 = torch.FloatTensor([[1, 2], [3, 4]])
m2 = torch.FloatTensor([[1], [2]])
print(m1.matmul(m2))
print(m1 * m2)
t = torch.FloatTensor([[1, 2], [3, 4]])
print(t.mean(dim=0))
print(t.sum(dim=-1))
print(t.max(dim=0))
print(t.view(-1))
";
