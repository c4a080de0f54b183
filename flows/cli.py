"""`revsync`: the command line. The only place that prints."""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["main"]


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import serve_forever

    serve_forever(port=args.port, seed_people=args.people, seed=args.seed)
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from flows.demo import render_report
    from flows.sync import sync

    tools = [t.strip() for t in args.tools.split(",")] if args.tools else None
    result = sync(tools=tools, dry_run=args.dry_run)
    title = "Dry run: planned, nothing written" if args.dry_run else "Sync"
    print(render_report(title, result.report))
    if args.dry_run:
        from flows.artifacts import plan_markdown

        print()
        print(plan_markdown(result.plan, dry_run=True))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import render_report, run_demo

    print(f"Starting the sandbox (HubSpot, Mailchimp) seeded with {args.people} people…")
    outcome = run_demo(people=args.people, seed=args.seed)
    print(render_report("First sync", outcome.first))
    print()
    print(render_report("Second sync", outcome.second))
    print()
    if outcome.converged:
        print("The second sync wrote nothing: the tools had converged (no echo).")
        return 0
    print(f"The second sync wrote {outcome.second.written} records: it should have written none.")
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revsync", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sandbox", help="serve the local vendor imitations on 127.0.0.1")
    p.add_argument("--port", type=int, default=8710)
    p.add_argument("--people", type=int, default=200, help="seed this many people (0: empty)")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=_cmd_sandbox)

    p = sub.add_parser("sync", help="run one sync over the connected tools")
    p.add_argument("--dry-run", action="store_true", help="stop after plan and show it")
    p.add_argument("--tools", help="comma-separated tools (default: all connected)")
    p.set_defaults(func=_cmd_sync)

    p = sub.add_parser("demo", help="seed a sandbox, sync twice, report per tool")
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The sandbox and the demo work offline: no usage telemetry from the embedded Prefect server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
