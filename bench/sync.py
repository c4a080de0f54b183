"""End-to-end sync throughput against the sandbox: N seeded people, first and second run.

Prints the figures and writes them to the README's benchmark table.
Run: .venv/bin/python -m bench.sync --people 2000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench.readme_table import update_readme
from flows.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    outcome = run_demo(people=args.people, seed=1, workdir=Path(tempfile.mkdtemp()))
    elapsed = time.perf_counter() - started
    first, second = outcome.first, outcome.second
    read = sum(c.read for c in first.tools.values())
    written = first.written
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"people seeded:        {args.people}")
    print(f"records read (run 1): {read}")
    print(f"records written:      {written}")
    print(f"both runs, wall:      {elapsed:.1f} s (incl. sandbox start and Prefect)")
    print(f"second run writes:    {second.written}")
    print(f"peak RSS:             {peak_mib:.0f} MiB")
    update_readme(
        {
            f"sync e2e, {args.people} people (HubSpot + Mailchimp, sandbox)": (
                f"{read} read, {written} written; two runs {elapsed:.1f} s; "
                f"second run writes {second.written}; peak RSS {peak_mib:.0f} MiB"
            )
        }
    )


if __name__ == "__main__":
    main()
