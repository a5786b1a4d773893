"""Start-up: every ``--help`` of ``gazeprep`` and ``gradseg`` as a whole process.

Each command is run ``--repeat`` times; the table gives the median wall and CPU seconds, and
the 1-minute load average of the (shared) machine. Which libraries a ``--help`` may load is
tested (``tests/test_cli.py``); this measures what it costs.

Usage::

    .venv/bin/python pipelines/bench_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics

from _whole import load_average, measure

COMMANDS = [
    ["gazeprep"], ["gazeprep", "ingest"], ["gazeprep", "render"], ["gazeprep", "score"],
    ["gazeprep", "show"], ["gazeprep", "simulate"], ["gazeprep", "qc"], ["gazeprep", "split"],
    ["gazeprep", "export"],
    ["gradseg"], ["gradseg", "train"], ["gradseg", "eval"], ["gradseg", "predict"],
    ["gradseg", "bench"],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"load average at the start: {load_average():.2f}\n")
    print("| command | wall s (median) | CPU s (median) | load |")
    print("|---|---|---|---|")
    for argv in [["python", "-c", "pass"], *COMMANDS]:
        cmd = argv if argv[0] == "python" else [*argv, "--help"]
        runs = [measure(cmd, interval=0.005) for _ in range(args.repeat)]
        wall = statistics.median(m["wall_s"] for m in runs)
        cpu = statistics.median(m["cpu_s"] for m in runs)
        load = statistics.median(m["load"] for m in runs)
        print(f"| `{' '.join(cmd)}` | {wall:.3f} | {cpu:.3f} | {load:.2f} |")


if __name__ == "__main__":
    main()
