"""flowmerge's benchmark: compaction side by side with DuckDB, pyarrow,
ClickHouse (chdb), Polars and the igzip decompression floor on the same data
and thread counts; output size of every tool on two kinds of traffic (mostly
private VPC traffic, and internet-facing services and NAT gateways); the same
data delivered as AWS native Parquet (flowmerge and DuckDB); a query benchmark
over a day as raw gzip, minute files and hour files; a scaling check; and peak memory as one window grows and compresses better, with and without `--memory`. Writes bench/out/report.md.

Every number in the report is measured by this script in this run. Outputs are
checked against the generator's truth, so speed never comes from dropping data.

usage: python bench/run.py [--scale N] [--threads 1,2] [--repeat 5] [--bin target/release/flowmerge]
"""

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import chdb
import duckdb
import polars
import pyarrow

from duckdb_peer import raw_relation

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

# Default dataset: a few million records in hundreds to a thousand-odd files, 60 accounts.
DATASET = {"accounts": 60, "enis": 24, "flows": 20, "minutes": 40}
# Internet-facing interfaces: about a million records, nearly every client
# address and ephemeral port new.
INTERNET = {"accounts": 30, "enis": 24, "flows": 20, "minutes": 20, "traffic": "internet"}


@dataclass
class Run:
    """One measured child process."""
    wall: float
    cpu: float
    rss_mib: float


# GNU time starts each measured command. A child's peak RSS cannot be read
# from this process's wait4: on Linux a process's peak starts from that of the
# address space it replaced at exec, here this Python process with DuckDB
# loaded (hundreds of MiB). GNU time is small, so what it reports is the
# command's own peak.
GNU_TIME = "/usr/bin/time"


def measure(argv) -> Run:
    """Runs a command and measures wall time, CPU time and peak RSS of that child."""
    return measure_parallel([argv])


def measure_parallel(commands) -> Run:
    """Runs commands at once (one per thread) and measures them as one job:
    wall time, CPU time summed, and the largest peak RSS."""
    with tempfile.TemporaryDirectory() as peaks:
        files = [Path(peaks) / str(i) for i in range(len(commands))]
        start = time.perf_counter()
        procs = [subprocess.Popen([GNU_TIME, "-f", "%M", "-o", f, *c], stdout=subprocess.DEVNULL)
                 for c, f in zip(commands, files)]
        cpu = 0.0
        for p in procs:
            _, status, usage = os.wait4(p.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"failed: {' '.join(map(str, p.args))}")
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.perf_counter() - start
        rss_kib = max(int(f.read_text().split()[-1]) for f in files)
    return Run(wall, cpu, rss_kib / 1024)


def median(runs: list[Run]) -> Run:
    """The run of median wall time. A fraction-of-a-second job on a shared
    machine varies by ±15 % run to run."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def interleaved(repeat: int, *jobs) -> list[Run]:
    """Runs each job (a function that measures one run) `repeat` times, taking
    turns, so that a machine's slow spell slows them alike; the median run of each."""
    runs = [[] for _ in jobs]
    for _ in range(repeat):
        for job, done in zip(jobs, runs):
            done.append(job())
    return [median(r) for r in runs]


def tree_bytes(root: Path, suffix: str) -> tuple[int, int]:
    files = [p for p in root.rglob(f"*{suffix}") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def truth_totals(truth) -> dict:
    return {
        (w.replace("-", "").replace(":", ""), a): (t["records"], t["packets"], t["bytes"], t["start_min"], t["end_max"])
        for w, accounts in truth["windows"].items()
        for a, t in accounts.items()
    }


def parquet_totals(glob: str, window_sql: str) -> tuple[dict, int]:
    rows = duckdb.execute(f"""
        SELECT {window_sql} AS w, account_id, sum(records)::BIGINT, coalesce(sum(packets), 0)::BIGINT,
               coalesce(sum(bytes), 0)::BIGINT, min(start)::BIGINT, max("end")::BIGINT, count(*)
        FROM read_parquet('{glob}', filename = true, hive_partitioning = false, union_by_name = true)
        GROUP BY ALL
    """).fetchall()
    return {(r[0], r[1]): tuple(r[2:7]) for r in rows}, sum(r[7] for r in rows)


FLOWMERGE_WINDOW = "regexp_extract(filename, '/(\\d{8}T\\d{4}Z)-', 1)"
# Both peers write a directory per window, window=<minute>.
PEER_WINDOW = "regexp_extract(filename, 'window=(\\d{8}T\\d{4}Z)', 1)"
PEERS = {"DuckDB": "duckdb_peer.py", "pyarrow": "pyarrow_peer.py",
         "ClickHouse (chdb)": "chdb_peer.py", "Polars": "polars_peer.py"}


def generate(binary: str, raw: Path, minutes: int, delivery: str = "text", shape: dict = DATASET) -> dict:
    if not (raw / "truth.json").exists():
        shape = {**shape, "minutes": minutes, "delivery": delivery}
        subprocess.run([binary, "generate", raw, *sum(([f"--{k}", str(v)] for k, v in shape.items()), [])],
                       check=True, stdout=subprocess.DEVNULL)
    return json.loads((raw / "truth.json").read_text())


def compaction(binary: str, raw: Path, truth: dict, threads: list[int], repeat: int) -> list[dict]:
    files_in, bytes_in = tree_bytes(raw, ".log.gz")
    records = truth["records"]
    expected = truth_totals(truth)
    gz = sorted(str(p) for p in raw.rglob("*.log.gz"))
    rows = []
    for n in threads:
        out = OUT / f"flowmerge-{n}"

        def flowmerge():
            shutil.rmtree(out, ignore_errors=True)
            return measure([binary, "compact", raw, out, "--threads", str(n)])

        chunks = [gz[i::n] for i in range(n)]
        run, floor = interleaved(repeat, flowmerge,
                                 lambda: measure_parallel([["igzip", "-d", "-c", *c] for c in chunks]))
        subprocess.run([binary, "verify", raw, out], check=True, stdout=subprocess.DEVNULL)
        totals, rows_out = parquet_totals(f"{out}/flowlogs/**/*.parquet", FLOWMERGE_WINDOW)
        rows.append(row("flowmerge", n, run, records, rows_out, files_in, bytes_in,
                        *tree_bytes(out / "flowlogs", ".parquet"), totals == expected))

        for tool, script in PEERS.items():
            out = OUT / f"{tool.split()[0].lower()}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            run = measure([sys.executable, HERE / script, raw, out, str(n)])
            totals, rows_out = parquet_totals(f"{out}/**/*.parquet", PEER_WINDOW)
            rows.append(row(tool, n, run, records, rows_out, files_in, bytes_in,
                            *tree_bytes(out, ".parquet"), totals == expected))
        rows.append(row("igzip -d (floor)", n, floor, records, None, files_in, bytes_in, None, None, True))
    return rows


def output_sizes(binary: str, raw: Path, truth: dict, threads: int) -> list[dict]:
    """Every tool's output bytes for the same compaction of `raw`: flowmerge at
    its default and at `--max-gap window` (every record of a flow in a window
    joined, which is what the peers' GROUP BY does), each checked against the truth."""
    expected = truth_totals(truth)
    rows = []
    for setting, extra in (("default (max gap 60 s)", []), ("--max-gap window", ["--max-gap", "window"])):
        out = OUT / "sizes-flowmerge"
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([binary, "compact", raw, out, "--threads", str(threads), *extra],
                       check=True, stdout=subprocess.DEVNULL)
        totals, rows_out = parquet_totals(f"{out}/flowlogs/**/*.parquet", FLOWMERGE_WINDOW)
        rows.append({"tool": f"flowmerge, {setting}", "rows": rows_out,
                     "bytes": tree_bytes(out / "flowlogs", ".parquet")[1], "conserved": totals == expected})
    for tool, script in PEERS.items():
        out = OUT / "sizes-peer"
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, HERE / script, raw, out, str(threads)], check=True)
        totals, rows_out = parquet_totals(f"{out}/**/*.parquet", PEER_WINDOW)
        rows.append({"tool": tool, "rows": rows_out, "bytes": tree_bytes(out, ".parquet")[1],
                     "conserved": totals == expected})
    return rows


def native_parquet(binary: str, raw: Path, truth: dict, threads: list[int], repeat: int) -> list[dict]:
    """The same dataset delivered as native Parquet objects (`file-format=parquet`):
    flowmerge and DuckDB doing the same compaction of the same files, taking turns."""
    files_in, bytes_in = tree_bytes(raw, ".log.parquet")
    records, expected = truth["records"], truth_totals(truth)
    rows = []
    for n in threads:
        ours, theirs = OUT / f"parquet-flowmerge-{n}", OUT / f"parquet-duckdb-{n}"

        def flowmerge():
            shutil.rmtree(ours, ignore_errors=True)
            return measure([binary, "compact", raw, ours, "--threads", str(n)])

        def duckdb_peer():
            shutil.rmtree(theirs, ignore_errors=True)
            return measure([sys.executable, HERE / "duckdb_peer.py", raw, theirs, str(n)])

        run, peer = interleaved(repeat, flowmerge, duckdb_peer)
        subprocess.run([binary, "verify", raw, ours], check=True, stdout=subprocess.DEVNULL)
        totals, rows_out = parquet_totals(f"{ours}/flowlogs/**/*.parquet", FLOWMERGE_WINDOW)
        rows.append(row("flowmerge", n, run, records, rows_out, files_in, bytes_in,
                        *tree_bytes(ours / "flowlogs", ".parquet"), totals == expected))
        totals, rows_out = parquet_totals(f"{theirs}/**/*.parquet", PEER_WINDOW)
        rows.append(row("DuckDB", n, peer, records, rows_out, files_in, bytes_in,
                        *tree_bytes(theirs, ".parquet"), totals == expected))
    return rows


def row(tool, threads, run, records, rows_out, files_in, bytes_in, files_out, bytes_out, conserved):
    return {
        "tool": tool, "threads": threads, "wall": run.wall, "cpu": run.cpu, "rss": run.rss_mib,
        "rps_core": records / run.wall / threads, "bytes_ratio": bytes_out / bytes_in if bytes_out else None,
        "rows_ratio": rows_out / records if rows_out else None, "bytes_in": bytes_in,
        "files": f"{files_in} → {files_out}" if files_out else f"{files_in}",
        "conserved": conserved,
    }


QUERIES = {
    "top talkers of one account": """
        SELECT srcaddr, dstaddr, sum(bytes) AS b FROM {src} WHERE account_id = '{account}'
        GROUP BY ALL ORDER BY b DESC LIMIT 10""",
    "rejected traffic by port": """
        SELECT dstport, count(*) AS n, sum(packets) AS p FROM {src} WHERE action = 'REJECT'
        GROUP BY ALL ORDER BY n DESC LIMIT 10""",
    "bytes by account per minute": """
        SELECT account_id, start // 60 AS minute, sum(bytes) FROM {src} GROUP BY ALL""",
    # Where bloom filters on addresses pay: row groups without it are skipped.
    "flows of one source address": """
        SELECT count(*), sum(bytes) FROM {src} WHERE srcaddr = '{address}'""",
}


def read_bytes() -> int:
    """Bytes this process has read through system calls (rchar)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


# A day of a small organisation's flow logs, for the query benchmark: what
# the hour tier changes is the number of files a query opens.
DAY = {"accounts": 8, "enis": 4, "flows": 6, "minutes": 1440, "start": "2026-11-22T00:00Z"}
TIERS = ("raw gzip", "minute files", "hour files")


def day_of_tiers(binary: str) -> tuple[Path, Path, dict, dict]:
    """A generated day, compacted with the hour tier: (raw, output, truth, summary)."""
    raw, out = OUT / "data" / "day", OUT / "day-out"
    truth = generate(binary, raw, DAY["minutes"], shape=DAY)
    shutil.rmtree(out, ignore_errors=True)
    summary = json.loads(subprocess.run([binary, "compact", "-j", "2", "--rollup", "hour", "--json", raw, out],
                                        check=True, capture_output=True, text=True).stdout)
    return raw, out, truth, summary


def queries(raw: Path, out: Path, truth: dict) -> list[dict]:
    """The queries over a day as raw gzip, minute files and hour files."""
    account = sorted(next(iter(truth["windows"].values())))[0]
    sources = {
        "minute files": f"read_parquet('{out}/flowlogs/**/*.parquet', union_by_name = true)",
        "hour files": f"read_parquet('{out}/flowlogs-hourly/**/*.parquet', union_by_name = true)",
    }
    # An address of one interface of the day, not of every hour.
    address = duckdb.execute(f"""SELECT srcaddr FROM {sources['hour files']} WHERE srcaddr IS NOT NULL
                                 GROUP BY srcaddr ORDER BY count(*), srcaddr LIMIT 1""").fetchone()[0]
    results = []
    for name, sql in QUERIES.items():
        timings = {}
        for label in TIERS:
            src = sources.get(label)
            con = duckdb.connect()
            con.execute("SET threads = 2")
            if src is None:
                # The raw files as a table, read the way the DuckDB peer reads them.
                src, _ = raw_relation(str(raw))
            query = sql.format(src=src, account=account, address=address)
            before, start = read_bytes(), time.perf_counter()
            con.execute(query).fetchall()
            timings[label] = (time.perf_counter() - start, read_bytes() - before)
            con.close()
        results.append({"query": name, **{k: v for k, v in timings.items()}})
    return results


def scaling(binary: str, multiples: list[int], repeat: int) -> list[dict]:
    rows = []
    for m in multiples:
        raw = OUT / "data" / f"scale-{m}"
        truth = generate(binary, raw, DATASET["minutes"] * m)
        out = OUT / f"scale-{m}-out"

        def flowmerge():
            shutil.rmtree(out, ignore_errors=True)
            return measure([binary, "compact", raw, out, "--threads", "2"])

        [run] = interleaved(repeat, flowmerge)
        rows.append({"scale": m, "records": truth["records"], "wall": run.wall, "rss": run.rss_mib,
                     "us_per_record": run.wall / truth["records"] * 1e6})
        shutil.rmtree(out, ignore_errors=True)
    return rows


# The memory budget the budget section runs under: a step's share at 2 threads is 64 MiB.
BUDGET = "128MiB"
ACCOUNT = "123456789012"


def compressible(raw: Path, repeats: int, flows: int = 100_000) -> None:
    """One window of `flows` flows' records, each repeated `repeats` times in
    a row (an idle or steady interface's captures): the compressed size
    stays about the same while the text grows with `repeats`."""
    prefix = raw / f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/22"
    prefix.mkdir(parents=True, exist_ok=True)
    with gzip.open(prefix / f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0a_20261122T1305Z_x.log.gz", "wt", 6) as f:
        f.write("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
        for i in range(flows):
            line = (f"2 {ACCOUNT} eni-{i % 97:08x} 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} 10.1.0.2 "
                    f"{1024 + i % 50000} 443 6 {i % 7 + 1} {i % 1400 + 40} 1700000000 1700000059 ACCEPT OK\n")
            f.write(line * repeats)


def memory_budget(binary: str) -> list[dict]:
    """Peak RSS of `compact` with `--memory` and without, as one window
    grows (1×/2×/4× its accounts) and as its input compresses better
    (1×/4×/16× the records in about the same gzip bytes)."""
    cases = [(f"{m}× data", lambda raw, m=m: generate(
        binary, raw, 1, shape={**DATASET, "accounts": DATASET["accounts"] * 4 * m})) for m in (1, 2, 4)]
    cases += [(f"{r}× compression", lambda raw, r=r: compressible(raw, r)) for r in (1, 4, 16)]
    rows = []
    for label, make in cases:
        raw = OUT / "data" / ("memory-" + label.replace("× ", "x-"))
        if not raw.exists():
            make(raw)
        objects = list(raw.rglob("*.log.gz"))
        text = sum(len(gzip.decompress(p.read_bytes())) for p in objects)
        row = {"case": label, "gzip": sum(p.stat().st_size for p in objects), "text": text}
        out = OUT / "memory-out"
        for name, extra in (("none", []), ("budget", ["--memory", BUDGET])):
            shutil.rmtree(out, ignore_errors=True)
            row[name] = measure([binary, "compact", raw, out, "--threads", "2", *extra])
        subprocess.run([binary, "verify", raw, out], check=True, stdout=subprocess.DEVNULL)
        rows.append(row)
    return rows


def memory_table(rows) -> list[str]:
    lines = ["", f"## Memory (flowmerge, 2 threads, one window)", "",
             f"Peak RSS of `compact` without a budget (half the machine's memory) and with `--memory {BUDGET}`; "
             "the window grows with its accounts (`generate` with 4×, 8× and 16× the accounts for one minute), "
             "or holds the same flows with each record repeated 1, 4 and 16 times (about the same gzip bytes). "
             "Both outputs verified.", "",
             "| window | gzip MiB | text MiB | text ÷ gzip | peak RSS MiB, no budget | wall s | "
             f"peak RSS MiB, `--memory {BUDGET}` | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['gzip'] / 2**20:.1f} | {r['text'] / 2**20:.1f} | {r['text'] / r['gzip']:.1f} | "
                     f"{r['none'].rss_mib:.0f} | {r['none'].wall:.2f} | {r['budget'].rss_mib:.0f} | {r['budget'].wall:.2f} |")
    return lines


def fmt(v, spec=".2f"):
    return "–" if v is None else format(v, spec)


def compaction_table(rows) -> list[str]:
    lines = [
        "| tool | threads | wall s | CPU s | records/s per core | peak RSS MiB | out ÷ in bytes | out rows ÷ records | files | totals match truth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['threads']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rps_core']:,.0f} | "
                     f"{r['rss']:.0f} | {fmt(r['bytes_ratio'], '.3f')} | {fmt(r['rows_ratio'], '.3f')} | {r['files']} | "
                     f"{'yes' if r['conserved'] else 'NO'} |")
    return lines


def report(args, truth, comp, sizes, native, qs, day_summary, scale, memory) -> str:
    lines = [
        "# flowmerge benchmark", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"DuckDB {duckdb.__version__}; pyarrow {pyarrow.__version__}; chdb {chdb.__version__}; "
        f"Polars {polars.__version__}; {subprocess.run(['igzip', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}.",
        f"Dataset: `flowmerge generate` with {DATASET | {'minutes': DATASET['minutes'] * args.scale}}: "
        f"{truth['records']:,} records in {truth['files']:,} files ({truth['bytes'] / 2**20:.1f} MiB gzip).",
        f"Command: `python bench/run.py --scale {args.scale}` (`make bench`). flowmerge and igzip: "
        f"median of {args.repeat} runs, taking turns; the peers: one run each.", "",
        "## Compaction", "",
        *compaction_table(comp),
    ]
    lines += ["", "| threads | " + " | ".join(f"{p} wall ÷ flowmerge wall" for p in PEERS)
              + " | flowmerge wall ÷ igzip floor |", "|---" * (len(PEERS) + 2) + "|"]
    for n in args.threads:
        by = {r["tool"]: r for r in comp if r["threads"] == n}
        peers = "".join(f"{by[p]['wall'] / by['flowmerge']['wall']:.2f}× | " for p in PEERS)
        lines.append(f"| {n} | {peers}{by['flowmerge']['wall'] / by['igzip -d (floor)']['wall']:.2f}× |")
    if native:
        lines += ["", "## Native Parquet input (`file-format=parquet`)", "",
                  f"The same dataset delivered as AWS native Parquet objects (`generate --delivery parquet`, "
                  f"GZIP codec: {native[0]['bytes_in'] / 2**20:.1f} MiB); "
                  f"both tools median of {args.repeat} runs, taking turns.", "",
                  *compaction_table(native), "",
                  "| threads | DuckDB wall ÷ flowmerge wall |", "|---|---|"]
        for n in args.threads:
            by = {r["tool"]: r for r in native if r["threads"] == n}
            lines.append(f"| {n} | {by['DuckDB']['wall'] / by['flowmerge']['wall']:.2f}× |")
    lines += ["", "## Output size on two kinds of traffic", "",
              "The same compaction by every tool, 2 threads; bytes of Parquet written. "
              "Peers group all of a flow's records in a window, as flowmerge does at `--max-gap window`.", ""]
    for (label, shape, t), rows in sizes:
        smallest_peer = min(r["bytes"] for r in rows if not r["tool"].startswith("flowmerge"))
        lines += [f"**{label}** (`flowmerge generate` with {shape}: {t['records']:,} records, "
                  f"{t['bytes'] / 2**20:.1f} MiB gzip):", "",
                  "| tool | rows | output bytes | ÷ smallest peer | totals match truth |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['tool']} | {r['rows']:,} | {r['bytes']:,} | {r['bytes'] / smallest_peer:.3f} | "
                         f"{'yes' if r['conserved'] else 'NO'} |")
        lines.append("")
    (day_truth, day) = day_summary
    files = {t: n for t, n in zip(TIERS, (day_truth["files"], day["files_out"], day["hour_files_out"]))}
    sizes_ = {t: n for t, n in zip(TIERS, (day_truth["bytes"], day["bytes_out"], day["hour_bytes_out"]))}
    lines += ["## Queries over a day: raw, minute tier, hour tier (DuckDB, 2 threads)", "",
              f"A day of `flowmerge generate` with {DAY}: {day_truth['records']:,} records, compacted with "
              f"`--rollup hour` ({day['rows_out']:,} minute rows, {day['hour_rows_out']:,} hour rows). "
              "Time and bytes read (rchar) per query.", "",
              "| | " + " | ".join(TIERS) + " |", "|---|---|---|---|",
              "| files | " + " | ".join(f"{files[t]:,}" for t in TIERS) + " |",
              "| bytes | " + " | ".join(f"{sizes_[t] / 2**20:.2f} MiB" for t in TIERS) + " |", "",
              "| query | " + " | ".join(TIERS) + " | raw ÷ minute | minute ÷ hour |",
              "|---|---|---|---|---|---|"]
    for q in qs:
        cells = " | ".join(f"{q[t][0]:.3f} s, {q[t][1] / 2**20:.1f} MiB" for t in TIERS)
        lines.append(f"| {q['query']} | {cells} | {q['raw gzip'][0] / q['minute files'][0]:.1f}× | "
                     f"{q['minute files'][0] / q['hour files'][0]:.1f}× |")
    lines += ["", "## Scaling (flowmerge, 2 threads)", "",
              "| data | records | wall s | µs per record | peak RSS MiB |", "|---|---|---|---|---|"]
    for s in scale:
        lines.append(f"| {s['scale']}× | {s['records']:,} | {s['wall']:.2f} | {s['us_per_record']:.3f} | {s['rss']:.0f} |")
    lines += memory_table(memory)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="multiply the dataset's minutes")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--bin", default=str(HERE.parent / "target" / "release" / "flowmerge"))
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="runs of flowmerge and igzip (median reported)")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    OUT.mkdir(exist_ok=True)
    raw = OUT / "data" / f"scale-{args.scale}"
    truth = generate(args.bin, raw, DATASET["minutes"] * args.scale)
    comp = compaction(args.bin, raw, truth, args.threads, args.repeat)
    internet_raw = OUT / "data" / f"internet-{args.scale}"
    internet_truth = generate(args.bin, internet_raw, INTERNET["minutes"] * args.scale, shape=INTERNET)
    sizes = [(("Mostly private VPC traffic", DATASET, truth), output_sizes(args.bin, raw, truth, 2)),
             (("Internet-facing services and NAT gateways", INTERNET, internet_truth),
              output_sizes(args.bin, internet_raw, internet_truth, 2))]
    parquet_raw = OUT / "data" / f"parquet-{args.scale}"
    parquet_truth = generate(args.bin, parquet_raw, DATASET["minutes"] * args.scale, "parquet")
    native = native_parquet(args.bin, parquet_raw, parquet_truth, args.threads, args.repeat)
    day_raw, day_out, day_truth, day = day_of_tiers(args.bin)
    qs = queries(day_raw, day_out, day_truth)
    scale = [] if args.skip_scaling else scaling(args.bin, [1, 2, 4], args.repeat)
    memory = memory_budget(args.bin)
    text = report(args, truth, comp, sizes, native, qs, (day_truth, day), scale, memory)
    (OUT / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
