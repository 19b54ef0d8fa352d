//! Property tests: random and mutated IDX (raw and gzip'd) and CSV bytes never make a reader
//! panic or allocate much; they get an `Err` with a message (or parse, when the mutation left a
//! valid file). A counting allocator records the largest single allocation of this test binary.
//! Case counts are bounded so the whole file runs in seconds.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use dl_lab::data::idx::{self, IdxImages};
use dl_lab::data::mnist::ImageSet;
use proptest::prelude::*;

/// The system allocator, noting the largest request.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// No input in this file is over 64 KiB, so nothing it leads to should need 64 MiB at once.
const ALLOC_LIMIT: usize = 64 << 20;

fn assert_small_allocations() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < ALLOC_LIMIT,
        "a single allocation of {largest} bytes"
    );
}

/// A valid little IDX pair: `n` images of 3×2 and their labels.
fn valid_pair(n: usize) -> (Vec<u8>, Vec<u8>) {
    let images = IdxImages {
        count: n,
        rows: 3,
        cols: 2,
        pixels: (0..n * 6).map(|i| (i * 37 % 256) as u8).collect(),
    };
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (
        idx::write_idx_images(&images),
        idx::write_idx_labels(&labels),
    )
}

/// Parse as the file readers do: gunzip if gzip, then images and labels, then the pair.
fn parse_all(images: &[u8], labels: &[u8]) -> dl_lab::Result<ImageSet> {
    let images =
        idx::maybe_gunzip(images.to_vec()).map_err(|e| dl_lab::Error::Idx(e.to_string()))?;
    let labels =
        idx::maybe_gunzip(labels.to_vec()).map_err(|e| dl_lab::Error::Idx(e.to_string()))?;
    ImageSet::from_idx(idx::parse_images(&images)?, idx::parse_labels(&labels)?)
}

/// Apply `edits` (position, new byte) and cut to `keep` bytes (a fraction of the length).
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], keep: f64) -> Vec<u8> {
    if !bytes.is_empty() {
        for &(at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
    }
    let len = ((bytes.len() as f64) * keep).ceil() as usize;
    bytes.truncate(len);
    bytes
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_are_refused_not_panicked_on(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = idx::parse_images(&bytes);
        let _ = idx::parse_labels(&bytes);
        let _ = idx::maybe_gunzip(bytes.clone());
        assert_small_allocations();
    }

    #[test]
    fn random_headers_with_the_right_magic_are_checked_before_allocating(
        dims in proptest::array::uniform3(any::<u32>()),
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(&tail);
        let declared = dims.iter().map(|&d| d as u128).product::<u128>();
        match idx::parse_images(&bytes) {
            Ok(img) => prop_assert_eq!(img.pixels.len() as u128, declared),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        // and the same behind gzip
        let _ = parse_all(&idx::gzip(&bytes), &idx::gzip(&idx::write_idx_labels(&[1])));
        assert_small_allocations();
    }

    #[test]
    fn mutated_idx_files_parse_or_fail_cleanly(
        n in 1usize..40,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        keep in 0.0f64..=1.0,
        gz in any::<bool>(),
        which in 0..2,
    ) {
        let (images, labels) = valid_pair(n);
        let (mut images, mut labels) = if gz {
            (idx::gzip(&images), idx::gzip(&labels))
        } else {
            (images, labels)
        };
        if which == 0 {
            images = mutate(images, &edits, keep);
        } else {
            labels = mutate(labels, &edits, keep);
        }
        if let Ok(set) = parse_all(&images, &labels) {
            // whatever parsed is consistent
            prop_assert_eq!(set.images.nrows(), set.labels.len());
            prop_assert_eq!(set.images.ncols(), set.rows * set.cols);
            prop_assert!(set.labels.iter().all(|&l| l < 10));
        }
        assert_small_allocations();
    }

    #[test]
    fn random_csv_text_is_refused_not_panicked_on(text in "[0-9a-z,.;\\-\n \u{feff}e+]{0,400}") {
        match dl_lab::data::csv::parse_regression_csv(&text, Path::new("fuzz.csv")) {
            Ok((x, y, names)) => {
                prop_assert_eq!(x.nrows(), y.nrows());
                prop_assert_eq!(x.ncols() + 1, names.len());
            }
            Err(e) => prop_assert!(e.to_string().starts_with("fuzz.csv")),
        }
    }

    #[test]
    fn mutated_csv_bytes_are_refused_not_panicked_on(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        keep in 0.0f64..=1.0,
    ) {
        let good = b"x1,x2,y\n1,2,3\n4.5,-6,7e-1\n0,0,0\n".to_vec();
        let bytes = mutate(good, &edits, keep);
        let dir = common::TempDir::new("csv-fuzz");
        let path = dir.write("fuzz.csv", &bytes);
        if let Err(e) = dl_lab::data::csv::read_regression_csv(&path) {
            prop_assert!(e.to_string().contains("fuzz.csv"), "{}", e);
        }
    }
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    for dims in [
        [u32::MAX; 3],
        [1 << 20, 1 << 10, 1 << 10],
        [2, 0x10000, 0x10000],
    ] {
        let mut bytes = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        let err = idx::parse_images(&bytes).unwrap_err().to_string();
        assert!(err.contains("absurd header"), "{dims:?}: {err}");
    }
    let mut zero_width = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [5u32, 28, 0] {
        zero_width.extend_from_slice(&d.to_be_bytes());
    }
    let err = idx::parse_images(&zero_width).unwrap_err().to_string();
    assert!(err.contains("5 images of 28x0"), "{err}");
    assert_small_allocations();
}

#[test]
fn a_gzip_bomb_is_not_inflated_past_its_header() {
    // the header declares 10 images of 28×28 (7,840 bytes); the stream inflates to 32 MiB
    let mut raw = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [10u32, 28, 28] {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    raw.resize(16 + (32 << 20), 0);
    let bomb = idx::gzip(&raw);
    drop(raw);
    assert!(bomb.len() < 64 << 10, "compresses well: {}", bomb.len());
    LARGEST.store(0, Ordering::Relaxed);
    let inflated = idx::maybe_gunzip(bomb).expect("decompresses");
    assert_eq!(
        inflated.len(),
        16 + 7_840 + 1,
        "stops one byte past the declared data"
    );
    let err = idx::parse_images(&inflated).unwrap_err().to_string();
    assert!(err.contains("unexpected bytes after the data"), "{err}");
    assert!(LARGEST.load(Ordering::Relaxed) < 1 << 20);
}

#[test]
fn an_empty_training_set_is_an_error_naming_the_file() {
    let dir = common::TempDir::new("empty-set");
    let (images, labels) = valid_pair(4);
    dir.write(
        "train-images-idx3-ubyte",
        &idx::write_idx_images(&IdxImages {
            count: 0,
            rows: 3,
            cols: 2,
            pixels: vec![],
        }),
    );
    dir.write("train-labels-idx1-ubyte", &idx::write_idx_labels(&[]));
    dir.write("t10k-images-idx3-ubyte", &images);
    dir.write("t10k-labels-idx1-ubyte", &labels);
    let err = dl_lab::data::Mnist::load_dir(dir.dir())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("holds no images"),
        "{err}"
    );
}

#[test]
fn training_on_an_empty_split_is_refused_with_a_message() {
    let lesson = dl_lab::lessons::find("softmax-mnist").expect("lesson");
    let dl_lab::lessons::Task::Classifier {
        layers,
        input_shape,
    } = lesson.task.clone()
    else {
        panic!("softmax-mnist is a classifier")
    };
    let set = |n: usize| {
        let images = IdxImages {
            count: n,
            rows: 28,
            cols: 28,
            pixels: vec![0; n * 784],
        };
        ImageSet::from_idx(images, vec![3; n]).expect("valid set")
    };
    for (train, test) in [(0, 5), (5, 0)] {
        let err = dl_lab::train::ClassifierRun::new(
            &layers,
            &input_shape,
            set(train),
            set(test),
            &lesson.defaults,
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(
            err.contains(&format!("{train} training and {test} held-out images")),
            "{err}"
        );
    }
}
