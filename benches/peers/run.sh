#!/usr/bin/env bash
# Side-by-side benchmark: hearth, restic and borg on the same generated household (issue 7).
#
#   benches/peers/run.sh [--bytes N] [--reps N] [--work DIR] [--tools hearth,restic,borg] [--regen]
#
# Defaults: --bytes 1500000000 --reps 3 --work target/peers. Builds hearth (release) and the
# test kit's `gen` example, installs restic, borg and GNU time with apt if missing, then runs
# benches/peers/peers.py, which prints the table and writes WORK/results.json and WORK/report.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

work=target/peers
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

need=()
command -v restic >/dev/null || need+=(restic)
command -v borg >/dev/null || need+=(borgbackup)
[ -x /usr/bin/time ] || need+=(time)
command -v diff >/dev/null || need+=(diffutils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y "${need[@]}"
fi

cargo build --release -p hearth-cli
cargo build --release -p hearth-testkit --example gen

mkdir -p "$work"
exec python3 "$root/benches/peers/peers.py" \
  --work "$work" \
  --hearth "$root/target/release/hearth" \
  --gen "$root/target/release/examples/gen" \
  "${args[@]}"
