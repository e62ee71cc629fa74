#!/usr/bin/env bash
# Runs one libFuzzer target for a few seconds from its committed seed corpus.
# Usage: run-short.sh FUZZER CORPUS_DIR WORK_DIR [SECONDS]
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 secs=${4:-${LITEVFS_FUZZ_SECONDS:-5}}
mkdir -p "$work/corpus"
seeds=()
[ -d "$corpus" ] && seeds+=("$corpus")
exec "$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "${seeds[@]}"
