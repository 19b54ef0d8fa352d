//! The lessons of the introductory course, in its order, with its defaults.

use super::{Hyper, Lesson, LossKind, SmallData, SmallModel, Task};
use crate::nn::LayerSpec;

fn hyper(epochs: usize, lr: f32, optimizer: &str, batch_size: usize, log_every: usize) -> Hyper {
    Hyper {
        epochs,
        lr,
        optimizer: optimizer.to_string(),
        momentum: 0.0,
        weight_decay: 0.0,
        batch_size,
        seed: 1,
        log_every,
        normalize: false,
    }
}

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
            name: "gd-scalar",
            blurb: "roll downhill to the lowest point of a curve",
            title: "Gradient descent on one variable",
            summary: "minimise y = (x-3)^2 + 4 from x = 5 by autograd, lr 0.1",
            notes: "Each step computes dy/dx = 2(x-3) by backward() and moves x <- x - lr*dy/dx. \
                    x slides to 3, where y reaches its minimum 4. With lr 1.0 it jumps between 5 and 1; \
                    above 1.0 it diverges.",
            task: Task::Scalar { start: 5.0 },
            defaults: hyper(100, 0.1, "sgd", 0, 10),
        },
        Lesson {
            name: "linear",
            blurb: "fit a straight line through three points",
            title: "Linear regression H(x) = Wx + b",
            summary: "x = y = [1,2,3], W = b = 0, MSE, SGD lr 0.01, 1000 epochs",
            notes: "The data lie on y = x, so W should approach 1 and b approach 0 as the cost falls.",
            task: Task::Regression {
                data: SmallData::Table { x: vec![vec![1.0], vec![2.0], vec![3.0]], y: vec![1.0, 2.0, 3.0] },
                model: SmallModel::Affine,
                loss: LossKind::Mse,
            },
            defaults: hyper(1000, 0.01, "sgd", 0, 100),
        },
        Lesson {
            name: "multivariate",
            blurb: "predict a final exam score from three quiz scores",
            title: "Linear regression with several inputs",
            summary: "three quiz scores -> final score, W zeros(3,1), MSE, SGD lr 1e-5, 20 epochs",
            notes: "H(x) = xW + b with x of 3 features: a matrix multiply replaces x1*w1 + x2*w2 + x3*w3. \
                    The inputs are large (~90), so the learning rate must be tiny.",
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
            defaults: hyper(20, 1e-5, "sgd", 0, 1),
        },
        Lesson {
            name: "mlp-regression",
            blurb: "a small neural network learns to bend into a curve",
            title: "An MLP fits y = x^2 + 3",
            summary: "1000 points x ~ N(0,1), Linear 1-6-10-6-1 with ReLU, MSE, SGD lr 0.01, 10000 epochs",
            notes: "A straight line cannot follow a parabola; stacked Linear layers with ReLU between them \
                    bend it piece by piece.",
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
            defaults: hyper(10000, 0.01, "sgd", 0, 1000),
        },
        Lesson {
            name: "mlp-noisy",
            blurb: "a deeper network fits a parabola through noise",
            title: "An MLP 1-10-30-10-1 fits a noisy y = x^2 + 3",
            summary: "200 points y = x^2 + 3 + 0.3*noise, Linear 1-10-30-10-1 with ReLU, MSE, SGD lr 0.01, 3000 epochs",
            notes: "The targets scatter around the parabola (noise with std 0.3), so the cost cannot reach 0: \
                    it levels off near the noise's variance, 0.09. The curve follows the parabola, not each point.",
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
            defaults: hyper(3000, 0.01, "sgd", 0, 300),
        },
        Lesson {
            name: "xor-perceptron",
            blurb: "one neuron tries the XOR puzzle, and cannot solve it",
            title: "XOR with a single perceptron (it fails)",
            summary: "Linear(2,1) + Sigmoid, BCE, SGD lr 1, 10001 steps: the cost stalls at ln 2",
            notes: "One line cannot separate XOR's classes. The best a single perceptron can do is answer \
                    0.5 everywhere, where BCE = ln 2 = 0.693147.",
            task: Task::Regression {
                data: xor_table(),
                model: SmallModel::Layers(vec![linear(2, 1), LayerSpec::Sigmoid]),
                loss: LossKind::Bce,
            },
            defaults: hyper(10000, 1.0, "sgd", 0, 100),
        },
        Lesson {
            name: "xor-mlp",
            blurb: "two layers of neurons solve the XOR puzzle",
            title: "XOR with a two-layer MLP (it learns)",
            summary: "Linear(2,2)-Sigmoid-Linear(2,1)-Sigmoid, BCE, SGD lr 1, 10001 steps: learns XOR",
            notes: "A hidden layer of two units draws two lines; the output unit combines them. \
                    Backpropagation carries the error back through both layers by the chain rule.",
            task: Task::Regression {
                data: xor_table(),
                model: SmallModel::Layers(vec![linear(2, 2), LayerSpec::Sigmoid, linear(2, 1), LayerSpec::Sigmoid]),
                loss: LossKind::Bce,
            },
            defaults: hyper(10000, 1.0, "sgd", 0, 100),
        },
        Lesson {
            name: "xor-deep",
            blurb: "four layers of neurons solve the XOR puzzle",
            title: "XOR with a deep MLP 2-10-10-10-1",
            summary: "Linear 2-10-10-10-1 with Sigmoid between, BCE, SGD lr 1, 10001 steps: learns XOR",
            notes: "The course's deeper XOR network: three hidden layers of 10 sigmoid units. The cost sits near \
                    ln 2 for a while (the gradient has to pass through three sigmoids) and then drops.",
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
            defaults: hyper(10000, 1.0, "sgd", 0, 100),
        },
        Lesson {
            name: "softmax-mnist",
            blurb: "read handwritten digits with a single layer",
            title: "Softmax regression on MNIST",
            summary: "Linear(784,10), CrossEntropy, SGD lr 0.1, batch 100, 15 epochs",
            notes: "Press s to train. The loss falls batch by batch and the held-out accuracy climbs after \
                    each epoch. Each of the 10 outputs scores one digit; softmax turns the scores into \
                    probabilities and cross-entropy punishes a low probability on the true digit.",
            task: Task::Classifier { layers: vec![linear(784, 10)], input_shape: vec![784] },
            defaults: hyper(15, 0.1, "sgd", 100, 1),
        },
        Lesson {
            name: "cnn-mnist",
            blurb: "read handwritten digits with a convolutional network",
            title: "A CNN on MNIST",
            summary: "conv 32 & 64 3x3 pad 1, ReLU, max-pool 2 -> Linear(3136,10); Adam lr 1e-3, batch 100, 15 epochs",
            notes: "Press s to train and watch conv1's 32 filters in the Conv/Pool pane change from noise \
                    into edge and stroke detectors while the loss falls. Convolutions look at 3x3 neighbourhoods with shared weights; pooling halves the image twice \
                    (28 -> 14 -> 7), leaving 64 maps of 7x7 = 3136 features for the final Linear layer.",
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
            defaults: hyper(15, 1e-3, "adam", 100, 1),
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
