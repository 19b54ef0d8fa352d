//! IDX files: the format MNIST and Fashion-MNIST are distributed in.
//!
//! Format (from the MNIST page by LeCun, Cortes and Burges; candle's `mnist.rs` reads it the same
//! way): a big-endian `u32` magic, then one big-endian `u32` size per dimension, then the data.
//! The magic is `0x0000TTDD`: `TT = 0x08` means unsigned bytes and `DD` the number of dimensions.
//!
//! - images: magic 2051 (`0x00000803`), sizes N, rows, cols, then N·rows·cols pixel bytes;
//! - labels: magic 2049 (`0x00000801`), size N, then N label bytes.
//!
//! The parsers work on `&[u8]` and know nothing about files, so their errors are
//! [`Error::Idx`]; the `read_*_file` functions add the path ([`Error::BadFile`]).
//! Files may be raw or gzip'd: gzip is recognised by its magic bytes `1f 8b`, not by the name.
//! The writers exist so tests (and tools) can build IDX files in memory.

use std::io::{Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::{Error, Result};

/// Magic number of an IDX image file (u8 data, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX label file (u8 data, 1 dimension).
pub const LABELS_MAGIC: u32 = 2049;
/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A parsed IDX image file: `count` images of `rows × cols` bytes, row-major, one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// `count * rows * cols` bytes, 0 = background.
    pub pixels: Vec<u8>,
}

/// Parse an (uncompressed) IDX image file.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages> {
    let dims = parse_header(bytes, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if count > 0 && (rows == 0 || cols == 0) {
        return Err(Error::Idx(format!(
            "absurd header: {count} images of {rows}x{cols} pixels"
        )));
    }
    let data = check_data_len(bytes, 16, &[count, rows, cols], "images")?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: data.to_vec(),
    })
}

/// Parse an (uncompressed) IDX label file.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    let dims = parse_header(bytes, LABELS_MAGIC, 1)?;
    Ok(check_data_len(bytes, 8, &[dims[0]], "labels")?.to_vec())
}

/// Check that an image file and a label file describe the same number of samples.
pub fn check_counts(images: &IdxImages, labels: &[u8]) -> Result<()> {
    if images.count == labels.len() {
        return Ok(());
    }
    Err(Error::Idx(format!(
        "count mismatch: the image file has {} images but the label file has {} labels",
        images.count,
        labels.len()
    )))
}

/// The most data bytes an IDX file may declare: 1 GiB (the full MNIST training images are 47 MB).
/// A header asking for more is refused before anything that size is allocated.
pub const MAX_IDX_BYTES: usize = 1 << 30;

/// Decompress `bytes` if they start with the gzip magic, otherwise return them unchanged.
///
/// Decompression stops one byte past the size the IDX header inside declares (capped at
/// [`MAX_IDX_BYTES`]), so a small file that inflates without end (a "gzip bomb") costs no more
/// memory than its header claims; the parsers then report the data as too long or too large.
pub fn maybe_gunzip(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut decoder = GzDecoder::new(bytes.as_slice());
    // magic, then one u32 per dimension (the magic's low byte)
    let mut out = Vec::new();
    (&mut decoder).take(4).read_to_end(&mut out)?;
    let ndims = out.get(3).map_or(0, |&d| usize::from(d));
    (&mut decoder)
        .take(4 * ndims as u64)
        .read_to_end(&mut out)?;
    let declared = out
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as usize)
        .try_fold(1usize, |acc, d| acc.checked_mul(d))
        .map_or(MAX_IDX_BYTES, |n| n.min(MAX_IDX_BYTES));
    out.reserve(declared.min(bytes.len().saturating_mul(8)));
    decoder.take(declared as u64 + 1).read_to_end(&mut out)?;
    Ok(out)
}

/// Read a whole file, gunzipping it when it starts with `1f 8b` (whatever its name).
pub fn read_idx_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    maybe_gunzip(bytes).map_err(|e| Error::BadFile {
        path: path.to_path_buf(),
        why: format!("starts like gzip but does not decompress: {e}"),
    })
}

/// Read and parse an IDX image file (raw or gzip'd).
pub fn read_images_file(path: &Path) -> Result<IdxImages> {
    parse_images(&read_idx_file(path)?).map_err(|e| with_path(path, e))
}

/// Read and parse an IDX label file (raw or gzip'd).
pub fn read_labels_file(path: &Path) -> Result<Vec<u8>> {
    parse_labels(&read_idx_file(path)?).map_err(|e| with_path(path, e))
}

/// Turn a byte-level [`Error::Idx`] into a [`Error::BadFile`] naming `path`.
pub fn with_path(path: &Path, err: Error) -> Error {
    match err {
        Error::Idx(why) => Error::BadFile {
            path: path.to_path_buf(),
            why,
        },
        other => other,
    }
}

/// Encode images as an uncompressed IDX file (magic 2051).
/// Panics if `pixels.len() != count * rows * cols` or a size exceeds `u32` (caller's bug).
pub fn write_idx_images(images: &IdxImages) -> Vec<u8> {
    assert_eq!(
        images.pixels.len(),
        images.count * images.rows * images.cols,
        "write_idx_images: pixel buffer does not match count × rows × cols"
    );
    let mut out = Vec::with_capacity(16 + images.pixels.len());
    let sizes = [images.count, images.rows, images.cols].map(u32_size);
    for word in std::iter::once(IMAGES_MAGIC).chain(sizes) {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Encode labels as an uncompressed IDX file (magic 2049).
pub fn write_idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&u32_size(labels.len()).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Gzip `bytes` in memory (mtime 0, so the output is reproducible).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes)
        .expect("writing into a Vec cannot fail");
    enc.finish()
        .expect("finishing a gzip stream into a Vec cannot fail")
}

fn u32_size(n: usize) -> u32 {
    u32::try_from(n).expect("IDX sizes are u32; this many items cannot be written")
}

fn read_be_u32(bytes: &[u8], at: usize) -> u32 {
    let word: [u8; 4] = bytes[at..at + 4].try_into().expect("slice of length 4");
    u32::from_be_bytes(word)
}

/// Check the magic and return the `ndims` sizes that follow it.
fn parse_header(bytes: &[u8], expected: u32, ndims: usize) -> Result<Vec<usize>> {
    let header_len = 4 + 4 * ndims;
    if bytes.len() < 4 {
        return Err(Error::Idx(format!(
            "truncated header: {} bytes, an IDX file starts with a 4-byte magic number",
            bytes.len()
        )));
    }
    let found = read_be_u32(bytes, 0);
    if found != expected {
        return Err(Error::Idx(bad_magic(bytes, expected, found)));
    }
    if bytes.len() < header_len {
        return Err(Error::Idx(format!(
            "truncated header: expected {header_len} bytes (magic + {ndims} sizes), found {}",
            bytes.len()
        )));
    }
    Ok((0..ndims)
        .map(|d| read_be_u32(bytes, 4 + 4 * d) as usize)
        .collect())
}

fn bad_magic(bytes: &[u8], expected: u32, found: u32) -> String {
    let mut why = format!(
        "bad magic number: expected {expected} (0x{expected:08x}, {}), found {found} (0x{found:08x})",
        describe_magic(expected)
    );
    if bytes.starts_with(&GZIP_MAGIC) {
        why.push_str(": the data is gzip-compressed, decompress it first (read_idx_file does)");
    } else if found == IMAGES_MAGIC || found == LABELS_MAGIC {
        why.push_str(&format!(
            ": this is an IDX {} file, were the image and label files swapped?",
            describe_magic(found)
        ));
    } else {
        why.push_str(": not an MNIST-style IDX file");
    }
    why
}

fn describe_magic(magic: u32) -> &'static str {
    match magic {
        IMAGES_MAGIC => "images",
        LABELS_MAGIC => "labels",
        _ => "unknown",
    }
}

/// Check that exactly `product(dims)` data bytes follow the header, and return them.
fn check_data_len<'a>(
    bytes: &'a [u8],
    header_len: usize,
    dims: &[usize],
    what: &str,
) -> Result<&'a [u8]> {
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            Error::Idx(format!(
                "absurd header: {what} {dims:?} would be more than {MAX_IDX_BYTES} bytes \
                 (a damaged or non-IDX file)"
            ))
        })?;
    let present = bytes.len() - header_len;
    if present < expected {
        return Err(Error::Idx(format!(
            "truncated data: the header says {what} {dims:?}, which needs {expected} bytes after \
             the {header_len}-byte header, but only {present} are present"
        )));
    }
    if present > expected {
        return Err(Error::Idx(format!(
            "{} unexpected bytes after the data: the header says {what} {dims:?} ({expected} bytes), \
             but {present} follow the {header_len}-byte header",
            present - expected
        )));
    }
    Ok(&bytes[header_len..])
}
