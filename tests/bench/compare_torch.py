#!/usr/bin/env python3
"""dl-lab against PyTorch and numpy on the same work, in one run, with the ratios.

    python3 tests/bench/compare_torch.py [--threads 2] [--memory] [--no-build]
                                         [--rounds 3] [--matmul-rounds 5]

Runs, one after the other on the same machine and thread count:
  1. `dl-lab bench --json --device cpu --full-epoch --only conv,cnn,gd-scalar,mlp`
     (release build) on a split of ../shared/datasets/mnist: the first 8,000 t10k digits
     as training files, the last 2,000 as test files, written to a temporary directory;
  2. ../shared/bench/torch_same_work.py on that directory (PyTorch); 1 and 2 back to back,
     dl-lab first in odd rounds, PyTorch first in even ones, --rounds times (default 3):
     each row's ratio is the median of the rounds' ratios, with the range printed below
     the table (this shared host's speed drifts by up to 2x between runs);
  3. numpy's float32 matmul, 1024² and 2048², median of 5 after a warm-up (OpenBLAS),
     and `dl-lab bench --only matmul`, back to back (numpy first in odd rounds, second in
     even ones), --matmul-rounds times (default 5): each round's ratio is ours over
     numpy's, and the row's ratio is the median round's (the range is printed below the
     table), since the host's speed drifts between rounds by more than the sides differ;
  4. with --memory: peak RSS and test accuracy of one epoch of cnn-mnist on the 60,000
     Fashion-MNIST images (`apt-get install dataset-fashion-mnist`), about two minutes.
Then prints both sides and the ratio (how many times dl-lab is faster) next to the target.

PyTorch and numpy are not needed by the test suite, only here. Install them with
    pip install torch numpy
(about 80 s and 5.7 GB: the default wheel carries CUDA libraries and needs them even on a
CPU; `--no-deps` does not import). Without them the dl-lab side is still printed.
Run nothing else on the machine while measuring: on 2 cores one busy process halves the
2-thread figures. Not run by `cargo test`.
"""
import argparse
import gzip
import importlib.util
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
BIN = os.path.join(ROOT, "target", "release", "dl-lab")
FASHION = "/usr/share/datasets/fashion-mnist"
INSTALL = "pip install torch numpy  (about 80 s, 5.7 GB; see ../shared/bench/README.md)"


def idx_split(src, dst, n_train):
    """Write src's t10k pair as train (first n_train) and t10k (the rest) files in dst."""
    images = gzip.open(os.path.join(src, "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(src, "t10k-labels-idx1-ubyte.gz")).read()
    count, rows, cols = struct.unpack(">III", images[4:16])
    if struct.unpack(">I", labels[4:8])[0] != count or count <= n_train:
        sys.exit(f"{src}: expected more than {n_train} matching images and labels")
    px = rows * cols
    parts = {"train": (0, n_train), "t10k": (n_train, count)}
    for name, (a, b) in parts.items():
        head = struct.pack(">IIII", 2051, b - a, rows, cols)
        with gzip.open(os.path.join(dst, f"{name}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(head + images[16 + a * px:16 + b * px])
        with gzip.open(os.path.join(dst, f"{name}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">II", 2049, b - a) + labels[8 + a:8 + b])
    return n_train, count - n_train


def dl_lab_bench(data, threads, only):
    cmd = [BIN, "bench", "--json", "--device", "cpu", "--threads", str(threads),
           "--only", only]
    if data:
        cmd += ["--data", data, "--full-epoch"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    got = {}
    for r in rows:
        kind = r["bench"]
        if kind == "matmul":
            got[f"matmul_{r['n']}_gflops"] = r["gflops"]
        elif kind == "cnn-train":
            got["cnn_train_img_s"] = r["img_per_s"]
        elif kind == "cnn-infer":
            got["cnn_infer_img_s"] = r["img_per_s"]
        else:
            got.update({k: v for k, v in r.items() if k not in ("bench", "device", "images",
                                                               "steps", "epochs", "n")})
    return got


def torch_side(data, threads):
    script = os.path.join(SHARED, "bench", "torch_same_work.py")
    if importlib.util.find_spec("torch") is None:
        return None, f"PyTorch is not installed: {INSTALL}"
    if threads != 2:
        print(f"note: torch_same_work.py always uses 2 threads (dl-lab: {threads})")
    out = subprocess.run([sys.executable, script, data], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), None


NUMPY_MATMUL = """
import json, time, numpy as np
rng = np.random.default_rng(1); out = {"numpy": np.__version__}
for n in (1024, 2048):
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32); b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    a @ b; ts = []
    for _ in range(5):
        t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
    out[f"matmul_{n}_gflops"] = 2 * n ** 3 / sorted(ts)[2] / 1e9
print(json.dumps(out))
"""


def numpy_side(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    try:
        out = subprocess.run([sys.executable, "-c", NUMPY_MATMUL], check=True,
                             capture_output=True, text=True, env=env).stdout
    except subprocess.CalledProcessError:
        return None
    return json.loads(out)


def matmul_rounds(threads, rounds):
    """{n: [(dl-lab GFLOP/s, numpy GFLOP/s)] per round}, the two run back to back, numpy
    first in rounds 1, 3, 5... and second in rounds 2, 4...; numpy's version. ({}, None) when numpy
    does not import; a round where numpy fails after that is an error."""
    pairs = {1024: [], 2048: []}
    version = None
    for r in range(rounds):
        ours = dl_lab_bench(None, threads, "matmul") if r % 2 else None
        numpy = numpy_side(threads)
        if numpy is None:
            if r == 0:
                return {}, None
            sys.exit(f"numpy's matmul failed in round {r + 1} of {rounds}")
        version = numpy["numpy"]
        if ours is None:
            ours = dl_lab_bench(None, threads, "matmul")
        for n in pairs:
            pairs[n].append((ours[f"matmul_{n}_gflops"], numpy[f"matmul_{n}_gflops"]))
    return pairs, version


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def memory_run(threads):
    """Peak RSS (MB) and the summary of one cnn-mnist epoch on Fashion-MNIST."""
    if not os.path.isdir(FASHION):
        return None, f"{FASHION} not found: apt-get install dataset-fashion-mnist"
    cmd = [BIN, "run", "cnn-mnist", "--data", FASHION, "--epochs", "1", "--json",
           "--device", "cpu", "--threads", str(threads)]
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(cmd, stdout=out)
        # wait4 gives this child's own peak RSS (KB on Linux)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            return None, f"{' '.join(cmd)} failed ({child.returncode})"
        out.seek(0)
        summary = json.loads(out.read().strip().splitlines()[-1])
    return (usage.ru_maxrss / 1024, summary), None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="threads on both sides (default 2)")
    ap.add_argument("--memory", action="store_true",
                    help="also one Fashion-MNIST epoch of cnn-mnist for peak RSS (~2 min)")
    ap.add_argument("--no-build", action="store_true", help="use target/release/dl-lab as is")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of dl-lab bench and torch_same_work.py (default 3)")
    ap.add_argument("--matmul-rounds", type=int, default=5,
                    help="rounds of numpy's and dl-lab's matmul (default 5)")
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release`")
    mnist = os.path.join(SHARED, "datasets", "mnist")
    if not os.path.isdir(mnist):
        sys.exit(f"{mnist} not found: the split needs ../shared/datasets/mnist's t10k files")

    tmp = tempfile.mkdtemp(prefix="dl-lab-compare-")
    try:
        n_train, n_test = idx_split(mnist, tmp, 8000)
        # rounds of dl-lab and PyTorch back to back, each going first in turn
        ours_runs, theirs_runs, why = [], [], None
        for r in range(max(1, args.rounds)):
            t = time.time()
            if r % 2 == 0:
                ours_runs.append(dl_lab_bench(tmp, args.threads, "conv,cnn,gd-scalar,mlp"))
            if why is None:
                got, why = torch_side(tmp, args.threads)
                if why:
                    print(why)
                else:
                    theirs_runs.append(got)
            if r % 2 == 1:
                ours_runs.append(dl_lab_bench(tmp, args.threads, "conv,cnn,gd-scalar,mlp"))
            print(f"round {r + 1}: {time.time() - t:.0f} s", file=sys.stderr)
        def medians(runs):
            """Each number's median over the runs (other values: the first run's)."""
            return {k: (median([run[k] for run in runs]) if isinstance(v, (int, float)) else v)
                    for k, v in runs[0].items()} if runs else {}
        ours, theirs = medians(ours_runs), medians(theirs_runs)
        paired = list(zip(ours_runs, theirs_runs))
        t = time.time()
        rounds = max(1, args.matmul_rounds)
        pairs, numpy_version = matmul_rounds(args.threads, rounds)
        numpy, round_ratios = {}, {}
        if not pairs:
            print(f"numpy is not installed: {INSTALL}")
            alone = dl_lab_bench(None, args.threads, "matmul")
            pairs = {n: [(alone[f"matmul_{n}_gflops"], None)] for n in (1024, 2048)}
        else:
            print(f"matmul, {rounds} rounds: {time.time() - t:.0f} s", file=sys.stderr)
            numpy["numpy"] = numpy_version
        for n, runs in pairs.items():
            key = f"matmul_{n}_gflops"
            ours[key] = median([a for a, _ in runs])
            if runs[0][1] is not None:
                numpy[key] = median([b for _, b in runs])
                round_ratios[key] = [a / b for a, b in runs]
        mem, mem_why = memory_run(args.threads) if args.memory else (None, None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads on every side")
    print(f"PyTorch {theirs.get('torch', '-')}, numpy {numpy.get('numpy', '-')}; "
          f"cnn data: first {n_train:,} MNIST t10k digits to train, last {n_test:,} to test")
    # (label, dl-lab key, other side, its key, higher is better, target ratio)
    rows = [
        ("gd-scalar, 100,000 steps (s)", "gd_scalar_100k_s", theirs, "gd_scalar_100k_s", False, 20),
        ("mlp-regression, 10,000 epochs (s)", "mlp_10k_s", theirs, "mlp_10k_s", False, 5),
        ("mlp final loss", "mlp_final_loss", theirs, "mlp_final_loss", None, None),
        ("cnn-mnist training (img/s)", "cnn_train_img_s", theirs, "cnn_train_img_s", True, 1.5),
        ("cnn-mnist test accuracy", "cnn_test_acc", theirs, "cnn_test_acc", None, None),
        ("cnn-mnist inference, batch 1000 (img/s)", "cnn_infer_img_s", theirs, "cnn_infer_img_s",
         True, 2.5),
        ("matmul 1024² f32 (GFLOP/s) vs numpy", "matmul_1024_gflops", numpy,
         "matmul_1024_gflops", True, 0.9),
        ("matmul 2048² f32 (GFLOP/s) vs numpy", "matmul_2048_gflops", numpy,
         "matmul_2048_gflops", True, 0.9),
    ]
    # each row's ratio from every round, where both sides ran
    round_ratios = {**{key: [(o[key] / t[key] if higher else t[key] / o[key]) for o, t in paired]
                         for _, key, other, _, higher, _ in rows
                         if other is theirs and higher is not None and paired},
                    **round_ratios}
    fmt = "{:<42} {:>12} {:>12} {:>9} {:>8}"
    print(fmt.format("work", "dl-lab", "other", "ratio", "target"))
    for label, key, other, okey, higher, target in rows:
        a, b = ours.get(key), other.get(okey)
        show = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
        ratio = "-"
        if key in round_ratios:
            ratio = f"{median(round_ratios[key]):.2f}x*"
        elif a and b and higher is not None:
            ratio = f"{(a / b if higher else b / a):.2f}x"
        goal = "-" if target is None else f">={target:g}x"
        print(fmt.format(label, show(a), show(b), ratio, goal))
    if round_ratios:
        print("* the median of the rounds' ratios (dl-lab and the other side back to back in "
              "each round); the dl-lab and other columns are each side's median. Ranges:")
    for key, ratios in round_ratios.items():
        print(f"  {key}: {len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}x "
              f"({', '.join(f'{x:.2f}' for x in ratios)})")
    if args.memory:
        if mem is None:
            print(f"memory: {mem_why}")
        else:
            peak, summary = mem
            print(f"cnn-mnist, one epoch of 60,000 Fashion-MNIST images: peak RSS {peak:.0f} MB "
                  f"(target <= 300), test accuracy {summary.get('test_acc')} (target > 0.85), "
                  f"{summary.get('img_per_s', 0):.0f} img/s")


if __name__ == "__main__":
    main()
