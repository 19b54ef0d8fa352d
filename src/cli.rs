//! The command line: `dl-lab` (the lab) and its subcommands. This is a
//! contract other tools rely on: keep names and flags stable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::DeviceSpec;
use crate::explain::PoolMode;

/// The `--device` help, shared by the lab, `run` and `bench`.
const DEVICE_HELP: &str = "Where the MNIST lessons compute: cpu, opencl (the first OpenCL device), \
     opencl:N (as `dl-lab devices` numbers them) or auto (an OpenCL GPU if there is one, else the CPU). \
     The small lessons (gd-scalar … xor-deep) always run on the CPU";

/// A deep-learning lab in the terminal: step through gradient descent, build
/// models layer by layer, watch a CNN train on MNIST.
#[derive(Parser, Debug)]
#[command(
    name = "dl-lab",
    version,
    about,
    long_about = None,
    after_help = "Without a command, dl-lab opens the lab in the terminal (on the shipped MNIST sample \
                  unless --data is given). In the lab, press ? for the keys."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the lab straight into a lesson (see `dl-lab lessons`); without it the lab
    /// reopens the last lesson, or the first time shows the lesson list.
    #[arg(long, value_name = "NAME")]
    pub lesson: Option<String>,
    /// MNIST-format directory (the four standard file names) instead of the shipped sample,
    /// or mnist / fashion-mnist once fetched with `dl-lab download NAME`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Draw with plain ASCII characters only (for fonts without Braille, blocks or box drawing).
    #[arg(long)]
    pub ascii: bool,
    #[arg(long, value_name = "DEVICE", default_value = "auto", help = DEVICE_HELP)]
    pub device: DeviceSpec,
    /// Open a checkpoint or a .safetensors file (PyTorch's names) in the MNIST lesson: its
    /// filters and predictions show, and training goes on from it (key o opens it again).
    #[arg(long, value_name = "PATH")]
    pub load: Option<PathBuf>,
    /// Where key w writes a checkpoint (default: dl-lab-LESSON.ckpt in the current directory).
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Write each finished epoch's loss, test accuracy and img/s to a CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// Append each Space step's equations and quiz answers (key Q) to a Markdown file you keep.
    #[arg(long, value_name = "FILE.md")]
    pub transcript: Option<PathBuf>,
    /// The opened lesson's first weights: uniform, zeros, xavier or kaiming, as `dl-lab run
    /// --init` (key I takes the next one).
    #[arg(long, value_name = "SCHEME", value_parser = parse_init)]
    pub init: Option<crate::nn::init::Init>,
    /// The opened lesson's momentum (sgd, rmsprop), as `dl-lab run --momentum` (key M takes
    /// the next of 0, 0.5, 0.9, 0.99).
    #[arg(long, value_name = "M")]
    pub momentum: Option<f32>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the lessons.
    Lessons,
    /// Run a lesson headless and print its log.
    Run(RunArgs),
    /// Print the lesson as a runnable PyTorch script: the same data, initial weights (and the
    /// MNIST lessons' shuffle order), settings and log lines as `dl-lab run LESSON` with the
    /// same flags.
    Code(RunArgs),
    /// List the OpenCL platforms and devices `--device` can use.
    Devices,
    /// Score a saved model on the held-out images.
    Eval(EvalArgs),
    /// Write a checkpoint's weights as a safetensors file for PyTorch.
    ///
    /// The names are PyTorch's state_dict() of the lesson's model written as a
    /// torch.nn.Sequential in layer order (cnn-mnist: 0.weight, 0.bias, 3.weight, 3.bias,
    /// 7.weight, 7.bias), with PyTorch's shapes, so load_state_dict(strict=True) takes the file.
    Export {
        /// A checkpoint written by `dl-lab run --save`.
        checkpoint: PathBuf,
        /// The safetensors file to write (replaced if it exists).
        out: PathBuf,
    },
    /// Run the course's PyTorch tensor code on dl-lab's engine and print what PyTorch prints:
    /// FILE, or CODE, or standard input (an interactive prompt when it is a terminal).
    #[command(after_help = TENSOR_AFTER_HELP)]
    Tensor {
        /// A file of tensor code (Python syntax).
        file: Option<PathBuf>,
        /// The code to run, e.g. -e "t = torch.FloatTensor([[1, 2], [3, 4]]); print(t.mean(dim=0))".
        #[arg(
            short = 'e',
            long = "code",
            value_name = "CODE",
            allow_hyphen_values = true,
            conflicts_with = "file"
        )]
        code: Option<String>,
    },
    /// Measure the device: matmul GFLOP/s, the CNN's conv layers, CNN training and inference speed.
    #[command(after_help = BENCH_AFTER_HELP)]
    Bench(BenchArgs),
    /// Download the full MNIST or Fashion-MNIST set (four IDX files, md5-checked) for `--data NAME`.
    #[command(after_help = DOWNLOAD_AFTER_HELP)]
    Download(DownloadArgs),
    /// Explain a 2-D convolution step by step, ending with the output matrix.
    Conv {
        /// Input matrix: rows separated by ';', values by ',' (e.g. "1,2,3;4,5,6;7,8,9").
        #[arg(long, allow_hyphen_values = true)]
        input: String,
        /// Kernel matrix, same format (e.g. "1,0;0,1" or "-1,0;0,1").
        #[arg(long, allow_hyphen_values = true)]
        kernel: String,
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true, default_value_t = 1)]
        stride: usize,
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true, default_value_t = 0)]
        padding: usize,
    },
    /// Explain max or average pooling step by step, ending with the output matrix.
    Pool {
        /// Input matrix: rows separated by ';', values by ','.
        #[arg(long, allow_hyphen_values = true)]
        input: String,
        /// Window size K (K x K).
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
        size: usize,
        /// Step between windows (default: the window size).
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
        stride: Option<usize>,
        /// max or avg
        #[arg(long, default_value = "max")]
        mode: PoolMode,
    },
    /// The output size of a convolution, with the formula filled in.
    ConvSize {
        /// Input size N (height or width).
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
        input: usize,
        /// Kernel size K.
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
        kernel: usize,
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true, default_value_t = 1)]
        stride: usize,
        #[arg(long, value_parser = parse_count, allow_negative_numbers = true, default_value_t = 0)]
        padding: usize,
    },
}

impl Cli {
    /// Parse the command line. The lab's own flags (`--lesson`, `--data`,
    /// `--ascii`, `--device`) belong to the lab: written before a command
    /// (`dl-lab --device opencl run …`) they would be ignored, so that is an
    /// error saying where they go.
    pub fn parse_checked() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let matches = cmd.clone().get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if let Some((name, _)) = matches.subcommand() {
            for flag in [
                "lesson", "data", "ascii", "device", "load", "save", "history",
            ] {
                if matches.value_source(flag) == Some(clap::parser::ValueSource::CommandLine) {
                    let msg = format!(
                        "--{flag} before `{name}` is the lab's flag and would be ignored; \
                         put it after the command (dl-lab {name} … --{flag} …) where `{name}` takes it"
                    );
                    cmd.error(clap::error::ErrorKind::ArgumentConflict, msg)
                        .exit();
                }
            }
        }
        cli
    }
}

/// Flags of `dl-lab run`; each overrides the lesson's default.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The lesson (see `dl-lab lessons`).
    pub lesson: String,
    /// Number of epochs (small lessons run epochs 0..=N, as the course's loop).
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Learning rate (a positive number).
    #[arg(long, value_parser = parse_lr, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// sgd, adam, adamw, rmsprop or adagrad.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Momentum (sgd, rmsprop); 0 = none.
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Weight decay (L2 for sgd/adam/rmsprop/adagrad, decoupled for adamw; adamw defaults to 0.01).
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f32>,
    /// Initial weights of the Linear and Conv2d layers: uniform (PyTorch's default,
    /// U(±1/√fan_in) for weights and biases), zeros (weights and biases), xavier
    /// (torch.nn.init.xavier_uniform_ on the weights) or kaiming
    /// (torch.nn.init.kaiming_uniform_(nonlinearity="relu") on the weights); xavier and
    /// kaiming keep PyTorch's default biases.
    #[arg(long, value_name = "SCHEME", value_parser = parse_init)]
    pub init: Option<crate::nn::init::Init>,
    /// Mini-batch size. Small lessons: 0 = the full batch (their default); B rows per step,
    /// shuffled each epoch with --seed, ceil(N/B) steps per epoch, the epoch's cost the mean of them.
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Standardise the inputs with the training data's mean and sample std, (x - mean) / std
    /// (small lessons with data).
    #[arg(long)]
    pub normalize: bool,
    /// After training, print H(X) for the inputs X: one number, or several features
    /// comma-separated (e.g. 73,80,75 for multivariate); with --json a last line
    /// {"predict":[...],"output":...} (small lessons).
    #[arg(long, value_name = "X", value_parser = parse_features, allow_hyphen_values = true)]
    pub predict: Option<Features>,
    /// Seed for initialisation, generated data and shuffling.
    #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// A CSV file (small lessons: header row, last column the target) or an MNIST-format directory
    /// (or mnist / fashion-mnist once fetched with `dl-lab download NAME`).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Log epoch 0, every K-th epoch and the last.
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true, value_name = "K")]
    pub log_every: Option<usize>,
    /// CPU threads for the kernels (default: all cores).
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// One JSON object per logged epoch instead of text (MNIST lessons: epoch, loss, test_acc,
    /// img_per_s, train_acc: the running accuracy over the epoch's training batches, test_loss:
    /// the mean cross-entropy on the held-out images).
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "DEVICE", default_value = "auto", help = DEVICE_HELP)]
    pub device: DeviceSpec,
    /// Write a checkpoint (model, weights, optimizer state, epoch, seed, data set) to PATH after
    /// every epoch (MNIST lessons).
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Resume from a checkpoint (trains epochs k+1..=--epochs after one saved at epoch k, with its
    /// settings unless flags override them), or start from a .safetensors file's weights with a
    /// fresh optimizer (MNIST lessons).
    #[arg(long, value_name = "PATH")]
    pub load: Option<PathBuf>,
    /// Write each epoch's loss, test accuracy, img/s, training accuracy and held-out loss to a CSV
    /// file (MNIST lessons).
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// The backprop lesson's expression: numbers, variables, + - * /, ^ with a constant
    /// exponent, unary minus, brackets, sigmoid tanh relu exp log (default "w*x + b").
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: Option<String>,
    /// The backprop lesson's point: NAME=VALUE pairs separated by ',' (default "w=-2,x=5,b=3").
    #[arg(long, value_name = "NAMES", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// optimizer-race: the surface, bowl (x²/20 + y², the default) or rosenbrock
    /// ((1 − x)² + 100(y − x²)²).
    #[arg(long, value_name = "bowl|rosenbrock")]
    pub surface: Option<crate::train::race::Surface>,
    /// optimizer-race: where every optimizer starts (default -8,2 on the bowl, -1.2,1 on rosenbrock).
    #[arg(long, value_name = "X,Y", value_parser = crate::train::race::parse_start, allow_hyphen_values = true)]
    pub start: Option<[f32; 2]>,
    /// optimizer-race: number of steps (default 100). Without --lr each optimizer has PyTorch's
    /// default lr (adam, adamw 1e-3; rmsprop, adagrad 1e-2) and sgd, momentum, nesterov
    /// (momentum 0.9) take 0.1 on the bowl, 1e-3 on rosenbrock; --lr sets every one.
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true, value_name = "N")]
    pub steps: Option<usize>,
}

/// Flags of `dl-lab eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The lesson whose model the weights belong to (see `dl-lab lessons`).
    pub lesson: String,
    /// A checkpoint (`dl-lab run --save`) or a .safetensors file with PyTorch's names.
    #[arg(long, value_name = "PATH", required = true)]
    pub load: PathBuf,
    /// MNIST-format directory (the four standard file names), or mnist / fashion-mnist once
    /// fetched with `dl-lab download NAME`, instead of the shipped sample.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print {"test_acc":A,"loss":L,"n":N,"confusion":[[...]...]} instead of text (confusion:
    /// rows are the true labels 0-9, columns the predicted classes).
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "DEVICE", default_value = "auto", help = DEVICE_HELP)]
    pub device: DeviceSpec,
}

const TENSOR_AFTER_HELP: &str = "What it understands (the subset the course writes):
  torch.FloatTensor(...), torch.tensor(...), torch.LongTensor(...), torch.ByteTensor(...), np.array(...)
  torch.ones/zeros(...), ones_like/zeros_like, arange, cat(..., dim=), stack(..., dim=)
  + - * / ** @ and == < > with broadcasting; .matmul() .mul() .add()
  .mean() .sum() .max() .min() .argmax() with dim= (negative dims too) and keepdim=
  .view(...) / .reshape(...) with -1, .squeeze() .unsqueeze() .t() .transpose() .permute()
  .shape .size() .dim() .ndim .item() .float() .long() .exp() .log() .sigmoid() .relu()
  t[0], t[:, 1], t[2:5], t[-1]; print(a, b, ...); import lines are ignored; # comments
Examples:
  dl-lab tensor -e \"t = torch.FloatTensor([[1, 2], [3, 4]]); print(t.max(dim=0))\"
  dl-lab tensor basics.py
  dl-lab tensor            (a >>> prompt)";

const BENCH_AFTER_HELP: &str = "What is measured (each figure after a warm-up run):
  matmul     n x n times n x n in f32 for n = 256, 1024, 2048 on the device, inputs already there;
             GFLOP/s = 2n^3 / the median time of 5 runs
  conv       the course CNN's two conv layers at batch 100, forward and backward, median of 5 runs in ms:
             conv1 1->32 3x3 pad 1 on 28x28 (backward: the weight gradient only, as in training),
             conv2 32->64 3x3 pad 1 on 14x14 (backward: input and weight gradients)
  cnn-train  the cnn-mnist lesson's model, Adam lr 1e-3, batch 100, on the training images: one epoch
             but at most 40 batches (4,000 images, the shipped sample's epoch), after one warm-up batch;
             images/s including each batch's copy to the device
  cnn-infer  the same model, batch 1000, no graph, on the held-out images (at most 10 batches)
  cnn-test   that model's accuracy on all the held-out images (after cnn-train's training)
  gd-scalar  the gd-scalar lesson's 100,000 autograd steps, on the CPU as `dl-lab run` loops them, s
  mlp        the mlp-regression lesson's 10,000 full-batch epochs, on the CPU, s, and its final loss
With --device cpu on two CPU cores the whole run takes 15-20 s; on PoCL (OpenCL on the same CPU) about 45 s.";

/// Flags of `dl-lab bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The device to measure: cpu, opencl, opencl:N (see `dl-lab devices`) or auto (an OpenCL GPU
    /// if there is one, else the CPU).
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: DeviceSpec,
    /// CPU threads for the kernels (default: all cores).
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// MNIST-format directory for the CNN figures (default: the shipped sample), or mnist /
    /// fashion-mnist once fetched with `dl-lab download NAME`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// One JSON object per figure instead of a table.
    #[arg(long)]
    pub json: bool,
    /// cnn-train trains one whole epoch of the training images, with no warm-up batch (not at
    /// most 40 batches), so cnn-test is the accuracy of one epoch (as PyTorch's side reports it).
    #[arg(long)]
    pub full_epoch: bool,
    /// Measure only these groups of figures, comma-separated (default: all): matmul, conv, cnn
    /// (cnn-train, cnn-infer and cnn-test), gd-scalar, mlp.
    #[arg(long, value_name = "FIGURES", value_delimiter = ',', value_enum)]
    pub only: Vec<crate::bench::Part>,
    /// One timed run of each figure and a few batches: checks that the bench works, fast,
    /// not a measurement (for tests).
    #[arg(long, hide = true)]
    pub quick: bool,
}

const DOWNLOAD_AFTER_HELP: &str = "Files go to $XDG_CACHE_HOME/dl-lab/NAME (else ~/.cache/dl-lab/NAME), \
where `--data NAME` finds them; a second run downloads nothing. Each file is written to NAME.part and \
renamed only once its md5 matches the published one. A failed transfer is retried (3 tries, waiting \
1 s, then 2 s), then the next mirror is tried. Default mirrors: mnist: ossci-datasets.s3.amazonaws.com/mnist, \
storage.googleapis.com/cvdf-datasets/mnist, yann.lecun.com/exdb/mnist; fashion-mnist: \
fashion-mnist.s3-website.eu-central-1.amazonaws.com.";

/// Flags of `dl-lab download`.
#[derive(Args, Debug, Clone)]
pub struct DownloadArgs {
    /// mnist or fashion-mnist.
    #[arg(value_parser = ["mnist", "fashion-mnist"])]
    pub name: String,
    /// Base URL to fetch the files from (URL + file name); repeat for more, tried in order.
    /// Replaces the default list.
    #[arg(long, value_name = "URL")]
    pub mirror: Vec<String>,
    /// Put the files in DIR instead of the cache (then use `--data DIR`).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// A count (epochs, sizes, strides, threads): a whole number, 0 or more. A
/// negative number gets this message rather than clap's tip to write `-- -1`.
pub fn parse_count(s: &str) -> Result<usize, String> {
    let t = s.trim();
    t.parse::<usize>().map_err(|_| match t.parse::<i64>() {
        Ok(v) if v < 0 => format!("must be a whole number, 0 or more; got {v}"),
        _ => format!("must be a whole number, 0 or more; got '{s}'"),
    })
}

/// `--predict`'s inputs, one row of features.
#[derive(Clone, Debug, PartialEq)]
pub struct Features(pub Vec<f32>);

/// `--predict`'s inputs: numbers separated by commas ("2.5", "73,80,75").
pub fn parse_features(s: &str) -> Result<Features, String> {
    s.split(',')
        .map(|part| {
            let t = part.trim();
            match t.parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(format!(
                    "'{t}' is not a number; give one number or several comma-separated, e.g. 2.5 or 73,80,75"
                )),
            }
        })
        .collect::<Result<Vec<f32>, String>>()
        .map(Features)
}

/// A seed: a whole number, 0 or more.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    t.parse::<u64>()
        .map_err(|_| format!("must be a whole number, 0 or more; got '{s}'"))
}

/// `--init`: zeros, uniform, xavier or kaiming.
pub fn parse_init(s: &str) -> Result<crate::nn::init::Init, String> {
    s.parse().map_err(|e: crate::Error| e.to_string())
}

/// A learning rate must be a positive, finite number.
pub fn parse_lr(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!(
            "the learning rate must be a positive number, got {v}"
        )),
        Err(_) => Err(format!(
            "the learning rate must be a positive number, got '{s}'"
        )),
    }
}

impl RunArgs {
    /// `--expr`/`--at` belong to the backprop lesson, and the training flags
    /// to the lessons that train.
    fn check_worked(&self, lesson: &crate::lessons::Lesson) -> crate::Result<()> {
        let backprop = matches!(lesson.task, crate::lessons::Task::Backprop { .. });
        for (flag, given) in [("--expr", self.expr.is_some()), ("--at", self.at.is_some())] {
            if given && !backprop {
                return Err(crate::Error::Config(format!(
                    "{flag} is for the backprop lesson (dl-lab run backprop {flag} …); lesson {} has no expression",
                    lesson.name
                )));
            }
        }
        if lesson.is_worked() {
            let training = [
                ("--epochs", self.epochs.is_some()),
                ("--lr", self.lr.is_some()),
                ("--optimizer", self.optimizer.is_some()),
                ("--momentum", self.momentum.is_some()),
                ("--weight-decay", self.weight_decay.is_some()),
                ("--batch-size", self.batch_size.is_some()),
                ("--normalize", self.normalize),
                ("--predict", self.predict.is_some()),
                ("--seed", self.seed.is_some()),
                ("--data", self.data.is_some()),
                ("--log-every", self.log_every.is_some()),
            ];
            if let Some((flag, _)) = training.iter().find(|(_, given)| *given) {
                return Err(crate::Error::Config(format!(
                    "{flag}: lesson {} trains nothing (it works its example out); \
                     the training flags are for the other lessons",
                    lesson.name
                )));
            }
        }
        Ok(())
    }

    /// The lesson's defaults with these flags applied.
    pub fn config(
        &self,
        lesson: &crate::lessons::Lesson,
    ) -> crate::Result<crate::lessons::RunConfig> {
        self.config_from(lesson, lesson.defaults.clone())
    }

    /// `--load`, `--save` and `--history`, with the checkpoint read and checked.
    pub fn files(
        &self,
        lesson: &crate::lessons::Lesson,
    ) -> crate::Result<crate::lessons::RunFiles> {
        crate::lessons::RunFiles::open(
            lesson,
            self.load.as_deref(),
            self.save.as_deref(),
            self.history.as_deref(),
        )
    }

    /// As [`config`](Self::config), starting from `defaults` (a checkpoint's
    /// settings, see [`RunFiles::defaults`](crate::lessons::RunFiles::defaults)).
    pub fn config_from(
        &self,
        lesson: &crate::lessons::Lesson,
        defaults: crate::lessons::Hyper,
    ) -> crate::Result<crate::lessons::RunConfig> {
        let mut cfg = crate::lessons::RunConfig::defaults(lesson);
        self.check_worked(lesson)?;
        cfg.expr = self.expr.clone();
        cfg.at = self.at.clone();
        cfg.hyper = defaults;
        let h = &mut cfg.hyper;
        if let Some(v) = self.epochs {
            if v == 0 && lesson.is_classifier() {
                return Err(crate::Error::Config(
                    "--epochs must be at least 1 for the MNIST lessons (they count epochs from 1)"
                        .into(),
                ));
            }
            h.epochs = v;
        }
        if let Some(v) = self.lr {
            h.lr = v;
        }
        // another optimizer starts from its own defaults (AdamW's weight decay)
        if let Some(v) = &self.optimizer {
            let o: crate::train::OptimizerSettings = v.parse()?;
            if o.kind() != h.optimizer.kind() {
                h.optimizer = o;
            }
        }
        if let Some(v) = self.momentum {
            h.optimizer = h.optimizer.with_momentum(v)?;
        }
        if let Some(v) = self.weight_decay {
            h.optimizer = h.optimizer.with_weight_decay(v);
        }
        if let Some(v) = self.init {
            h.init = v;
        }
        if let Some(v) = self.batch_size {
            // the small lessons' 0 is their full batch
            if v == 0 && lesson.is_classifier() {
                return Err(crate::Error::Config(
                    "--batch-size must be at least 1".into(),
                ));
            }
            h.batch_size = v;
        }
        if let Some(v) = self.seed {
            h.seed = v;
        }
        if let Some(v) = self.log_every {
            if v == 0 {
                return Err(crate::Error::Config(
                    "--log-every must be at least 1".into(),
                ));
            }
            h.log_every = v;
        }
        if self.normalize || self.predict.is_some() {
            let flag = if self.normalize {
                "--normalize"
            } else {
                "--predict"
            };
            if lesson.is_classifier() {
                return Err(crate::Error::Config(format!(
                    "{flag} is for the small lessons with a table of inputs (linear … xor-deep); \
                     lesson {} trains on images",
                    lesson.name
                )));
            }
        }
        h.normalize = h.normalize || self.normalize;
        cfg.predict = self.predict.clone().map(|f| f.0);
        cfg.data = self.data.clone();
        cfg.json = self.json;
        self.race_into(lesson, &mut cfg)?;
        Ok(cfg)
    }

    /// `--surface`, `--start`, `--steps` (the optimizer race's, refused
    /// elsewhere), and the flags the race has no use for (refused there).
    fn race_into(
        &self,
        lesson: &crate::lessons::Lesson,
        cfg: &mut crate::lessons::RunConfig,
    ) -> crate::Result<()> {
        let race = matches!(lesson.task, crate::lessons::Task::Race { .. });
        let refuse = |flag: &str, why: &str| {
            Err(crate::Error::Config(format!(
                "{flag}: lesson {} {why}",
                lesson.name
            )))
        };
        if !race {
            for (flag, given) in [
                ("--surface", self.surface.is_some()),
                ("--start", self.start.is_some()),
                ("--steps", self.steps.is_some()),
            ] {
                if given {
                    return refuse(
                        flag,
                        "is not the optimizer race (dl-lab run optimizer-race takes it)",
                    );
                }
            }
            return Ok(());
        }
        for (flag, given) in [
            ("--epochs", self.epochs.is_some()),
            ("--optimizer", self.optimizer.is_some()),
            ("--momentum", self.momentum.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--data", self.data.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--normalize", self.normalize),
            ("--predict", self.predict.is_some()),
        ] {
            if given {
                return refuse(
                    flag,
                    "races seven optimizers with their own settings on a formula; it takes \
                     --surface, --start X,Y, --steps N, --lr and --json",
                );
            }
        }
        if let Some(n) = self.steps {
            cfg.hyper.epochs = n;
        }
        cfg.race = crate::lessons::RaceOptions {
            surface: self.surface,
            start: self.start,
            lr: self.lr,
        };
        Ok(())
    }
}
