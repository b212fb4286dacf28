#!/usr/bin/env bash
# Fuzzes the channel against the reference model for SECONDS seconds:
#     bash fuzz/run.sh 60
# Needs the nightly toolchain; installs cargo-fuzz if it is missing. A failure
# leaves its input in fuzz/artifacts/ops/; replay it with
#     cargo +nightly fuzz run ops fuzz/artifacts/ops/<file>
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:?usage: fuzz/run.sh SECONDS}"
case "$seconds" in
    '' | *[!0-9]*) echo "SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
status=0
cargo +nightly fuzz run ops -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | tee "$log" || status=$?
end=$(date +%s)

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
fuzz_secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -n 1 || true)
echo
echo "fuzz target ops: ${execs:-unknown} executions in ${fuzz_secs:-unknown} s of fuzzing" \
    "(max_total_time=${seconds} s; $((end - start)) s wall clock with the build)"
exit "$status"
