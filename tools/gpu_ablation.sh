#!/usr/bin/env bash
# Ablation and transfer rows on a lent GPU, in one bounded call: the CPU
# takes 35-65 min per 1000-iteration slim run, a GPU a few minutes, so a
# lent GPU is the fastest way through the rows left
# (python tools/benchmark.py --data DATA --iters 1000 --status).
#
#   DEADLINE=560 PAR=5 bash tools/gpu_ablation.sh A:bubbles:+focal:0 T:bubbles:synfit:0 ...
#
# A:<data>:<row>:<seed>[:<iters>] is a tools/benchmark.py row, T:... a
# tools/benchmark_transfer.py row; same schedule as the CPU tables
# (ITERS=1000, validation every VAL=200; a spec's own <iters>, e.g.
# A:bubbles:+anchors:1:2000, overrides ITERS for that run, except in a
# DRY run). PAR runs (default 5: on an
# H100 with 16 cores, 5 runs of 1000 iterations took 310-395 s each) share the GPU at a
# time; each writes its own results file <spec>.json (a run cut by
# the deadline writes nothing). Merge them back here with
#   tar -xzf OUT/rows.tar.gz -C rows/
#   python tools/merge_benchmark_runs.py benchmarks/ablation_<data>_1000it_gpu.json rows/A_<data>_*.json
# (kept apart from the CPU tables: another device, fp32 on both).
# The environment comes from tools/gpu_env.sh (carried wheels, cached or
# built mmcv); the data from BUBBLES_ROOT (default .gpu/bubbles/) and
# ZEROG_ROOT (default .gpu/zerog_bubbles/: images/ and labels/ or
# labels.tar.xz, converted on first use). What to carry (64 MiB at most):
# .gpu/mmcv_cache (18 MB as mmcv-wheel.tar.xz), .gpu/whl (8 MB), the tree
# (4 MB) and .gpu/bubbles (8 MB) and/or .gpu/zerog_bubbles (20 MB).
# DRY=1: a CPU dry run with the repository's .venv and ITERS=2 (checked
# with a zerog row from labels.tar.xz; like any run on another ZEROG_ROOT it
# re-converts data/zerog_bubbles/annotations, and the next run on the
# usual root converts them back).
# The results files go to ROWS (default /tmp/gpu_rows) and, at the end,
# into one archive $OUT/rows.tar.gz (the device tool brings back at most 8
# files). Run dirs are /tmp/gw/<spec>: a run cut by the deadline resumes
# from its checkpoint when the next call lands on the same warm machine.
set -u
(( $# )) || { echo "usage: $0 A|T:<data>:<row>:<seed> ..."; exit 2; }
source "$(dirname "$0")/gpu_env.sh" || exit 1
PAR=${PAR:-5}
ROWS=${ROWS:-/tmp/gpu_rows}
mkdir -p /tmp/gw "$ROWS"
export BUBBLES_ROOT=${BUBBLES_ROOT:-$ROOT/.gpu/bubbles/}
export ZEROG_ROOT=${ZEROG_ROOT:-$ROOT/.gpu/zerog_bubbles/}
# zerog's labelme files travel as labels.tar.xz (0.6 MB instead of 18)
if [[ ! -d ${ZEROG_ROOT}labels && -f ${ZEROG_ROOT}labels.tar.xz ]]; then
    mkdir -p /tmp/zerog && ln -sfn "$(cd "$ZEROG_ROOT" && pwd)/images" /tmp/zerog/images
    tar -xJf "${ZEROG_ROOT}labels.tar.xz" -C /tmp/zerog && export ZEROG_ROOT=/tmp/zerog/
    say "zerog_bubbles: labels unpacked, ZEROG_ROOT=$ZEROG_ROOT"
fi
setup_python
if [[ $DRY == 1 ]]; then ITERS=${ITERS:-2} VAL=${VAL:-2}
else ITERS=${ITERS:-1000} VAL=${VAL:-200}; fi
say "rows: $* ($PAR at a time, $ITERS iterations, $(left)s left)"

run_spec() {
    local kind data row seed iters tool name t0 rc
    IFS=: read -r kind data row seed iters <<< "$1"
    [[ $DRY == 1 || -z $iters ]] && iters=$ITERS
    case $kind in
        A) tool=tools/benchmark.py ;;
        T) tool=tools/benchmark_transfer.py ;;
        *) say "$1: not A:... or T:..."; return 2 ;;
    esac
    name="${kind}_${data}_${row//+/p}_s${seed}"
    [[ $iters == "$ITERS" ]] || name+="_${iters}it"
    t0=$(el)
    timeout $(( $(left) - 10 )) $PY "$tool" --data "$data" --rows "$row" \
        --seeds "$seed" --iters "$iters" --val-interval "$VAL" \
        --work-root "/tmp/gw/$name" --out "$ROWS/$name.json" \
        > "/tmp/res/$name.log" 2>&1
    rc=$?
    say "$name rc=$rc in $(( $(el) - t0 ))s: $(grep -h ': mask AP' "/tmp/res/$name.log" | tail -n 1)"
    (( rc )) && tail -n 5 "/tmp/res/$name.log"
    return $rc
}

# (a bare `wait` would also wait for the log's tee: wait for the runs by
# pid)
pids=()
for spec in "$@"; do
    while (( $(jobs -rp | wc -l) >= PAR )); do sleep 2; done
    if (( $(left) < 150 )); then say "not started, too little time: $spec"; continue; fi
    run_spec "$spec" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
tar -czf "$OUT/logs.tar.gz" -C /tmp/res . 2>/dev/null
tar -czf "$OUT/rows.tar.gz" -C "$ROWS" . 2>/dev/null
say "done: $(ls "$ROWS"/*.json 2>/dev/null | wc -l) results file(s) in $OUT/rows.tar.gz"
