#!/usr/bin/env bash
# Fuzzes each input reader for SECONDS (default 600) with libFuzzer through
# cargo fuzz: the line parser with arbitrary headers and formats, the object
# reader (gzip, Firehose, CloudWatch Logs, Parquet), delivery keys and the
# Parquet partial reader. Seeds come from tests/fixtures and a small
# generated dataset of every delivery kind. A crash stops the run with the
# input in tests/fuzz/artifacts/<target>/; make it a fixture test.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# FUZZ_BUILD=dev builds unoptimised and without AddressSanitizer: minutes
# less to build, for the short run in `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(line_parser object_reader delivery_key parquet_partial)

command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# cargo fuzz needs the compiler's unstable flags; the stable compiler takes
# them when bootstrapping is allowed, so no second toolchain is needed. Only
# for cargo fuzz: elsewhere it would change every crate's build fingerprint.
FUZZ=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
if [ "${FUZZ_BUILD:-release}" = dev ]; then
    BUILD=(--fuzz-dir tests/fuzz --dev --sanitizer none)
else
    BUILD=(--fuzz-dir tests/fuzz -O)
fi

cargo build -q -p flowmerge-cli
seeds=target/fuzz-seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{line_parser,object_reader,delivery_key,parquet_partial}
target/debug/flowmerge generate "$seeds/raw" --delivery mixed --minutes 2 --accounts 3 \
    --enis 2 --flows 3 --bad-lines 3 --bad-files > /dev/null
target/debug/flowmerge generate "$seeds/raw-v2" --minutes 1 --accounts 2 --enis 2 --flows 3 > /dev/null
target/debug/flowmerge compact "$seeds/raw" "$seeds/out" --json --max-gap window > /dev/null
python3 - "$seeds" <<'PY'
import gzip, hashlib, sys, zlib
from pathlib import Path
seeds = Path(sys.argv[1])
def put(target, data):
    (seeds / target / hashlib.sha1(data).hexdigest()).write_bytes(data)
for root in [seeds / "raw", seeds / "raw-v2", Path("tests/fixtures/edge")]:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        put("delivery_key", path.relative_to(root).as_posix().encode())
        put("object_reader", data)
        if path.name.endswith(".parquet"):
            put("parquet_partial", data)
        try:
            text = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            text = data
        if not text.startswith((b"PAR1", b"{")):
            put("line_parser", text[:16384])
for path in (seeds / "out").rglob("*.parquet"):
    put("parquet_partial", path.read_bytes())
PY

"${FUZZ[@]}" build "${BUILD[@]}"
for target in "${TARGETS[@]}"; do
    corpus=target/fuzz-corpus/$target
    mkdir -p "$corpus"
    echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
    log=target/fuzz-$target.log
    if ! "${FUZZ[@]}" run "${BUILD[@]}" "$target" "$corpus" "$seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 \
        -print_final_stats=1 > "$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz target $target failed: the input is in tests/fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE" "$log" || true
done
