#!/usr/bin/env bash
# Side-by-side benchmark: hearth, restic, borg and rustic on the same generated household
# (issues 7 and 13). See peers.py's docs for what is measured and how.
#
#   benches/peers/run.sh [--household bench|real] [--bytes N] [--files N] [--reps N]
#                        [--cache cold,warm] [--work DIR] [--households-dir DIR]
#                        [--tools hearth,restic,borg,rustic] [--floors] [--memory] [--regen]
#
# Defaults: the 1.5 GB bench household, --reps 3, --cache cold,warm, --work target/peers.
# Builds hearth (release), the test kit's `gen` example and (with --floors) the `floors`
# report; installs restic, borg and GNU time with apt if missing; builds rustic once with
# `cargo install rustic-rs --locked` into ~/.cache/hearth-bench/rustic (outside the repository;
# if that fails, rustic is left out with a note). Then runs benches/peers/peers.py, which
# prints the tables and writes WORK/results.json and WORK/report.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

work=target/peers
tools=hearth,restic,borg,rustic
floors=0
memory=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    --tools) tools=$2; shift 2 ;;
    --floors) floors=1; shift ;;
    --memory) memory=1; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "$memory" -eq 1 ] && tools=hearth

need=()
case ",$tools," in *,restic,*) command -v restic >/dev/null || need+=(restic) ;; esac
case ",$tools," in *,borg,*) command -v borg >/dev/null || need+=(borgbackup) ;; esac
[ -x /usr/bin/time ] || need+=(time)
command -v diff >/dev/null || need+=(diffutils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y "${need[@]}"
fi

rustic_root="${HEARTH_BENCH_CACHE:-$HOME/.cache/hearth-bench}/rustic"
case ",$tools," in
  *,rustic,*)
    if [ ! -x "$rustic_root/bin/rustic" ]; then
      echo "building rustic once into $rustic_root (cargo install rustic-rs --locked; several minutes)"
      cargo install rustic-rs --locked --root "$rustic_root" ||
        echo "note: rustic did not build; the benchmark runs without it"
    fi
    [ -x "$rustic_root/bin/rustic" ] && args+=(--rustic "$rustic_root/bin/rustic")
    ;;
esac

cargo build --release -p hearth-cli
cargo build --release -p hearth-testkit --example gen
if [ "$floors" -eq 1 ]; then
  cargo build --release -p hearth-benches --bin floors
  args+=(--floors "$root/target/release/floors")
fi

mkdir -p "$work"
exec python3 "$root/benches/peers/peers.py" \
  --work "$work" \
  --tools "$tools" \
  --hearth "$root/target/release/hearth" \
  --gen "$root/target/release/examples/gen" \
  "${args[@]}"
