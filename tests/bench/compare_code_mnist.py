#!/usr/bin/env python3
"""`dl-lab run` against the PyTorch script `dl-lab code` writes, for the MNIST lessons.

    python3 tests/bench/compare_code_mnist.py [--epochs 2] [--lessons a,b] [--no-shared | --shared DIR]
                                              [--no-build]

Both start from the same initial weights and take the training images in the same
order (dl-lab's portable generator, src/rng.rs, which the script carries), so their
per-epoch figures differ only by float summation order. For each lesson and data set
this runs `dl-lab run LESSON --json --device cpu --epochs E [--data D]` and the script
of `dl-lab code LESSON --json --epochs E [--data D]`, and prints each epoch's loss,
train_acc, test_loss and test_acc from both with the largest difference. Data sets:
  - the shipped sample (datasets/mnist5k: 4,000 training, 1,000 held-out images);
  - a split of ../shared/datasets/mnist (as tests/bench/compare_torch.py makes it: the
    first 8,000 t10k digits as training files, the last 2,000 as test files), unless
    --no-shared or it is missing.
Then it checks the text log: `dl-lab run softmax-mnist --epochs E` and its script print
the same lines, images per second aside.

Needs PyTorch and numpy (pip install torch numpy); not run by `cargo test`. cnn-mnist
takes a few minutes an epoch on the 8,000 images in PyTorch on 2 cores.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_torch import BIN, ROOT, SHARED, idx_split  # noqa: E402

FIELDS = ("loss", "train_acc", "test_loss", "test_acc")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def script(lesson, flags, tmp):
    path = os.path.join(tmp, lesson.replace("-", "_") + ".py")
    with open(path, "w") as f:
        f.write(subprocess.run([BIN, "code", lesson, *flags], check=True,
                               capture_output=True, text=True).stdout)
    return path


def compare(lesson, flags, tmp):
    ours = run_json([BIN, "run", lesson, "--device", "cpu", *flags])
    theirs = run_json([sys.executable, script(lesson, flags, tmp)])
    worst = {k: 0.0 for k in FIELDS}
    for a, b in zip(ours, theirs):
        cells = []
        for k in FIELDS:
            d = abs(a[k] - b[k])
            worst[k] = max(worst[k], d)
            cells.append(f"{k} {a[k]:.6f}/{b[k]:.6f} (Δ {d:.1e})")
        print(f"  epoch {a['epoch']}: " + ", ".join(cells))
    if len(ours) != len(theirs):
        print(f"  {len(ours)} epochs from dl-lab, {len(theirs)} from PyTorch")
    return worst


def masked(text):
    return re.sub(r"\(\d+ img/s\)", "(# img/s)", text)


def layout(tmp, epochs):
    flags = ["--epochs", str(epochs)]
    ours = subprocess.run([BIN, "run", "softmax-mnist", "--device", "cpu", *flags], check=True,
                          capture_output=True, text=True).stdout.splitlines()
    theirs = subprocess.run([sys.executable, script("softmax-mnist", flags, tmp)], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    differ = [(a, b) for a, b in zip(ours, theirs) if masked(a) != masked(b)]
    same = not differ and len(ours) == len(theirs)
    print(f"text log (softmax-mnist --epochs {epochs}, img/s masked): "
          + ("the same" if same else f"{len(differ)} of {len(ours)} lines differ"))
    for a, b in differ:
        print(f"  dl-lab:  {a}\n  PyTorch: {b}")
    return same


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lessons", default="softmax-mnist,cnn-mnist,overfit-mnist")
    ap.add_argument("--no-shared", action="store_true")
    ap.add_argument("--shared", default=SHARED, help="the shared directory (default ../shared)")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        sets = [("shipped sample", [])]
        src = os.path.join(args.shared, "datasets", "mnist")
        if not args.no_shared and os.path.isdir(src):
            split = os.path.join(tmp, "split")
            os.mkdir(split)
            idx_split(src, split, 8000)
            sets.append(("../shared/datasets/mnist t10k split 8,000/2,000", ["--data", split]))
        ok = layout(tmp, args.epochs)
        for name, data in sets:
            for lesson in args.lessons.split(","):
                print(f"{lesson} on the {name}, {args.epochs} epochs (dl-lab/PyTorch):")
                flags = ["--json", "--epochs", str(args.epochs), *data]
                worst = compare(lesson, flags, tmp)
                print("  largest difference: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
