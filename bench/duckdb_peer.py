"""The DuckDB peer: the same job flowmerge does, written the way a user would
with DuckDB — read every raw .log.gz, group each flow's records per delivery
minute with sum/min/max/bit_or, write zstd Parquet partitioned by window.

Headerless files (the default v2 format without a header line) are read with
the v2 column names; every other file names its columns in its header.

usage: duckdb_peer.py RAW_DIR OUT_DIR THREADS
"""

import sys
from pathlib import Path

import duckdb

from raw_schema import METRICS, NUMERIC, V2, WINDOW_IN_NAME, header


def raw_relation(con: duckdb.DuckDBPyConnection, raw: str) -> str:
    """SQL for all raw records with AWS column names (underscores), numbers typed,
    and the file's delivery minute as `window`."""
    files = sorted(str(p) for p in Path(raw).rglob("*.log.gz"))
    headed = [f for f in files if header(Path(f)) is not None]
    headless = sorted(set(files) - set(headed))
    common = "delim = ' ', nullstr = '-', filename = true, all_varchar = true"
    sources = [f"SELECT * FROM read_csv({headed!r}, header = true, union_by_name = true, {common})"]
    if headless:
        names = ", ".join(f"'{n}'" for n in V2)
        sources.append(f"SELECT * FROM read_csv({headless!r}, header = false, names = [{names}], {common})")
    union = " UNION ALL BY NAME ".join(sources)
    columns = [r[0] for r in con.execute(f"DESCRIBE {union}").fetchall() if r[0] != "filename"]
    select = [(f'"{c}"::BIGINT' if c in NUMERIC else f'"{c}"') + f' AS "{c.replace("-", "_")}"' for c in columns]
    window = f"regexp_extract(filename, '{WINDOW_IN_NAME}', 1) AS \"window\""
    return f"(SELECT {window}, {', '.join(select)} FROM ({union}))"


def main(raw: str, out: str, threads: str) -> None:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    relation = raw_relation(con, raw)
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    dims = [f'"{c}"' for c in columns if c not in METRICS]
    aggregates = [f'{fn}("{c}") AS "{c}"' for c, fn in METRICS.items() if c in columns]
    con.execute(f"""
        COPY (
            SELECT {", ".join(dims + aggregates)}, count(*) AS records
            FROM {relation}
            GROUP BY ALL
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ("window"))
    """)


if __name__ == "__main__":
    main(*sys.argv[1:4])
