"""`revsync`: the command line. The only place that prints."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from mappings.model import ENTITIES

if TYPE_CHECKING:
    from flows.report import SyncReport

__all__ = ["main"]

_DESCRIPTION = "Keep people, companies, deals, tickets and calls in sync across your tools."
_EPILOG = """\
settings (environment variables):
  REVSYNC_<TOOL>_<FIELD>     a tool's connection, e.g. its token and base URL; `revsync connect
                             <tool> --help` lists a tool's fields, `revsync sandbox --env` prints
                             the sandbox's values for every tool
  REVSYNC_STATE_URL          the state store (default sqlite:///<cwd>/.revsync/state.db;
                             PostgreSQL: postgresql+psycopg://user@host/db)
  REVSYNC_MAPPINGS_DIR       the mapping files (default: the project's mappings/)
  PREFECT_API_URL            a Prefect server to run against (default: an embedded one, its
                             files under .revsync/prefect)

exit codes: 0 done, 1 done but something failed (a read, a check, a demo that did not
converge), 2 a setting or argument is wrong (one line says which; --debug for the traceback)
"""


def _cmd_sandbox(args: argparse.Namespace) -> int:
    import json
    import shlex

    from flows.demo import sandbox_environment_at
    from sandbox.server import HOST, serve_forever

    url = f"http://{HOST}:{args.port}"
    exports = [
        f"export {key}={shlex.quote(value)}"
        for key, value in sorted(sandbox_environment_at(url).items())
    ]
    if args.env:
        print("\n".join(exports))
        return 0
    print(f"sandbox listening on {url}; point revsync at it with:")
    print("\n".join(exports), flush=True)
    faults = [json.loads(spec) for spec in args.fault or []]
    serve_forever(port=args.port, seed_people=args.people, seed=args.seed, faults=faults)
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from flows.demo import render_report
    from flows.sync import sync

    tools = [t.strip() for t in args.tools.split(",")] if args.tools else None
    result = sync(
        tools=tools,
        dry_run=args.dry_run,
        mode=args.mode,
        dead_letter_threshold=args.dead_letter_threshold,
        max_writes=args.max_writes,
    )
    title = "Dry run: planned, nothing written" if args.dry_run else "Sync"
    print(render_report(title, result.report))
    for reason in result.report.held:
        print(f"HELD {reason}")
    if args.dry_run:
        from flows.artifacts import plan_markdown

        print()
        print(plan_markdown(result.plan, dry_run=True))
    return _read_failures(result.report)


def _read_failures(report: SyncReport) -> int:
    """A run whose read failed did not sync that tool: say so on stderr, exit 1."""
    failed = {name: c.read_error for name, c in sorted(report.tools.items()) if c.read_error}
    for name, error in failed.items():
        tool = name.split("/", 1)[0]
        print(
            f"revsync sync: {name} was not read ({error}); run `revsync check --tools {tool}`, "
            "fix what it names, then re-run: the next run resumes from the last checkpoint",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _read_secret(args: argparse.Namespace, label: str) -> str:
    """From stdin when scripted (``--secret-stdin``, one line per secret), else a silent prompt."""
    if args.secret_stdin:
        return sys.stdin.readline().strip()
    import getpass

    return getpass.getpass(f"{label}: ").strip()


def _cmd_connect(args: argparse.Namespace) -> int:
    from pydantic import SecretStr

    from connectors.check import check_connection
    from connectors.errors import ConfigError
    from connectors.providers import provider_for
    from flows.credentials import resolve_connection, save_connection

    provider = provider_for(args.tool)
    missing = [f.flag for f in provider.option_fields if f.required and not getattr(args, f.name)]
    if missing:
        print(f"revsync connect {args.tool} needs {', '.join(missing)}", file=sys.stderr)
        return 2
    secrets: dict[str, SecretStr] = {}
    for each in provider.secret_fields:
        value = _read_secret(args, f"{provider.title} {each.title}")
        if value:
            secrets[each.name] = SecretStr(value)
        elif each.required:
            print(f"no {each.title} given; nothing stored", file=sys.stderr)
            return 2
    options = {f.name: getattr(args, f.name) for f in provider.option_fields}
    try:
        secret_block, settings = save_connection(
            args.tool,
            secrets,
            base_url=args.base_url,
            options={name: value for name, value in options.items() if value},
        )
    except ConfigError as exc:
        print(f"not stored: {exc}", file=sys.stderr)
        return 2
    print(f"stored {args.tool}: Secret block {secret_block!r}, Variable {settings!r}")
    if args.no_check:
        return 0
    result = check_connection(resolve_connection(args.tool))
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


def _connect_parsers(connect: argparse.ArgumentParser) -> None:
    """``revsync connect <tool>``: one sub-command per connector found, its flags generated
    from the options its ``connection_specification`` declares."""
    from connectors.providers import providers

    tools = connect.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for provider in providers().values():
        secrets = ", ".join(f.title for f in provider.secret_fields)
        p = tools.add_parser(
            provider.tool,
            help=f"{provider.title} ({provider.category})",
            description=f"Store the {provider.title} connection; asks for: {secrets}.",
        )
        p.add_argument(
            "--base-url", help="API base URL (default: the vendor's; the sandbox's for tests)"
        )
        for each in provider.option_fields:
            required = " (required)" if each.required else ""
            p.add_argument(
                each.flag, dest=each.name, help=f"{each.title}: {each.description}{required}"
            )
        p.add_argument(
            "--secret-stdin",
            action="store_true",
            help=f"read the secrets from stdin, one line each, in this order: {secrets}",
        )
        p.add_argument("--no-check", action="store_true", help="store without calling the tool")
        p.set_defaults(func=_cmd_connect)


def _cmd_check(args: argparse.Namespace) -> int:
    from connectors.check import check_connection
    from connectors.errors import ConfigError
    from flows.credentials import resolve_connection
    from flows.sync import default_tools

    tools = [t.strip() for t in args.tools.split(",")] if args.tools else list(default_tools())
    failed = 0
    for tool in tools:
        try:
            conn = resolve_connection(tool)
        except ConfigError as exc:
            print(f"{tool}: FAILED\n  XX  configuration: {exc.message}")
            failed += 1
            continue
        result = check_connection(conn)
        print("\n".join(result.lines()))
        failed += 0 if result.ok else 1
    return 1 if failed else 0


def _cmd_budgets(args: argparse.Namespace) -> int:
    from flows.budget import apply_budgets, load_budgets

    for name in apply_budgets(load_budgets()):
        print(f"global concurrency limit {name} applied")
    return 0


def _cmd_automations(args: argparse.Namespace) -> int:
    from flows.automations import apply_automations, load_automations

    ids = apply_automations(webhook_url=args.webhook_url)
    names = [a["name"] for a in load_automations()["automations"]]
    for name, automation_id in zip(names, ids, strict=True):
        print(f"automation {name} applied ({automation_id})")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import render_report, run_demo
    from flows.sync import default_tools

    print(
        f"Starting the sandbox, seeded with {args.people} people; syncing companies and people "
        f"across {', '.join(default_tools())}…"
    )
    outcome = run_demo(people=args.people, seed=args.seed)
    print(render_report("First sync", outcome.first))
    print()
    print(render_report("Second sync", outcome.second))
    print()
    if outcome.converged:
        print("The second sync wrote nothing: the tools had converged (no echo).")
        return 0
    if outcome.second.written == 0:
        # No echo, but not converged: writes the tools refused are still waiting.
        failed = sum(c.failed for c in outcome.second.tools.values())
        print(
            f"The second sync wrote nothing (no echo), but {failed} writes failed and wait in "
            "the dead letters with their reasons: revsync dead-letters list"
        )
        return 0
    print(f"The second sync wrote {outcome.second.written} records: it should have written none.")
    return 1


def _cmd_review(args: argparse.Namespace) -> int:
    from flows.review import accept, list_reviews, reject, render_reviews, split
    from state.db import engine_from_url, init_schema

    engine = engine_from_url()
    init_schema(engine)
    if args.action == "list":
        print(render_reviews(list_reviews(engine, args.entity)))
        return 0
    if not args.target:
        print(f"revsync review: {args.action} needs a review id", file=sys.stderr)
        return 2
    if args.action in {"accept", "reject"} and not args.target.isdigit():
        print(
            f"revsync review: {args.target!r} is not a review id (see revsync review)",
            file=sys.stderr,
        )
        return 2
    if args.action == "accept":
        print(f"merged into {accept(engine, int(args.target))}")
    elif args.action == "reject":
        print(f"kept apart; goldens split: {reject(engine, int(args.target)) or 'none'}")
    else:
        print(f"split off; goldens touched: {split(engine, args.target, args.entity or 'person')}")
    return 0


def _cmd_drift(args: argparse.Namespace) -> int:
    from state.db import engine_from_url, init_schema, session_scope
    from state.drift import confirm_drift, open_drift

    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        if args.action == "confirm":
            if not (args.tool and args.field):
                print("drift confirm needs TOOL and FIELD (see drift list)", file=sys.stderr)
                return 2
            rows = confirm_drift(session, args.tool, args.field)
            if not rows:
                print(f"no unconfirmed drift of {args.field} in {args.tool}", file=sys.stderr)
                return 2
            for row in rows:
                print(f"{row.tool}/{row.stream} {row.path}: confirmed, its writes go again")
            return 0
        rows = open_drift(session, args.tool)
        if not rows:
            print("No schema drift.")
        for row in rows:
            state = "confirmed" if row.confirmed_at else "writes held"
            print(
                f"{row.tool}/{row.stream} {row.path} ({row.unified}): vanished "
                f"{row.vanished_at:%Y-%m-%d %H:%M}, {state}"
            )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="revsync",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback when a command fails"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sandbox", help="serve the local vendor imitations on 127.0.0.1")
    p.add_argument("--port", type=int, default=8710, help="port on 127.0.0.1 (default 8710)")
    p.add_argument(
        "--env",
        action="store_true",
        help="print only the export lines for every tool's REVSYNC_* variables, then exit",
    )
    p.add_argument(
        "--people", type=int, default=200, help="seed this many people (0: empty; default 200)"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed of the world (default 42)")
    p.add_argument(
        "--fault",
        action="append",
        metavar="JSON",
        help='arm a fault, e.g. \'{"tool": "<tool>", "kind": "429", "count": 3}\' (repeatable)',
    )
    p.set_defaults(func=_cmd_sandbox)

    p = sub.add_parser("sync", help="run one sync over the connected tools")
    p.add_argument("--dry-run", action="store_true", help="stop after plan and show it")
    p.add_argument("--tools", help="comma-separated tools (default: all connected)")
    p.add_argument(
        "--mode",
        choices=("incremental", "full", "backfill"),
        default="incremental",
        help="incremental (from cursors), full (plan every golden record), backfill (from scratch)",
    )
    p.add_argument(
        "--dead-letter-threshold",
        type=int,
        default=50,
        help="emit the dead-letters event above this many dead letters (default 50)",
    )
    p.add_argument(
        "--max-writes",
        type=int,
        help="hold a tool whose plan writes more records than this (default $REVSYNC_MAX_WRITES)",
    )
    p.set_defaults(func=_cmd_sync)

    _connect_parsers(sub.add_parser("connect", help="store a tool's connection, then check it"))

    p = sub.add_parser("check", help="test every connection: auth, scopes, rate-limit headroom")
    p.add_argument("--tools", help="comma-separated tools (default: all)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("budgets", help="shared per-tool API budgets (Prefect global limits)")
    p.add_argument("action", choices=("apply",), help="apply: create or update the limits")
    p.set_defaults(func=_cmd_budgets)

    p = sub.add_parser("automations", help="create the automations in ops/automations.yaml")
    p.add_argument("action", choices=("apply",), help="apply: create or update them")
    p.add_argument("--webhook-url", help="create the notification block as this webhook")
    p.set_defaults(func=_cmd_automations)

    p = sub.add_parser("demo", help="seed a sandbox, sync twice, report per tool")
    p.add_argument("--people", type=int, default=200, help="seed this many people (default 200)")
    p.add_argument("--seed", type=int, default=42, help="random seed of the world (default 42)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("review", help="list unsure matches with their evidence; accept/reject")
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "accept", "reject", "split"),
        help="list (default), accept ID (merge), reject ID (keep apart), split TOOL:ID",
    )
    p.add_argument("target", nargs="?", help="review id (accept/reject) or tool:record_id (split)")
    p.add_argument(
        "--entity",
        choices=sorted(ENTITIES),
        help="only this entity (list; default all) / the record's entity (split; default person)",
    )
    p.set_defaults(func=_cmd_review)

    p = sub.add_parser(
        "drift", help="fields a tool stopped sending (writes held); confirm one to write it again"
    )
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "confirm"),
        help="list (default): vanished fields and their state; confirm TOOL FIELD",
    )
    p.add_argument("tool", nargs="?", help="the tool (confirm; list: only this tool's)")
    p.add_argument("field", nargs="?", help="the tool field or unified field (confirm)")
    p.set_defaults(func=_cmd_drift)

    from flows import dead_letters_cli

    dead_letters_cli.add_parser(sub)
    from flows import history_cli

    history_cli.add_parser(sub)
    from flows import undo_cli

    undo_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The sandbox and the demo work offline: no usage telemetry from the embedded Prefect server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.prefect_home import use_project_prefect_home

    use_project_prefect_home()  # no server configured: the embedded one's files in .revsync/
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if not args.debug:
        # the one line below says it all; the flow engine's own traceback would bury it
        logging.getLogger("prefect").setLevel(logging.CRITICAL)
    try:
        return int(args.func(args))
    except Exception as exc:  # every failure ends as one line; --debug shows the traceback
        if args.debug:
            raise
        from flows.failures import failure_line

        print(f"revsync {args.command}: {failure_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
