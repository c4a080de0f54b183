"""Matching quality on the seeded world at scale: revsync's flow path against Splink (DuckDB)
and recordlinkage, each scored against ``World.truth``.

Each (size, method) runs in its own process that makes the data itself (a million people's
records pickled to a child would sit in memory twice) and is watched from outside: a method
still running after ``time_limit_s`` or holding more than ``memory_limit_mib`` is stopped, and
its row says "not run" with what was measured. A peer is not started when its own blocking
yields so many more candidate pairs than at a size it already ran that, at the pace measured
there, it would take more than the time limit.

revsync runs as the flow runs it (``prepare_model`` then ``resolve`` on the mapped records):
the batch engine scores every candidate pair at once, which a million people do not fit.
Above 125,000 people the world is made as seeded worlds of 125,000 with their own ids and
email addresses (``bench.matching_scale.world_records``), as the end-to-end run makes it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import re
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from typing import Any

from bench.matching import KINDS_WORLD, METHODS, Data, score
from bench.matching_scale import CHUNK_PEOPLE, world_records
from mappings.spec import MappedRecord

__all__ = ["PEER_BLOCKING", "candidate_pairs", "run_world"]

logger = logging.getLogger(__name__)

# The blocking of the peers in ``bench.matching`` (``_splink``, ``_recordlinkage``) as
# column groups, a (column, n) being the column's first n characters: what their candidate
# pairs are counted from before a large run.
PEER_BLOCKING: dict[str, list[list[tuple[str, int | None]]]] = {
    "splink": [
        [("email", None)],
        [("phone", None)],
        [("last_name", None), ("first_name", 1)],
        [("first_name", None), ("last_name", 2)],
    ],
    "recordlinkage": [
        [("email", None)],
        [("phone", None)],
        [("last_name", None), ("first_name", 1)],
    ],
}
TIME_LIMIT_S = 900.0
MEMORY_LIMIT_MIB = 12 * 1024.0
# DuckDB's own limits: RSS also holds the records, pandas frames and the Python side; what
# does not fit goes to disk, up to a bound (the disk is shared too).
DUCKDB_MEMORY_MIB = 7 * 1024.0
DUCKDB_SPILL_GIB = 20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _name(people: int) -> str:
    return f"seeded world {people:,} people (HubSpot+Mailchimp)"


def _data(records: list[MappedRecord], truth: dict[str, str], people: int) -> Data:
    rows = [{"id": r.key, **{k: r.values.get(k) or "" for k in KINDS_WORLD}} for r in records]
    return Data(_name(people), KINDS_WORLD, "first_name", "last_name", rows, truth)


def candidate_pairs(data: Data, method: str) -> int:
    """Pairs the method's blocking rules propose, summed over the rules (a pair two rules
    propose counts twice): groups of equal keys, missing values never grouped."""
    import pandas as pd

    frame = pd.DataFrame(data.rows).replace("", None)
    total = 0
    for rule in PEER_BLOCKING[method]:
        keys = [frame[c] if n is None else frame[c].str[:n] for c, n in rule]
        sizes = pd.concat(keys, axis=1).dropna().value_counts().to_numpy()
        total += int((sizes * (sizes - 1) // 2).sum())
    return total


def _revsync(records: list[MappedRecord]) -> list[list[str]]:
    """Clusters as the flow decides them for an initial load of ``records``."""
    from matching.model import KnownIndex
    from matching.probabilistic import prepare_model, resolve

    known = KnownIndex.build({}, {})
    model, _ = prepare_model(records, known, None)
    groups: dict[str, list[str]] = defaultdict(list)
    for match in resolve(records, known, model=model):
        groups[match.unified_id].append(match.record.key)
    return list(groups.values())


def _cap_duckdb(spill: str) -> None:
    """Give Splink's DuckDB a memory limit under the watch limit and a spill directory: its
    default (80% of the machine's memory) gets it stopped where DuckDB could work out of core."""
    import duckdb
    import splink

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{int(DUCKDB_MEMORY_MIB)}MB'")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET max_temp_directory_size = '{DUCKDB_SPILL_GIB}GiB'")
    api = splink.DuckDBAPI
    setattr(splink, "DuckDBAPI", lambda *_a, **_k: api(connection=con))  # noqa: B010


def _child(method: str, people: int, conn: Connection, max_pairs: int | None) -> None:
    """Make the world, tell the parent the clock starts, run the method, send its scores."""
    logging.basicConfig(level=logging.WARNING)
    spill = tempfile.mkdtemp(prefix="revsync-bench-duckdb-")
    try:
        if method == "splink":
            _cap_duckdb(spill)
        _run_child(method, people, conn, max_pairs)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _run_child(method: str, people: int, conn: Connection, max_pairs: int | None) -> None:
    records, truth = world_records(people)
    n = len(records)
    pairs: int | None = None
    if method != "revsync":
        data = _data(records, truth, people)
        del records
        pairs = candidate_pairs(data, method)
        if max_pairs is not None and pairs > max_pairs:
            conn.send(("skipped", {"records": n, "candidate_pairs": pairs}))
            return
    conn.send(("started", {"records": n, "candidate_pairs": pairs}))
    started = time.perf_counter()
    try:
        pred = _revsync(records) if method == "revsync" else METHODS[method](data)
    except Exception as exc:  # a peer failing on the data is a result, not a crash
        ran = time.perf_counter() - started
        limits = (
            f" (DuckDB limits: {DUCKDB_MEMORY_MIB / 1024:.0f} GiB memory, "
            f"{DUCKDB_SPILL_GIB} GiB spilled to disk)"
            if method == "splink"
            else ""
        )
        conn.send(("failed", {"error": f"after {ran:.0f} s: {_cause(exc)}{limits}"}))
        return
    elapsed = time.perf_counter() - started
    result = {
        "method": method,
        "records": n,
        "candidate_pairs": pairs,
        "seconds": elapsed,
        "records_per_s": n / elapsed,
        "peak_mib": _peak_mib(),
        **score(pred, truth),
    }
    conn.send(("done", result))


def _cause(exc: BaseException) -> str:
    """The innermost error of a chain in its first sentence, and the table Splink was
    building when it came (Splink wraps DuckDB's error in the whole SQL text)."""
    table = re.search(r"for table `([^`]+)`", str(exc))
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = " ".join(str(exc).split()).rpartition("Error was: ")[2].split(". ")[0]
    where = f" building {table.group(1)}" if table else ""
    return f"{type(exc).__name__}{where}: {text[:200]}"


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watched(
    method: str, people: int, max_pairs: int | None, time_limit_s: float, memory_limit_mib: float
) -> dict[str, Any]:
    """One method on one world size in its own process, stopped past the limits."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(method, people, child, max_pairs))
    proc.start()
    child.close()
    pid = proc.pid or 0
    info: dict[str, Any] = {}
    started: float | None = None
    top = 0.0
    reason = ""
    while True:
        if parent.poll(1.0):
            try:
                kind, payload = parent.recv()
            except EOFError:
                reason = f"exited with code {proc.exitcode} before finishing"
                break
            if kind == "done":
                proc.join()
                result: dict[str, Any] = payload
                result["rss_top_mib"] = max(top, _rss_mib(pid))
                return result
            info.update(payload)
            if kind == "skipped":
                proc.join()
                return {"method": method, **info, "skipped": True}
            if kind == "failed":
                proc.join()
                return {"method": method, **info, "not_run": f"failed: {info['error']}"}
            started = time.perf_counter()
        rss = _rss_mib(pid)
        top = max(top, rss)
        ran = time.perf_counter() - started if started is not None else 0.0
        if not proc.is_alive() and not parent.poll(0):
            reason = f"exited with code {proc.exitcode} after {ran:.0f} s"
            break
        if ran > time_limit_s:
            reason = f"stopped after {ran:.0f} s (limit {time_limit_s:.0f} s), RSS {rss:,.0f} MiB"
            break
        if rss > memory_limit_mib:
            reason = (
                f"stopped at RSS {rss:,.0f} MiB (limit {memory_limit_mib:,.0f} MiB) after "
                f"{ran:.0f} s"
            )
            break
    if proc.is_alive():
        proc.kill()
    proc.join()
    return {"method": method, **info, "not_run": reason}


def _fmt(r: dict[str, Any]) -> str:
    pairs = r.get("candidate_pairs")
    if r.get("skipped"):
        base = r["pace"]
        projected = base["seconds"] * r["candidate_pairs"] / max(base["candidate_pairs"], 1)
        return (
            f"{r['method']}: not run: its blocking proposes {pairs:,} candidate pairs, "
            f"{pairs / max(base['candidate_pairs'], 1):,.0f}x its {base['people']:,}-people run's "
            f"{base['candidate_pairs']:,} ({base['seconds']:,.0f} s, {base['peak_mib']:,.0f} "
            f"MiB): ~{projected:,.0f} s at that pace"
        )
    if "not_run" in r:
        counted = f", {pairs:,} candidate pairs" if pairs else ""
        return f"{r['method']}: not run: {r['not_run']}{counted}"
    return (
        f"{r['method']}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f} "
        f"cF1 {r['cluster_f1']:.3f}, {r['records_per_s']:,.0f} rec/s ({r['seconds']:,.0f} s), "
        f"{r['peak_mib']:,.0f} MiB"
    )


def run_world(
    sizes: list[int],
    methods: list[str],
    *,
    time_limit_s: float = TIME_LIMIT_S,
    memory_limit_mib: float = MEMORY_LIMIT_MIB,
) -> dict[str, str]:
    """README rows (label -> figures) of the world runs, smallest size first."""
    rows: dict[str, str] = {}
    pace: dict[str, dict[str, Any]] = {}  # each peer's largest finished run
    unfinished: dict[str, tuple[int, str]] = {}  # method -> (people, why) it did not finish
    for people in sorted(sizes):
        results: list[dict[str, Any]] = []
        records = 0
        for method in methods:
            r: dict[str, Any]
            if method in unfinished:
                smaller, why = unfinished[method]
                r = {"method": method, "not_run": f"did not finish at {smaller:,} people ({why})"}
                results.append(r)
                continue
            max_pairs = None
            base = pace.get(method)
            if base is not None:
                max_pairs = int(base["candidate_pairs"] * time_limit_s / base["seconds"])
            r = _watched(method, people, max_pairs, time_limit_s, memory_limit_mib)
            if "not_run" in r:
                unfinished[method] = (people, r["not_run"])
            if r.get("skipped"):
                r["pace"] = base
            records = records or int(r.get("records", 0))
            if "precision" in r and r.get("candidate_pairs"):
                pace[method] = {**r, "people": people}
            results.append(r)
            print(f"{_name(people)} {method}: {r}", flush=True)
        worlds = -(-people // CHUNK_PEOPLE)
        chunks = f", {worlds} seeded worlds of {CHUNK_PEOPLE:,}" if worlds > 1 else ""
        label = f"matching: {_name(people)}"
        segments = {r["method"]: _fmt(r) for r in results}
        before = _readme_segments(label)
        kept = {m: f for m, f in before.items() if m not in segments}
        ordered = [m for m in METHODS if m in segments or m in kept]
        figures = [segments.get(m) or kept[m] for m in ordered]
        head = f"{records:,} records{chunks}" if records else before.get("", "")
        rows[label] = "; ".join([head, *figures] if head else figures)
    return rows


def _readme_segments(label: str) -> dict[str, str]:
    """The per-method figures of the README row ``label`` ("" -> what precedes them), so a
    rerun of one method keeps the others' (a figure starts with its method's name)."""
    from bench.readme_table import README

    prefix = f"| {label} | "
    line = next((x for x in README.read_text().splitlines() if x.startswith(prefix)), "")
    out: dict[str, str] = {}
    current = ""
    for piece in line[len(prefix) :].rstrip(" |").split("; "):
        method = piece.split(":", 1)[0]
        if method in METHODS:
            current = method
            out[method] = piece
        else:
            out[current] = f"{out[current]}; {piece}" if current in out else piece
    return out
