"""How long `salesproc validate` takes, interpreter start included (not a test).

    python bench/validate.py [--runs 15]

Prints the median wall time of `salesproc validate processes/` and of each kind of bad
input (huge file, alias bomb, binary, deep nesting), next to a bare `python -c pass` run
in the same invocation, so the ratio stays meaningful on a noisy shared machine.
The budget for a pre-commit hook is 0.5 s for the whole `validate processes/` run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bad_inputs(folder: Path) -> dict[str, Path]:
    files = {
        "20 MB file": b"# " + b"x" * (20 * 1024 * 1024) + b"\n",
        "alias bomb": ("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 12))).encode(),
        "binary": bytes(range(256)) * 64,
        "deep nesting": b"a: " + b"[" * 20000 + b"]" * 20000 + b"\n",
    }
    paths = {}
    for name, content in files.items():
        path = folder / (name.replace(" ", "-") + ".yaml")
        path.write_bytes(content)
        paths[name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
    cli = [python, "-m", "salesproc", "validate"]
    base = median_seconds([python, "-c", "pass"], runs)
    main_run = median_seconds([*cli, str(ROOT / "processes")], runs)
    print(f"python -c pass                     {base:6.3f} s  (1.00x)")
    print(f"salesproc validate processes/      {main_run:6.3f} s  ({main_run / base:4.2f}x)  "
          f"budget 0.5 s: {'ok' if main_run < 0.5 else 'OVER'}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in bad_inputs(Path(tmp)).items():
            t = median_seconds([*cli, str(path)], max(3, runs // 3))
            print(f"salesproc validate <{name}>{' ' * (14 - len(name))}{t:6.3f} s  "
                  f"({t / base:4.2f}x)")


if __name__ == "__main__":
    main()
