"""The generator's truth against what real readers see in flowmerge's output:
conservation per window and account, shared by the read-back and the
end-to-end tests."""

import duckdb

# Per window (from the output file name) and account: the sums and bounds a
# merge must conserve.
TOTALS_SQL = """
    SELECT regexp_extract(filename, '/(\\d{8}T\\d{4}Z)-', 1) AS stamp,
           account_id,
           sum(records)::BIGINT, coalesce(sum(packets), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT,
           min(start), max("end")
    FROM read_parquet(?, filename = true)
    GROUP BY ALL ORDER BY ALL
"""


def stamp(window: str) -> str:
    """2026-11-22T13:05Z -> 20261122T1305Z"""
    return window.replace("-", "").replace(":", "")


def truth_rows(*truths, windows=None):
    """(stamp, account, records, packets, bytes, start, end) per window and
    account, summed over several truth files, optionally only `windows`."""
    merged = {}
    for truth in truths:
        for window, accounts in truth["windows"].items():
            if windows is not None and window not in windows:
                continue
            for account, t in accounts.items():
                key = (stamp(window), account)
                r, p, b, s, e = merged.get(key, (0, 0, 0, t["start_min"], t["end_max"]))
                merged[key] = (r + t["records"], p + t["packets"], b + t["bytes"],
                               min(s, t["start_min"]), max(e, t["end_max"]))
    return sorted((*key, *value) for key, value in merged.items())


def output_rows(parquet_glob: str):
    """The same rows, read from Parquet files by DuckDB."""
    return [tuple(r) for r in duckdb.execute(TOTALS_SQL, [parquet_glob]).fetchall()]


def per_account(rows):
    """(account, records, packets, bytes, start, end) of `truth_rows` or
    `output_rows`, summed over all windows."""
    merged = {}
    for _, account, r, p, b, s, e in rows:
        r0, p0, b0, s0, e0 = merged.get(account, (0, 0, 0, s, e))
        merged[account] = (r0 + r, p0 + p, b0 + b, min(s0, s), max(e0, e))
    return sorted((account, *v) for account, v in merged.items())
