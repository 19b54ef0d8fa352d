//! Tests for the data module: IDX bytes built in memory (good, bad magic, truncated, count
//! mismatch, raw and gzip), MNIST directories, the shipped sample, the loader and CSV errors.

#[macro_use]
mod common;

use common::TempDir;
use std::collections::HashSet;
use std::path::Path;

use dl_lab::data::idx::{self, IdxImages};
use dl_lab::data::mnist::{self, ImageSet, Mnist, NUM_CLASSES};
use dl_lab::data::{read_regression_csv, to_nchw, DataLoader};
use dl_lab::Error;
use ndarray::Array2;

/// `count` images of 2×3 pixels whose bytes are 0, 1, 2, …
fn tiny_images(count: usize) -> IdxImages {
    IdxImages {
        count,
        rows: 2,
        cols: 3,
        pixels: (0..count * 6).map(|i| (i * 10 % 256) as u8).collect(),
    }
}

fn message(err: Error) -> String {
    err.to_string()
}

// ---------------------------------------------------------------- IDX bytes

#[test]
fn idx_round_trip() {
    let images = tiny_images(4);
    let bytes = idx::write_idx_images(&images);
    assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
    assert_eq!(bytes.len(), 16 + 24);
    assert_eq!(idx::parse_images(&bytes).expect("parse"), images);

    let labels = vec![3, 1, 4, 1];
    let bytes = idx::write_idx_labels(&labels);
    assert_eq!(&bytes[..8], &[0, 0, 8, 1, 0, 0, 0, 4]);
    assert_eq!(idx::parse_labels(&bytes).expect("parse"), labels);
}

#[test]
fn idx_bad_magic_says_expected_and_found() {
    let labels = idx::write_idx_labels(&[1, 2]);
    let err = message(idx::parse_images(&labels).expect_err("labels are not images"));
    assert!(
        err.contains("expected 2051") && err.contains("found 2049"),
        "{err}"
    );
    assert!(err.contains("swapped"), "{err}");

    let mut junk = idx::write_idx_labels(&[1, 2]);
    junk[2] = 0x42;
    let err = message(idx::parse_labels(&junk).expect_err("bad magic"));
    assert!(
        err.contains("expected 2049") && err.contains("found"),
        "{err}"
    );

    let gz = idx::gzip(&idx::write_idx_labels(&[1]));
    let err = message(idx::parse_labels(&gz).expect_err("still compressed"));
    assert!(err.contains("gzip"), "{err}");
}

#[test]
fn idx_truncated_says_how_many_bytes() {
    let mut bytes = idx::write_idx_images(&tiny_images(4));
    bytes.truncate(bytes.len() - 5);
    let err = message(idx::parse_images(&bytes).expect_err("truncated"));
    assert!(err.contains("truncated data"), "{err}");
    assert!(
        err.contains("needs 24 bytes") && err.contains("only 19"),
        "{err}"
    );

    let err = message(idx::parse_images(&bytes[..10]).expect_err("short header"));
    assert!(
        err.contains("truncated header") && err.contains("16"),
        "{err}"
    );
    assert!(idx::parse_labels(&[0, 0]).is_err());

    let mut long = idx::write_idx_labels(&[1, 2, 3]);
    long.push(7);
    let err = message(idx::parse_labels(&long).expect_err("trailing bytes"));
    assert!(err.contains("1 unexpected bytes"), "{err}");
}

#[test]
fn idx_count_mismatch() {
    let err = ImageSet::from_idx(tiny_images(3), vec![0, 1]).expect_err("3 vs 2");
    let err = message(err);
    assert!(
        err.contains("3 images") && err.contains("2 labels"),
        "{err}"
    );

    let err = message(ImageSet::from_idx(tiny_images(2), vec![0, 10]).expect_err("label 10"));
    assert!(err.contains("label 10 at index 1"), "{err}");
}

#[test]
fn idx_files_raw_and_gzip_detected_by_magic() {
    let dir = TempDir::new("idx-files");
    let images = tiny_images(2);
    let raw = dir.write("a.bin", &idx::write_idx_images(&images));
    // gzip'd content under a name without .gz: detected by the 1f 8b magic.
    let gz = dir.write("b.bin", &idx::gzip(&idx::write_idx_images(&images)));
    assert_eq!(idx::read_images_file(&raw).expect("raw"), images);
    assert_eq!(idx::read_images_file(&gz).expect("gz"), images);

    let labels = dir.write("l.gz", &idx::gzip(&idx::write_idx_labels(&[5, 6])));
    assert_eq!(idx::read_labels_file(&labels).expect("labels"), vec![5, 6]);

    // File errors name the file.
    let err = message(idx::read_images_file(&labels).expect_err("labels as images"));
    assert!(err.contains("l.gz") && err.contains("bad magic"), "{err}");
    let broken = dir.write("broken.gz", &[0x1f, 0x8b, 1, 2, 3]);
    let err = message(idx::read_idx_file(&broken).expect_err("broken gzip"));
    assert!(err.contains("broken.gz") && err.contains("gzip"), "{err}");
    let err = message(idx::read_idx_file(&dir.join("nope")).expect_err("missing"));
    assert!(err.contains("nope"), "{err}");
}

// ---------------------------------------------------------------- MNIST directories

fn write_mnist_dir(dir: &TempDir, gz: bool, train: usize, test: usize) {
    let enc = |b: Vec<u8>| if gz { idx::gzip(&b) } else { b };
    let ext = if gz { ".gz" } else { "" };
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let files = [
        (
            mnist::TRAIN_IMAGES,
            idx::write_idx_images(&tiny_images(train)),
        ),
        (mnist::TRAIN_LABELS, idx::write_idx_labels(&labels(train))),
        (
            mnist::TEST_IMAGES,
            idx::write_idx_images(&tiny_images(test)),
        ),
        (mnist::TEST_LABELS, idx::write_idx_labels(&labels(test))),
    ];
    for (name, bytes) in files {
        dir.write(&format!("{name}{ext}"), &enc(bytes));
    }
}

#[test]
fn load_dir_raw_and_gz() {
    for gz in [false, true] {
        let dir = TempDir::new(if gz { "mnist-gz" } else { "mnist-raw" });
        write_mnist_dir(&dir, gz, 12, 5);
        let data = Mnist::load_dir(dir.dir()).expect("load");
        assert_eq!((data.train.len(), data.test.len()), (12, 5));
        assert_eq!((data.train.rows, data.train.cols), (2, 3));
        assert_eq!(data.train.images.dim(), (12, 6));
        assert_eq!(data.train.images[[0, 1]], 10);
        assert_eq!(
            data.train.image_values(0).expect("image 0")[1],
            10.0 / 255.0
        );
        assert_eq!(data.train.class_counts(), [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert!(data.source.contains(&dir.dir().display().to_string()));
        let test = Mnist::load_test_files(dir.dir()).expect("t10k only");
        assert_eq!(test, data.test);
    }
}

#[test]
fn load_dir_missing_file_names_it_and_the_expected_names() {
    let dir = TempDir::new("mnist-missing");
    write_mnist_dir(&dir, true, 3, 3);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte.gz")).expect("rm");
    let err = message(Mnist::load_dir(dir.dir()).expect_err("missing labels"));
    assert!(err.contains("t10k-labels-idx1-ubyte"), "{err}");
    assert!(
        err.contains("train-images-idx3-ubyte, train-labels-idx1-ubyte"),
        "{err}"
    );

    let err = message(Mnist::load_dir(dir.join("no-such-dir")).expect_err("no dir"));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn load_dir_count_mismatch_names_the_files() {
    let dir = TempDir::new("mnist-mismatch");
    write_mnist_dir(&dir, false, 4, 3);
    dir.write(mnist::TRAIN_LABELS, &idx::write_idx_labels(&[1, 2, 3]));
    let err = message(Mnist::load_dir(dir.dir()).expect_err("4 images, 3 labels"));
    assert!(err.contains("train-labels-idx1-ubyte"), "{err}");
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(
        err.contains("4 images") && err.contains("3 labels"),
        "{err}"
    );
}

// ---------------------------------------------------------------- shipped sample

#[test]
fn shipped_sample_is_5000_real_digits_with_balanced_held_out() {
    let data = Mnist::shipped().expect("shipped sample");
    assert_eq!(data.train.len() + data.test.len(), 5_000);
    assert_eq!(data.train.len(), mnist::SHIPPED_TRAIN_LEN);
    assert_eq!(data.test.len(), mnist::SHIPPED_TEST_LEN);
    assert_eq!(data.test.class_counts(), [100; NUM_CLASSES]);
    assert_eq!(data.train.class_counts(), [400; NUM_CLASSES]);
    for set in [&data.train, &data.test] {
        assert_eq!((set.rows, set.cols), (28, 28));
        assert_eq!(set.images.ncols(), 784);
        assert_eq!(set.images.iter().copied().max(), Some(255));
        let values = set.image_values(0).expect("image 0");
        assert!(values.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }
    // Interleaved by class, so a prefix is balanced too.
    assert_eq!(
        data.train.subset(0..100).expect("prefix").class_counts(),
        [10; 10]
    );
    // The embedded copy is the one in datasets/mnist5k.
    let dir = Mnist::shipped_dir();
    let pair = |images: &str, labels: &str| {
        ImageSet::load_pair(
            dir.join(format!("{images}.gz")),
            dir.join(format!("{labels}.gz")),
        )
        .expect("datasets/mnist5k")
    };
    assert_eq!(
        pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        data.train
    );
    assert_eq!(
        pair("heldout-images-idx3-ubyte", "heldout-labels-idx1-ubyte"),
        data.test
    );
    // No image is in both splits.
    let train: HashSet<Vec<u8>> = data.train.images.rows().into_iter().map(bits).collect();
    assert!(data
        .test
        .images
        .rows()
        .into_iter()
        .all(|r| !train.contains(&bits(r))));
}

fn bits(row: ndarray::ArrayView1<u8>) -> Vec<u8> {
    row.to_vec()
}

#[test]
fn subset_and_image_views() {
    let set = ImageSet::from_idx(tiny_images(5), vec![0, 1, 2, 3, 4]).expect("set");
    let sub = set.subset(1..3).expect("1..3");
    assert_eq!(sub.labels, vec![1, 2]);
    assert_eq!(sub.images.row(0), set.images.row(1));
    assert!(set.subset(3..6).is_err());
    let img = set.image(1).expect("image 1");
    assert_eq!(img.dim(), (2, 3));
    assert_eq!(img[[1, 0]], 90.0 / 255.0);
    assert!(set.image(5).is_none());
}

#[test]
fn shared_mnist_test_files_if_present() {
    // The course's full t10k pair; a later test trains on 0..2000 and evaluates on 2000..3000.
    let Some(dir) = common::shared_dir("datasets/mnist") else {
        return;
    };
    let t10k = Mnist::load_test_files(&dir).expect("t10k");
    assert_eq!(t10k.len(), 10_000);
    let (train, valid) = (
        t10k.subset(0..2000).expect("a"),
        t10k.subset(2000..3000).expect("b"),
    );
    assert_eq!((train.len(), valid.len()), (2000, 1000));
}

#[test]
fn fashion_mnist_if_installed() {
    // Debian: apt-get install dataset-fashion-mnist (same names and format as MNIST).
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        skip_note!("skipping: {} not found", dir.display());
        return;
    }
    let data = Mnist::load_dir(dir).expect("fashion-mnist");
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(data.test.class_counts(), [1_000; NUM_CLASSES]);
}

// ---------------------------------------------------------------- loader

fn loader(n: usize, batch: usize) -> DataLoader {
    let images = Array2::from_shape_fn((n, 4), |(i, j)| (i * 4 + j) as f32);
    DataLoader::new(images, (0..n).collect(), batch).expect("loader")
}

#[test]
fn loader_batch_counts() {
    assert_eq!(loader(10, 3).len(), 4);
    assert_eq!(loader(10, 3).drop_last(true).len(), 3);
    assert_eq!(loader(9, 3).drop_last(true).len(), 3);
    assert_eq!(loader(2, 3).drop_last(true).len(), 0);
    let sizes: Vec<usize> = loader(10, 3).epoch(0).map(|(x, _)| x.nrows()).collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    let l = loader(10, 3).drop_last(true).shuffle(1);
    assert_eq!(l.epoch(0).len(), 3);
    assert!(l.epoch(0).all(|(x, y)| x.dim() == (3, 4) && y.len() == 3));
    assert!(DataLoader::new(Array2::zeros((3, 2)), vec![0, 1], 1).is_err());
    assert!(DataLoader::new(Array2::zeros((3, 2)), vec![0, 1, 2], 0).is_err());
}

#[test]
fn loader_every_sample_once_and_rows_match_labels() {
    for l in [loader(23, 5), loader(23, 5).shuffle(7)] {
        for epoch in 0..3 {
            let mut seen = Vec::new();
            for (x, y) in l.epoch(epoch) {
                for (row, &label) in x.rows().into_iter().zip(&y) {
                    assert_eq!(
                        row[0],
                        (label * 4) as f32,
                        "image row travels with its label"
                    );
                }
                seen.extend(y);
            }
            seen.sort();
            assert_eq!(seen, (0..23).collect::<Vec<_>>());
        }
    }
    assert_eq!(
        loader(6, 4).order(3),
        vec![0, 1, 2, 3, 4, 5],
        "no shuffle: stored order"
    );
}

#[test]
fn loader_shuffle_is_seeded() {
    let labels = |l: &DataLoader, e| l.epoch(e).flat_map(|(_, y)| y).collect::<Vec<_>>();
    let a = loader(100, 8).shuffle(42);
    let b = loader(100, 8).shuffle(42);
    let c = loader(100, 8).shuffle(43);
    assert_eq!(labels(&a, 0), labels(&b, 0), "same seed, same order");
    assert_eq!(labels(&a, 5), labels(&b, 5));
    assert_ne!(labels(&a, 0), labels(&c, 0), "different seeds differ");
    assert_ne!(labels(&a, 0), labels(&a, 1), "each epoch reshuffles");
    assert_ne!(labels(&a, 0), (0..100).collect::<Vec<_>>());
}

#[test]
fn loader_from_shipped_set_and_nchw() {
    let data = Mnist::shipped().expect("shipped");
    let l = DataLoader::from_set(&data.test, 64)
        .expect("loader")
        .shuffle(0);
    assert_eq!(l.len(), 16);
    let (x, y) = l.epoch(0).next().expect("a batch");
    assert_eq!((x.dim(), y.len()), ((64, 784), 64));
    let x4 = to_nchw(x.clone(), 28, 28).expect("nchw");
    assert_eq!(x4.dim(), (64, 1, 28, 28));
    assert_eq!(x4[[3, 0, 5, 7]], x[[3, 5 * 28 + 7]]);
    assert!(to_nchw(x, 27, 28).is_err());
}

#[test]
fn loader_from_set_scales_each_batch_from_the_shared_bytes() {
    let data = Mnist::shipped().expect("shipped");
    let set = data.test.subset(100..400).expect("subset");
    // the subset and the loader share the pixel bytes: no copy of the images
    assert_eq!(set.images.as_ptr(), data.test.images.row(100).as_ptr());
    let l = DataLoader::from_set(&set, 64).expect("loader").shuffle(3);
    let mut seen = 0;
    for (x, y) in l.epoch(1) {
        let order = &l.order(1)[seen..seen + y.len()];
        for (row, &i) in x.rows().into_iter().zip(order) {
            let want: Vec<f32> = set
                .images
                .row(i)
                .iter()
                .map(|&p| p as f32 / 255.0)
                .collect();
            assert_eq!(row.to_vec(), want, "sample {i}");
            assert_eq!(set.image_values(i).expect("in range"), want);
        }
        assert_eq!(
            y,
            order
                .iter()
                .map(|&i| usize::from(set.labels[i]))
                .collect::<Vec<_>>()
        );
        seen += y.len();
    }
    assert_eq!(seen, 300);
}

// ---------------------------------------------------------------- CSV

fn csv_err(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.write(name, text.as_bytes());
    message(read_regression_csv(&path).expect_err("bad csv"))
}

#[test]
fn csv_good_file() {
    let dir = TempDir::new("csv-good");
    let text = "\u{feff}x1, x2 ,y\r\n1,2,3\n 4.5 ,-5,6e1\n\n7,8,9\n\n  \n";
    let (x, y, header) = read_regression_csv(dir.write("ok.csv", text.as_bytes())).expect("ok");
    assert_eq!(header, vec!["x1", "x2", "y"]);
    assert_eq!(x, ndarray::array![[1.0, 2.0], [4.5, -5.0], [7.0, 8.0]]);
    assert_eq!(y, ndarray::array![[3.0], [60.0], [9.0]]);
}

#[test]
fn csv_errors_name_file_and_line() {
    let dir = TempDir::new("csv-bad");
    let err = csv_err(&dir, "nan.csv", "a,b,y\n1,2,3\n1,abc,3\n");
    assert!(err.contains("nan.csv:3:"), "{err}");
    assert!(
        err.contains(r#"column 2 ("b") "abc" is not a number"#),
        "{err}"
    );

    let err = csv_err(&dir, "cols.csv", "a,b,y\n1,2,3\n\n1,2\n");
    assert!(
        err.contains("cols.csv:4:") && err.contains("expected 3 columns"),
        "{err}"
    );
    assert!(err.contains("found 2"), "{err}");

    let err = csv_err(&dir, "empty.csv", "\n  \n");
    assert!(
        err.contains("empty.csv") && err.contains("empty file"),
        "{err}"
    );

    let err = csv_err(&dir, "header-only.csv", "a,y\n\n");
    assert!(
        err.contains("header-only.csv") && err.contains("no data rows"),
        "{err}"
    );

    let err = csv_err(&dir, "one.csv", "y\n1\n");
    assert!(
        err.contains("one.csv:1:") && err.contains("at least 2 columns"),
        "{err}"
    );

    let err = csv_err(&dir, "noheader.csv", "1,2\n3,4\n");
    assert!(
        err.contains("noheader.csv:1:") && err.contains("header"),
        "{err}"
    );

    let err = csv_err(&dir, "inf.csv", "a,y\n1,inf\n");
    assert!(
        err.contains("inf.csv:2:") && err.contains("not a finite number"),
        "{err}"
    );

    let err = csv_err(&dir, "blank.csv", "a,y\n1,\n");
    assert!(
        err.contains("blank.csv:2:") && err.contains("is empty"),
        "{err}"
    );

    let err = message(read_regression_csv(dir.join("missing.csv")).expect_err("missing"));
    assert!(err.contains("missing.csv"), "{err}");
}

#[test]
fn csv_errors_for_a_directory_and_for_semicolons_say_what_to_do() {
    let dir = TempDir::new("csv-hints");
    let e = message(read_regression_csv(dir.dir()).expect_err("a directory"));
    assert!(
        e.contains("is a directory") && e.contains("CSV file"),
        "{e}"
    );
    let path = dir.write("semi.csv", b"x;y\n1;2\n2;4\n");
    let e = message(read_regression_csv(&path).expect_err("';' separated"));
    assert!(
        e.contains("separated by ';'") && e.contains("semi.csv:1"),
        "{e}"
    );
    // a plain one-column file gets no such hint
    let path = dir.write("one.csv", b"y\n1\n2\n");
    let e = message(read_regression_csv(&path).expect_err("one column"));
    assert!(!e.contains("';'"), "{e}");
}
