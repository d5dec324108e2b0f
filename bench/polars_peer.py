"""The Polars peer: the same job written with Polars' lazy CSV scanner,
group-by and partitioned Parquet writer — read every raw .log.gz, group each
flow's records per delivery minute with sum/min/max/bitwise-or, write zstd
Parquet partitioned by window.

usage: polars_peer.py RAW_DIR OUT_DIR THREADS
"""

import os
import sys

from raw_schema import METRICS, NUMERIC, WINDOW_IN_NAME, aws_name, formats

AGGREGATE = {"sum": "sum", "min": "min", "max": "max", "bit_or": "bitwise_or"}


def main(raw: str, out: str, threads: str) -> None:
    os.environ["POLARS_MAX_THREADS"] = threads
    import polars as pl  # reads POLARS_MAX_THREADS when imported

    frames = []
    for (names, headed), files in formats(raw).items():
        schema = {aws_name(n): pl.Int64 if n in NUMERIC else pl.String for n in names}
        frames.append(pl.scan_csv(files, separator=" ", has_header=headed, new_columns=list(schema),
                                  schema_overrides=schema, null_values="-", include_file_paths="filename"))
    records = pl.concat(frames, how="diagonal").with_columns(
        pl.col("filename").str.extract(WINDOW_IN_NAME).alias("window")).drop("filename")
    columns = records.collect_schema().names()
    dims = [c for c in columns if c not in METRICS]
    folds = [getattr(pl.col(c), AGGREGATE[fn])() for c, fn in METRICS.items() if c in columns]
    merged = records.group_by(dims).agg(*folds, pl.len().cast(pl.Int64).alias("records")).collect()
    merged.write_parquet(out, compression="zstd", partition_by="window")


if __name__ == "__main__":
    main(*sys.argv[1:4])
