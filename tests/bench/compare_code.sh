#!/bin/sh
# Run `dl-lab run LESSON FLAGS` and the PyTorch script `dl-lab code LESSON FLAGS`
# writes, and show where their logs differ. Not run by the tests (it needs PyTorch:
# pip install torch numpy). The small lessons start from the same weights on the same
# data, so their lines agree up to float rounding in the last printed digit; the MNIST
# lessons too (the same generator draws their weights and shuffle order; their
# per-epoch differences: tests/bench/compare_code_mnist.py).
#   tests/bench/compare_code.sh xor-mlp --epochs 2000
#   tests/bench/compare_code.sh linear --json
set -e
lesson=${1:?usage: compare_code.sh LESSON [run flags]}
shift
cd "$(dirname "$0")/../.."
cargo build --release --quiet
bin=target/release/dl-lab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" code "$lesson" "$@" > "$tmp/lesson.py"
"$bin" run "$lesson" "$@" > "$tmp/dl-lab.log"
python3 "$tmp/lesson.py" > "$tmp/pytorch.log"
if diff "$tmp/dl-lab.log" "$tmp/pytorch.log" > "$tmp/diff"; then
    echo "$lesson: the $(wc -l < "$tmp/dl-lab.log") log lines are identical"
else
    echo "$lesson: $(grep -c '^<' "$tmp/diff") of $(wc -l < "$tmp/dl-lab.log") lines differ (< dl-lab, > PyTorch):"
    cat "$tmp/diff"
fi
