#!/usr/bin/env python3
"""Side-by-side benchmark of hearth, restic, borg and rustic on one generated household.

Called by run.sh, which builds hearth, the test kit's `gen` example and the `floors` report,
and installs the peers. Standard library only.

The household: `gen DIR bench BYTES` (issue 7's 1.5 GB preset) or, with `--household real`,
`gen DIR real BYTES FILES` (issue 13: 8.5 GB, 195,000 files over three devices). It is
generated once into `--households-dir` (default WORK/households; put it outside the
repository, e.g. /work/hh) and reused while its stamp matches.

A *run* is one pass over the phases with fresh repositories and caches for every tool and a
fresh copy of day 1 (`cp -a`), all tools on the same source folder:

  first      first backup of the whole household (3 device folders)
  unchanged  backup of the unchanged household
  day2       backup of the second day: `gen SRC --day 1` edits the folder in place (about 2% of
             files changed, added or deleted; rows inserted and updated in the SQLite
             databases), as a nightly MobileSync backup would, so unchanged files keep their
             inode and ctime
  restore    restore of the largest device from the newest snapshot, compared with the source
             (`diff -r`)
  check      check reading every stored byte (`check --read-data`; borg `check --verify-data`)
  prune      forget of day 1 (keep the last snapshot) plus prune
  stats      `hearth stats` (hearth only: the peers' counterparts answer other questions)

Within a phase the tools take turns; their order rotates from one run to the next. Each run is
made with one page-cache state, and every `--cache` state gets `--reps` runs:

  cold  `sync`, then `echo 3 > /proc/sys/vm/drop_caches` before every timed command: what a
        nightly backup and a restore meet (needs root; refused up front otherwise)
  warm  `sync`, then every file the command reads is read once before it: for a backup the
        tool's repository and cache, then the source (the source last, so it is what the page
        cache keeps if not everything fits); for the other phases the repository and cache

Each command runs under GNU time (`/usr/bin/time -v`): wall (monotonic clock around it), user +
sys CPU, peak RSS ("Maximum resident set size"). `du -sb` of the repository after each phase.
The tables give medians over the runs of one cache state and, per phase, the fastest peer's
time over hearth's (above 1: hearth is faster); the repository's size after day 1, its growth on
day 2, and hearth's growth over restic's. Raw figures go to WORK/results.json, the tables to
WORK/report.md.

`--memory` runs hearth alone (no cache preparation, one run unless `--reps`) on the `--household real` household
and on a 1,000,000-file one (`gen real 4_000_000_000 1_000_000`) and prints each phase's peak RSS
side by side.

`--floors` builds a hearth repository of day 1 and day 2 of the household and runs
`floors` (benches/src/bin/floors/main.rs) on it; its cold and warm floors go beside hearth's medians
(hearth's time / floor; issue 13 asks for 1.3x at most).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PHASES = [
    ("first", "first backup"),
    ("unchanged", "unchanged backup"),
    ("day2", "day-2 backup"),
    ("restore", "restore 1 device"),
    ("check", "check --read-data"),
    ("prune", "forget day 1 + prune"),
    ("stats", "stats"),
]
BACKUPS = ("first", "unchanged", "day2")
PASSWORD = "correct horse battery staple"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def log(msg):
    print(msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def du(path):
    if not Path(path).exists():
        return 0
    out = subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def files_under(root):
    for base, _dirs, files in os.walk(root):
        for f in files:
            yield os.path.join(base, f)


def read_all(paths):
    """Reads every file under each path once (into the page cache)."""
    for p in paths:
        for f in files_under(p):
            try:
                with open(f, "rb", buffering=0) as fh:
                    while fh.read(4 << 20):
                        pass
            except OSError:
                pass  # a lock file that went away meanwhile


def drop_caches():
    sh(["sync"])
    DROP_CACHES.write_text("3\n")


def check_cold_possible():
    try:
        sh(["sync"])
        DROP_CACHES.write_text("3\n")
    except OSError as e:
        sys.exit(
            f"--cache cold needs to write {DROP_CACHES} (root, outside a container that hides it): {e}. "
            "Run as root, or pass --cache warm."
        )


def timed(cmd, env, cwd, logfile, ok_codes=(0,)):
    """Runs cmd under /usr/bin/time -v; returns wall, user, sys, maxrss (bytes)."""
    cmd = [str(c) for c in cmd]
    tfile = str(logfile) + ".time"
    start = time.monotonic()
    with open(logfile, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        rc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", tfile] + cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    wall = time.monotonic() - start
    text = Path(tfile).read_text()
    if rc not in ok_codes:
        raise RuntimeError(f"{cmd[0]} exited {rc}; see {logfile}")

    def field(name):
        return float(re.search(re.escape(name) + r":\s*([0-9.]+)", text).group(1))

    return {
        "wall": wall,
        "user": field("User time (seconds)"),
        "sys": field("System time (seconds)"),
        "maxrss": int(field("Maximum resident set size (kbytes)")) * 1024,
        "rc": rc,
    }


def combine(runs):
    return {
        "wall": sum(r["wall"] for r in runs),
        "cpu": sum(r["user"] + r["sys"] for r in runs),
        "maxrss": max(r["maxrss"] for r in runs),
        "commands": runs,
    }


class Tool:
    name = ""

    def __init__(self, work, src, args):
        self.work, self.src, self.args = work, src, args
        self.repo = work / "repos" / self.name
        self.cache = work / "caches" / self.name
        self.home = work / "home" / self.name
        self.out = work / "restored" / self.name
        self.logfile = work / "logs" / f"{self.name}.log"

    def reset(self):
        for p in (self.repo, self.cache, self.home, self.out):
            shutil.rmtree(p, ignore_errors=True)
        for p in (self.cache, self.home, self.repo.parent, self.logfile.parent):
            p.mkdir(parents=True, exist_ok=True)

    def base_env(self):
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.cache),
            "LANG": "C.UTF-8",
        }

    def run(self, cmd, cwd=None, ok_codes=(0,)):
        return timed(cmd, self.env(), cwd or self.work, self.logfile, ok_codes)

    def stats(self):
        return None

    def version(self):
        cmd = self.version_cmd()
        return subprocess.run(cmd, capture_output=True, text=True, env=self.base_env()).stdout.strip()


class Hearth(Tool):
    name = "hearth"

    def binary(self):
        return self.args.hearth

    def env(self):
        return self.base_env() | {
            "HEARTH_REPO": str(self.repo),
            "HEARTH_PASSWORD": PASSWORD,
            "HEARTH_CACHE_DIR": str(self.cache),
        }

    def init(self):
        self.run([self.binary(), "init"])

    def backup(self, label):
        return [self.run([self.binary(), "backup", self.src])]

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return [self.run([self.binary(), "restore", f"{udid}@latest", "--out", self.out])]

    def restored_device(self, udid):
        return self.out / udid

    def check(self):
        return [self.run([self.binary(), "check", "--read-data"])]

    def prune(self):
        return [self.run([self.binary(), "forget", "--keep-last", "1", "--prune"])]

    def stats(self):
        return [self.run([self.binary(), "stats"])]

    def version_cmd(self):
        return [self.binary(), "--version"]


class HearthBefore(Hearth):
    """Another build of hearth (`--hearth-before`), side by side with this one: a change's
    before and after in the same runs."""

    name = "hearth-before"

    def binary(self):
        return self.args.hearth_before


class Restic(Tool):
    name = "restic"
    binary = "restic"

    def env(self):
        return self.base_env() | {
            "RESTIC_REPOSITORY": str(self.repo),
            "RESTIC_PASSWORD_FILE": str(self.work / "password"),
            "RESTIC_CACHE_DIR": str(self.cache),
        }

    def init(self):
        self.run([self.binary, "init"])

    def backup(self, label):
        return [self.run([self.binary, "backup", self.src])]

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return [self.run([self.binary, "restore", "latest", "--target", self.out, "--include", self.src / udid])]

    def restored_device(self, udid):
        return self.out / str(self.src / udid).lstrip("/")

    def check(self):
        return [self.run([self.binary, "check", "--read-data"])]

    def prune(self):
        return [self.run([self.binary, "forget", "--keep-last", "1", "--prune"])]

    def version_cmd(self):
        return [self.binary, "version"]


class Rustic(Restic):
    """rustic-rs, built once by run.sh into ~/.cache/hearth-bench/rustic (an external program)."""

    name = "rustic"

    def __init__(self, work, src, args):
        super().__init__(work, src, args)
        self.binary = args.rustic

    def env(self):
        return self.base_env() | {
            "RUSTIC_REPOSITORY": str(self.repo),
            "RUSTIC_PASSWORD_FILE": str(self.work / "password"),
            "RUSTIC_CACHE_DIR": str(self.cache),
            "RUSTIC_NO_PROGRESS": "true",
        }

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return [self.run([self.binary, "restore", f"latest:{self.src / udid}", self.out])]

    def restored_device(self, udid):
        return self.out

    def version_cmd(self):
        return [self.binary, "--version"]


class Borg(Tool):
    name = "borg"

    def env(self):
        return self.base_env() | {
            "BORG_REPO": str(self.repo),
            "BORG_PASSPHRASE": PASSWORD,
            "BORG_BASE_DIR": str(self.cache),
        }

    def init(self):
        self.run(["borg", "init", "-e", "repokey"])

    def backup(self, label):
        # exit 1 is borg's "warning" (e.g. a file changed while read): the archive is complete
        return [self.run(["borg", "create", "-C", "lz4", f"::{label}", self.src], ok_codes=(0, 1))]

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return [self.run(["borg", "extract", "::day2", str(self.src / udid).lstrip("/")], cwd=self.out)]

    def restored_device(self, udid):
        return self.out / str(self.src / udid).lstrip("/")

    def check(self):
        return [self.run(["borg", "check", "--verify-data"])]

    def prune(self):
        return [self.run(["borg", "prune", "--keep-last", "1"]), self.run(["borg", "compact"])]

    def version_cmd(self):
        return ["borg", "--version"]


TOOLS = {
    "hearth": Hearth,
    "hearth-before": HearthBefore,
    "restic": Restic,
    "borg": Borg,
    "rustic": Rustic,
}


def trash(work, path):
    """Moves a tree of many files aside instead of deleting it; the trash is emptied after the
    restore phase and when the run ends. On ext4 without a journal (this machine's disk),
    creating files just after thousands were deleted makes the kernel scan past every recently deleted inode
    (`recently_deleted()` in the inode allocator): a restore right after another tool's
    restore was deleted took up to twice the CPU, so the order of the tools decided a result."""
    if path.exists():
        dest = work / "trash" / f"{time.monotonic_ns()}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)


def empty_trash(work):
    shutil.rmtree(work / "trash", ignore_errors=True)


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


class Household:
    """Day 1 generated once under the households folder, and a fingerprint of day 2 (every
    file's size; a BLAKE2 digest of each file day 2 added or changed) so that every run can
    check that `gen --day 1` made the same bytes, without keeping a second copy of the
    household on disk."""

    def __init__(self, args, kind, nbytes, nfiles):
        self.args, self.kind, self.bytes, self.files_wanted = args, kind, nbytes, nfiles
        name = f"{kind}-{nbytes}" + (f"-{nfiles}" if kind == "real" else "")
        self.dir = Path(args.households_dir).resolve() / name
        self.day1 = self.dir / "day1"
        self.day2_print = self.dir / "day2.json"

    def ensure(self):
        stamp = self.dir / "stamp.json"
        want = {"kind": self.kind, "bytes": self.bytes, "files": self.files_wanted, "layout": 2}
        if not self.args.regen and stamp.exists() and json.loads(stamp.read_text()) == want:
            log(f"household: reusing {self.day1}")
            return self
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        spec = ["bench", self.bytes] if self.kind == "bench" else ["real", self.bytes, self.files_wanted]
        log(f"household: generating {' '.join(map(str, spec))} into {self.day1}")
        sh([self.args.gen, self.day1] + spec, stdout=subprocess.DEVNULL)
        sh(["sync"])
        stamp.write_text(json.dumps(want))
        return self

    def devices(self):
        """Device folders, largest first."""
        return sorted((p for p in self.day1.iterdir() if p.is_dir()), key=lambda p: -du(p))

    def fresh_source(self, work):
        src = work / "src"
        shutil.rmtree(src, ignore_errors=True)  # before the copy, so two never fill the disk
        sh(["cp", "-a", self.day1, src])
        return src

    def make_day2(self, src):
        """Applies night 1 to `src` and checks it against the fingerprint (made by the first run)."""
        sh([self.args.gen, src, "--day", "1"], stdout=subprocess.DEVNULL)
        got = fingerprint(src, self.day1)
        if not self.day2_print.exists():
            self.day2_print.write_text(json.dumps(got))
        elif json.loads(self.day2_print.read_text()) != got:
            raise RuntimeError(f"gen --day 1 made other bytes than the first time ({self.day2_print})")


def fingerprint(day2, day1):
    out = {}
    for f in sorted(files_under(day2)):
        rel = os.path.relpath(f, day2)
        st = os.stat(f)
        entry = [st.st_size]
        try:
            old = os.stat(os.path.join(day1, rel))
            same = (old.st_size, old.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            same = False
        if not same:
            h = hashlib.blake2b()
            with open(f, "rb") as fh:
                while chunk := fh.read(4 << 20):
                    h.update(chunk)
            entry.append(h.hexdigest())
        out[rel] = entry
    return out


def prepare_cache(mode, tool, key):
    """The page-cache state of `mode` before a timed command (see the module docs)."""
    if mode == "cold":
        drop_caches()
        return
    sh(["sync"])
    if mode == "asis":
        return  # --memory: peak RSS does not depend on the page cache
    if key in BACKUPS:
        read_all([tool.repo, tool.cache, tool.src])
    else:
        read_all([tool.repo, tool.cache])


def run_phase(tool, key, label, restore_udid, verify):
    if key in BACKUPS:
        return tool.backup(label)
    if key == "restore":
        trash(tool.work, tool.out)
        cmds = tool.restore(restore_udid)
        if verify:
            sh(["diff", "-r", tool.restored_device(restore_udid), tool.src / restore_udid])
        trash(tool.work, tool.out)
        return cmds
    return {"check": tool.check, "prune": tool.prune, "stats": tool.stats}[key]()


def one_run(hh, work, tools, objs, mode, order, restore_udid, verify):
    """One pass over the phases, every tool on fresh repositories, in one cache state."""
    src = hh.fresh_source(work)
    for t in order:
        objs[t].src = src
        objs[t].reset()
        objs[t].init()
    res = {t: {} for t in tools}
    for key, label in PHASES:
        if key == "day2":
            hh.make_day2(src)
        for t in order:
            tool = objs[t]
            prepare_cache(mode, tool, key)
            load = loadavg()
            cmds = run_phase(tool, key, key, restore_udid, verify)
            if cmds is None:
                continue
            r = combine(cmds)
            r.update(repo=du(tool.repo), cache=du(tool.cache), load=load)
            res[t][key] = r
            log(
                f"  {mode:<4} {label:<22} {t:<7} wall {r['wall']:8.2f} s  cpu {r['cpu']:8.2f} s  "
                f"peak {r['maxrss'] / 2**20:7.1f} MiB  repo {r['repo'] / 1e6:9.1f} MB  load {load:.2f}"
            )
        if key == "restore":
            empty_trash(work)  # every tool has restored: the restored trees may go now
    empty_trash(work)
    return res


def clean(work, objs):
    """Frees the disk when a suite ends: the source copy, repositories and caches (the
    household, the logs and the results stay)."""
    shutil.rmtree(work / "src", ignore_errors=True)
    for tool in objs.values():
        tool.reset()


def suite(args, hh, tools, modes, reps, work):
    """Every cache state `reps` times; returns (meta, runs) with runs[mode] = list of results."""
    work.mkdir(parents=True, exist_ok=True)
    devs = hh.devices()
    restore_udid = devs[0].name
    objs = {t: TOOLS[t](work, None, args) for t in tools}
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": next(
            (l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")),
            "?",
        ),
        "kernel": platform.release(),
        "hearth_commit": subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip(),
        "household": {"kind": hh.kind, "bytes_requested": hh.bytes, "files_requested": hh.files_wanted},
        "bytes_total": du(hh.day1),
        "files": sum(1 for _ in files_under(hh.day1)),
        "devices": [{"udid": d.name, "bytes": du(d)} for d in devs],
        "restore_device": restore_udid,
        "restore_bytes": du(devs[0]),
        "reps": reps,
        "modes": modes,
        "tools": tools,
        "versions": {t: objs[t].version() for t in tools},
    }
    log(json.dumps(meta, indent=1))
    runs = {m: [] for m in modes}
    n = 0
    for rep in range(reps):
        for mode in modes:
            order = tools[n % len(tools):] + tools[: n % len(tools)]
            n += 1
            log(f"== {mode} run {rep + 1}/{reps}, order {order}")
            runs[mode].append(one_run(hh, work, tools, objs, mode, order, restore_udid, not args.no_verify))
            (work / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    clean(work, objs)
    return meta, runs


def medians(runs, tools):
    """med[tool][phase][metric] over the runs of one cache state; plus day-2 growth."""
    med = {}
    for t in tools:
        med[t] = {}
        for key, _ in PHASES:
            reps = [r[t][key] for r in runs if key in r[t]]
            if reps:
                med[t][key] = {m: statistics.median(x[m] for x in reps) for m in ("wall", "cpu", "maxrss", "repo")}
        med[t]["growth"] = statistics.median(r[t]["day2"]["repo"] - r[t]["unchanged"]["repo"] for r in runs)
    return med


def mb(n):
    return f"{n / 1e6:,.1f}"


def mib(n):
    return f"{n / 2**20:,.1f}"


def report(meta, runs, tools, floors=None):
    peers = [t for t in tools if t != "hearth"]
    lines = [
        f"{meta['bytes_total'] / 1e6:,.0f} MB household ({meta['household']['kind']}), {meta['files']:,} files, "
        f"{len(meta['devices'])} devices; restore of {meta['restore_bytes'] / 1e6:,.0f} MB; "
        f"medians of {meta['reps']} run(s) per cache state",
        "",
    ]
    loads = [r[t][k]["load"] for rs in runs.values() for r in rs for t in tools for k in r[t]]
    if loads:
        lines += [f"1-minute load average before the commands: {min(loads):.2f}-{max(loads):.2f} ({meta['nproc']} cores)", ""]
    if meta["reps"] < 3:
        lines += ["(fewer than 3 runs: these are not the medians issue 13 asks for)", ""]
    for mode, rs in runs.items():
        if not rs:
            continue
        med = medians(rs, tools)
        lines.append(f"### {mode} page cache: wall seconds (CPU seconds)")
        lines.append("")
        head = ["phase"] + tools + (["fastest peer / hearth"] if peers and "hearth" in tools else [])
        if floors and "hearth" in tools:
            head += ["floor s", "hearth / floor"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for key, label in PHASES:
            if not any(key in med[t] for t in tools):
                continue
            cells = [label]
            for t in tools:
                m = med[t].get(key)
                cells.append(f"{m['wall']:.2f} ({m['cpu']:.2f})" if m else "-")
            h = med.get("hearth", {}).get(key)
            if peers and "hearth" in tools:
                timed_peers = [p for p in peers if key in med[p]]
                if h and timed_peers:
                    best = min(timed_peers, key=lambda p: med[p][key]["wall"])
                    cells.append(f"{med[best][key]['wall'] / h['wall']:.2f}x ({best})")
                else:
                    cells.append("-")
            if floors and "hearth" in tools:
                f = floors.get(key, {}).get(mode)
                cells += [f"{f:.2f}", f"{h['wall'] / f:.2f}x"] if f and h else ["-", "-"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Peak RSS, MiB ({mode}):")
        lines.append("")
        lines.append("| phase | " + " | ".join(tools) + " |")
        lines.append("|" + "---|" * (1 + len(tools)))
        for key, label in PHASES:
            if any(key in med[t] for t in tools):
                lines.append(
                    f"| {label} | " + " | ".join(mib(med[t][key]["maxrss"]) if key in med[t] else "-" for t in tools) + " |"
                )
        lines.append("")
        lines.append(f"Repository, MB ({mode}):")
        lines.append("")
        lines.append("| | " + " | ".join(tools) + (" | hearth / restic |" if "hearth" in tools and "restic" in tools else " |"))
        lines.append("|" + "---|" * (1 + len(tools) + ("hearth" in tools and "restic" in tools)))
        rows = [
            ("after day 1", lambda t: med[t]["first"]["repo"]),
            ("day-2 growth", lambda t: med[t]["growth"]),
            ("after prune", lambda t: med[t]["prune"]["repo"]),
        ]
        for name, get in rows:
            cells = [mb(get(t)) for t in tools]
            if "hearth" in tools and "restic" in tools:
                r = get("restic")
                cells.append(f"{get('hearth') / r:.2f}" if r else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        if "hearth" in tools:
            lines += targets(med["hearth"], med.get("restic"), floors, mode)
    return lines


def targets(h, restic, floors, mode):
    """Issue 13's measurable targets, met or missed, for one cache state."""
    out = [f"Issue 13's targets ({mode}):", ""]

    def line(ok, text):
        out.append(f"- {'MET   ' if ok else 'MISSED'} {text}")

    worst = max((k for k, _ in PHASES if k in h), key=lambda k: h[k]["maxrss"])
    line(h[worst]["maxrss"] < 100 * 2**20, f"peak RSS below 100 MiB in every phase (highest: {worst}, {mib(h[worst]['maxrss'])} MiB)")
    if restic and restic["growth"]:
        g = h["growth"] / restic["growth"]
        line(g <= 0.5, f"day-2 growth at most 0.5 of restic's: {g:.2f}")
    for key, label in PHASES:
        f = (floors or {}).get(key, {}).get(mode)
        if f and key in h:
            r = h[key]["wall"] / f
            line(r <= 1.3, f"{label} within 1.3x of its floor: {r:.2f}x ({h[key]['wall']:.2f} s / {f:.2f} s)")
    out.append("")
    return out


def run_floors(args, hh, work):
    """A hearth repository of day 1 and day 2, then the floors report on it; returns
    {phase: {mode: seconds}} and the report's text."""
    fw = work / "floors"
    trash(work, fw)
    fw.mkdir(parents=True)
    tool = Hearth(fw, None, args)
    tool.src = hh.fresh_source(fw)
    tool.reset()
    tool.init()
    tool.backup("first")
    hh.make_day2(tool.src)
    tool.backup("day2")
    out = fw / "floors.json"
    cmd = [args.floors, "--day1", hh.day1, "--day2", tool.src, "--repo", tool.repo, "--work", fw, "--json", out]
    log("floors: " + " ".join(map(str, cmd)))
    text = subprocess.run(
        [str(c) for c in cmd], check=True, capture_output=True, text=True, env=tool.env() | {"HEARTH_PASSWORD": PASSWORD}
    ).stdout
    log(text)
    data = json.loads(out.read_text())
    floors = {p["phase"]: {"cold": p["cold"]["floor"], "warm": p["warm"]["floor"]} for p in data["phases"]}
    clean(fw, {"hearth": tool})
    empty_trash(fw)
    return floors, text


def memory_mode(args, work):
    """Hearth alone on the real household and on a 1,000,000-file one: peak RSS per phase."""
    households = [
        Household(args, "real", args.bytes, args.files).ensure(),
        Household(args, "real", args.memory_bytes, args.memory_files).ensure(),
    ]
    peaks, metas = [], []
    for hh in households:
        meta, runs = suite(args, hh, ["hearth"], ["asis"], args.reps, work / f"memory-{hh.files_wanted}")
        med = medians(runs["asis"], ["hearth"])["hearth"]
        peaks.append(med)
        metas.append(meta)
    a, b = metas
    lines = [
        f"Peak RSS of hearth per phase (MiB, medians of {args.reps} run(s)):",
        "",
        f"| phase | {a['files']:,} files, {a['bytes_total'] / 1e9:.1f} GB | {b['files']:,} files, "
        f"{b['bytes_total'] / 1e9:.1f} GB | ratio |",
        "|---|---|---|---|",
    ]
    for key, label in PHASES:
        x, y = peaks[0][key]["maxrss"], peaks[1][key]["maxrss"]
        lines.append(f"| {label} | {mib(x)} | {mib(y)} | {y / x:.2f} |")
    text = "\n".join(lines)
    print("\n" + text)
    (work / "memory.md").write_text(text + "\n")
    (work / "memory.json").write_text(json.dumps({"meta": metas, "medians": peaks}, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--household", choices=["bench", "real"], default="bench")
    ap.add_argument("--bytes", type=int, help="default 1_500_000_000 (bench), 8_500_000_000 (real)")
    ap.add_argument("--files", type=int, default=195_000, help="files of a real household")
    ap.add_argument("--reps", type=int, default=3, help="runs per cache state (medians need 3 or more)")
    ap.add_argument("--cache", default="cold,warm", help="page-cache states to run: cold, warm or both")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--households-dir", type=Path, help="where households are generated and kept (default WORK/households)")
    ap.add_argument("--tools", default="hearth,restic,borg,rustic")
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--rustic", help="the rustic binary (rustic is skipped without it)")
    ap.add_argument("--hearth-before", help="another hearth build, the tool hearth-before (--tools hearth,hearth-before)")
    ap.add_argument("--floors", help="the floors binary: measure the floors and put them beside hearth's times")
    ap.add_argument("--memory", action="store_true", help="hearth's peak RSS at 195,000 and 1,000,000 files")
    ap.add_argument("--memory-bytes", type=int, default=4_000_000_000)
    ap.add_argument("--memory-files", type=int, default=1_000_000)
    ap.add_argument("--regen", action="store_true", help="generate the household again")
    ap.add_argument("--no-verify", action="store_true", help="skip diff -r of the restored device")
    args = ap.parse_args()
    if args.bytes is None:
        args.bytes = 8_500_000_000 if args.household == "real" or args.memory else 1_500_000_000
    for name in ("hearth", "hearth_before", "gen", "rustic", "floors"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    modes = [m for m in args.cache.split(",") if m]
    if any(m not in ("cold", "warm") for m in modes) or not modes:
        ap.error("--cache takes cold, warm or cold,warm")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    args.households_dir = args.households_dir or work / "households"
    (work / "password").write_text(PASSWORD + "\n")
    if "cold" in modes and not args.memory:
        check_cold_possible()
    if args.memory:
        args.reps = args.reps if args.reps != 3 else 1
        return memory_mode(args, work)

    tools = [t for t in args.tools.split(",") if t]
    if "rustic" in tools and not (args.rustic and Path(args.rustic).exists()):
        log("note: rustic is not installed (run.sh builds it into ~/.cache/hearth-bench/rustic); running without it")
        tools.remove("rustic")
    for t in tools:
        if t not in TOOLS:
            ap.error(f"unknown tool {t}")
    if "hearth-before" in tools and not args.hearth_before:
        ap.error("the tool hearth-before needs --hearth-before PATH")
    hh = Household(args, args.household, args.bytes, args.files).ensure()
    t0 = time.monotonic()
    floors, floors_text = (run_floors(args, hh, work) if args.floors else (None, ""))
    meta, runs = suite(args, hh, tools, modes, args.reps, work)
    meta["elapsed_s"] = time.monotonic() - t0
    text = "\n".join(report(meta, runs, tools, floors))
    if floors_text:
        text += "\nFloors (benches/src/bin/floors/main.rs):\n\n```\n" + floors_text.strip() + "\n```\n"
    print("\n" + text)
    (work / "results.json").write_text(json.dumps({"meta": meta, "runs": runs, "floors": floors}, indent=1))
    (work / "report.md").write_text(text + "\n")
    log(f"\nraw results: {work / 'results.json'}; tables: {work / 'report.md'}; {meta['elapsed_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
