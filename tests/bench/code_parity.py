#!/usr/bin/env python3
"""Does `dl-lab code LESSON FLAGS` print what `dl-lab run LESSON FLAGS` prints?

For every lesson but the MNIST ones (their scripts start from PyTorch's own weights and
shuffle, so their numbers are close, not equal), with default flags, --json and a few run
flags, this writes the PyTorch script, runs it and `dl-lab run`, and compares the logs:

  PASS   the logs are identical
  ROUND  the same lines but for numbers that differ by float rounding (relative 1e-3 at most;
         the README's `code` section says where and why)
  DIFF   anything else (the first differing line is shown)
  SKIP   `dl-lab run` refuses the flags for that lesson

Not a unit test: it needs PyTorch and numpy (pip install torch numpy) and takes minutes.
  python3 tests/bench/code_parity.py                 # everything
  python3 tests/bench/code_parity.py linear backprop # some lessons
  python3 tests/bench/code_parity.py --quick         # skip the long default runs
Exit status 1 when any case is DIFF.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MNIST = {"softmax-mnist", "cnn-mnist", "overfit-mnist"}
# lessons whose default run takes PyTorch minutes on a laptop core
LONG = {"mlp-regression", "mlp-noisy", "xor-perceptron", "xor-mlp", "xor-deep"}

LINEAR_CSV = "x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n5,10.1\n"
QUIZ_CSV = "q1,q2,q3,final\n73,80,75,152\n93,88,93,185\n89,91,90,180\n96,98,100,196\n73,66,70,142\n"


def cases(lesson, tmp):
    """The flag sets to try for `lesson`."""
    linear_csv = os.path.join(tmp, "line.csv")
    quiz_csv = os.path.join(tmp, "quiz.csv")
    with open(linear_csv, "w") as f:
        f.write(LINEAR_CSV)
    with open(quiz_csv, "w") as f:
        f.write(QUIZ_CSV)
    base = [[], ["--json"]]
    if lesson == "tensor-basics":
        return base
    if lesson == "backprop":
        expr = ["--expr", "-(w*x)^3 / (2 - sigmoid(x)) + relu(w) - w^-2 + tanh(x)*log(w) + exp(x)/x",
                "--at", "w=1.1,x=0.4"]
        return base + [expr, expr + ["--json"], ["--expr", "x*x + 1/x", "--at", "x=0", "--json"]]
    if lesson == "optimizer-race":
        return base + [["--surface", "rosenbrock", "--steps", "50"],
                       ["--surface", "rosenbrock", "--lr", "1", "--steps", "100"],
                       ["--surface", "rosenbrock", "--lr", "1", "--steps", "100", "--json"],
                       ["--start", "3,-1", "--lr", "0.05", "--steps", "40", "--json"]]
    if lesson in ("gd-scalar", "momentum"):
        return base + [["--lr", "0.05", "--epochs", "40"], ["--momentum", "0.5", "--json"],
                       ["--optimizer", "adam", "--lr", "0.1", "--epochs", "50"]]
    short = ["--epochs", "300"]
    out = base + [
        ["--lr", "0.05"] + short,
        ["--optimizer", "adam", "--lr", "0.01", "--json"] + short,
        ["--optimizer", "sgd", "--momentum", "0.9"] + short,
        ["--optimizer", "rmsprop", "--lr", "0.001"] + short,
        ["--init", "xavier", "--seed", "3"] + short,
        ["--batch-size", "2", "--seed", "5", "--json"] + short,
    ]
    if lesson in ("linear", "mlp-regression", "mlp-noisy"):
        out += [["--normalize", "--predict", "2.5"] + short,
                ["--data", linear_csv, "--predict", "6"] + short,
                ["--data", linear_csv, "--normalize", "--json"] + short]
    if lesson == "multivariate":
        out += [["--data", quiz_csv, "--predict", "73,80,75"],
                ["--data", quiz_csv, "--normalize", "--lr", "0.1", "--json"]]
    if lesson.startswith("xor"):
        out += [["--epochs", "2000", "--predict", "1,0"]]
    return out


NUMBER = re.compile(r"-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|NaN|nan)")


def compare(ours, theirs):
    """PASS, ROUND (the largest relative difference) or DIFF (the first differing pair)."""
    if ours == theirs:
        return "PASS", ""
    a, b = ours.splitlines(), theirs.splitlines()
    worst = 0.0
    for i in range(max(len(a), len(b))):
        la = a[i] if i < len(a) else "<missing>"
        lb = b[i] if i < len(b) else "<missing>"
        if la == lb:
            continue
        if NUMBER.sub("#", la) != NUMBER.sub("#", lb):
            return "DIFF", f"line {i + 1}:\n      dl-lab:  {la[:160]}\n      PyTorch: {lb[:160]}"
        for x, y in zip(NUMBER.findall(la), NUMBER.findall(lb)):
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                return "DIFF", f"line {i + 1}: {x} vs {y}"
            rel = abs(fx - fy) / max(abs(fx), abs(fy), 1e-6)
            if rel > 1e-3:
                return "DIFF", f"line {i + 1}: {x} vs {y}\n      dl-lab:  {la[:160]}\n      PyTorch: {lb[:160]}"
            worst = max(worst, rel)
    return "ROUND", f"largest relative difference {worst:.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lessons", nargs="*", help="lessons to check (default: all but the MNIST ones)")
    ap.add_argument("--quick", action="store_true", help="skip the long lessons' default-epoch runs")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run (default 900)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "dl-lab"))
    args = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        sys.exit(f"code_parity: {e.name} is missing; the scripts need PyTorch and numpy: pip install torch numpy")
    if not os.path.exists(args.bin):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    listed = subprocess.run([args.bin, "lessons"], capture_output=True, text=True, check=True).stdout
    lessons = args.lessons or [l.split()[0] for l in listed.splitlines() if l.strip()]
    lessons = [l for l in lessons if l not in MNIST]
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in lessons:
            for flags in cases(lesson, tmp):
                if args.quick and lesson in LONG and "--epochs" not in flags:
                    continue
                shown = " ".join(flags) or "(defaults)"
                shown = shown.replace(tmp + os.sep, "")
                run = subprocess.run([args.bin, "run", lesson] + flags, capture_output=True,
                                     text=True, timeout=args.timeout)
                if run.returncode != 0:
                    verdict, why = "SKIP", run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
                else:
                    code = subprocess.run([args.bin, "code", lesson] + flags, capture_output=True,
                                          text=True, check=True).stdout
                    path = os.path.join(tmp, lesson.replace("-", "_") + ".py")
                    with open(path, "w") as f:
                        f.write(code)
                    py = subprocess.run([sys.executable, path], capture_output=True, text=True,
                                        timeout=args.timeout)
                    if py.returncode != 0:
                        verdict, why = "DIFF", "the script failed: " + py.stderr.strip()[-300:]
                    else:
                        verdict, why = compare(run.stdout, py.stdout)
                counts[verdict] = counts.get(verdict, 0) + 1
                print(f"{verdict:<6} {lesson:<15} {shown}", flush=True)
                if why and verdict != "PASS":
                    print(f"       {why}", flush=True)
    print(", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    sys.exit(1 if counts.get("DIFF") else 0)


if __name__ == "__main__":
    main()
