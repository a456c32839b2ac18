"""Reading a CSV file: ``tanhnet``'s reader beside ``pandas.read_csv``.

Run from the repository root::

    python benchmarks/cli_read.py               # 1e6 rows x 5 columns, ~99 MB
    python benchmarks/cli_read.py --rows 200000

Writes a numeric CSV file (a header and ``--rows`` rows of 5 columns, as
``repr`` of standard normal draws), then reads it in a fresh process per
reader and repeat, three repeats interleaved: ``sklearn_tanhnet._cli.read_csv``
and its ``numeric`` columns (what ``tanhnet fit`` does), and
``pandas.read_csv(...).to_numpy()``; the imports are not timed. Prints the
median seconds and the peak resident memory (VmHWM) of each, and their ratios.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# (import, read) of each reader; the imports are not timed (tanhnet's reader
# uses pandas' parser when pandas is installed: its import is not timed either).
READERS = {
    "tanhnet": (
        "import pandas\nfrom sklearn_tanhnet._cli import read_csv",
        "t = read_csv(PATH); X = t.numeric(t.names)",
    ),
    "pandas": ("import pandas as pd", "X = pd.read_csv(PATH).to_numpy()"),
}
CHILD = """
import time
{imports}
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(seconds, int(peak.split()[1]) / 1024, X.shape)
"""


def run(reader, path):
    imports, body = READERS[reader]
    code = CHILD.format(imports=imports, body=body.replace("PATH", repr(str(path))))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        rng = np.random.RandomState(0)
        np.savetxt(
            path,
            rng.normal(size=(args.rows, 5)),
            delimiter=",",
            header="a,b,c,d,e",
            comments="",
            fmt="%.17g",
        )
        size = path.stat().st_size / 2**20
        results = {reader: [] for reader in READERS}
        for _ in range(args.repeats):
            for reader in READERS:
                results[reader].append(run(reader, path))
    print(
        f"{args.rows:,} rows x 5 columns, {size:.0f} MiB; medians of "
        f"{args.repeats} fresh processes"
    )
    medians = {
        reader: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r))
        for reader, r in results.items()
    }
    t_pd, m_pd = medians["pandas"]
    for reader, (t, m) in medians.items():
        print(
            f"  {reader:<8} {t:6.2f} s ({t / t_pd:.2f}x)  peak {m:6.0f} MiB "
            f"({m / m_pd:.2f}x)"
        )


if __name__ == "__main__":
    main()
