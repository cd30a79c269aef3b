#!/usr/bin/env python3
"""Side-by-side benchmark of hearth, restic and borg on one generated household (issue 7).

Called by run.sh, which builds hearth and the test kit's `gen` example and installs the peers.

Per repetition, every tool gets a fresh repository and cache, and the phases run phase by
phase, the tools taking turns within each phase (their order rotates from one repetition to
the next), all on the same source folder:

  a  first backup of the whole household (3 device folders)
  b  backup of the unchanged household
  c  backup of the second day: `gen SRC --day 1` edits the folder in place (about 2% of files
     changed, added or deleted, rows inserted and updated in the SQLite databases), as a
     nightly MobileSync backup would, so unchanged files keep their inode and ctime
  d  restore of the first (largest) device from the newest snapshot
  e  forget of day 1 (keep the last snapshot) plus prune

Before each timed command: `sync`, then every source file is read once (warm page cache for
every tool). Each command runs under /usr/bin/time -v: wall (monotonic clock), user + sys CPU
and peak RSS ("Maximum resident set size"); the repository's `du -sb` is taken after each phase.
Medians over the repetitions go into the table; raw results into WORK/results.json.
"""

import argparse
import datetime
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
    ("first", "a. first backup"),
    ("unchanged", "b. unchanged backup"),
    ("day2", "c. day-2 backup"),
    ("restore", "d. restore 1 device"),
    ("prune", "e. forget day 1 + prune"),
]
PASSWORD = "correct horse battery staple"


def log(msg):
    print(msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def du(path):
    if not Path(path).exists():
        return 0
    out = subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def warm(src):
    """Read every file of the source once so that all tools start from a warm page cache."""
    for root, _dirs, files in os.walk(src):
        for f in files:
            with open(os.path.join(root, f), "rb", buffering=0) as fh:
                while fh.read(4 << 20):
                    pass


def timed(cmd, env, cwd, logfile, ok_codes=(0,)):
    """Run cmd under /usr/bin/time -v; return wall, user, sys, maxrss (bytes)."""
    tfile = str(logfile) + ".time"
    start = time.monotonic()
    with open(logfile, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        rc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", tfile] + cmd,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
    wall = time.monotonic() - start
    text = Path(tfile).read_text()
    if rc not in ok_codes:
        raise RuntimeError(f"{cmd[0]} exited {rc}; see {logfile}")

    def field(name):
        m = re.search(re.escape(name) + r":\s*([0-9.]+)", text)
        return float(m.group(1))

    return {
        "wall": wall,
        "user": field("User time (seconds)"),
        "sys": field("System time (seconds)"),
        "maxrss": int(field("Maximum resident set size (kbytes)")) * 1024,
        "rc": rc,
    }


class Tool:
    name = ""

    def __init__(self, work, src, args):
        self.work = work
        self.src = src
        self.args = args
        self.repo = work / "repos" / self.name
        self.cache = work / "caches" / self.name
        self.home = work / "home" / self.name
        self.out = work / "restored" / self.name
        self.logfile = work / "logs" / f"{self.name}.log"

    def reset(self):
        for p in (self.repo, self.cache, self.home):
            shutil.rmtree(p, ignore_errors=True)
        trash(self.work, self.out)
        self.cache.mkdir(parents=True)
        self.home.mkdir(parents=True)
        self.repo.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)

    def base_env(self):
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.cache),
            "LANG": "C.UTF-8",
        }

    def run(self, cmd, cwd=None, ok_codes=(0,)):
        return timed(cmd, self.env(), cwd or self.work, self.logfile, ok_codes)

    def restored_device(self, udid):
        """Where the restored device folder ends up."""
        raise NotImplementedError


class Hearth(Tool):
    name = "hearth"

    def env(self):
        e = self.base_env()
        e.update(
            HEARTH_REPO=str(self.repo),
            HEARTH_PASSWORD=PASSWORD,
            HEARTH_CACHE_DIR=str(self.cache),
        )
        return e

    def init(self):
        self.run([self.args.hearth, "init"])

    def backup(self, label):
        return self.run([self.args.hearth, "backup", str(self.src)])

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return self.run([self.args.hearth, "restore", f"{udid}@latest", "--out", str(self.out)])

    def restored_device(self, udid):
        return self.out / udid

    def prune(self):
        return [self.run([self.args.hearth, "forget", "--keep-last", "1", "--prune"])]

    def version(self):
        return subprocess.run([self.args.hearth, "--version"], capture_output=True, text=True).stdout.strip()


class Restic(Tool):
    name = "restic"

    def env(self):
        e = self.base_env()
        e.update(
            RESTIC_REPOSITORY=str(self.repo),
            RESTIC_PASSWORD_FILE=str(self.work / "password"),
            RESTIC_CACHE_DIR=str(self.cache),
        )
        return e

    def init(self):
        self.run(["restic", "init"])

    def backup(self, label):
        return self.run(["restic", "backup", str(self.src)])

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return self.run(
            ["restic", "restore", "latest", "--target", str(self.out), "--include", str(self.src / udid)]
        )

    def restored_device(self, udid):
        return self.out / str(self.src / udid).lstrip("/")

    def prune(self):
        return [self.run(["restic", "forget", "--keep-last", "1", "--prune"])]

    def version(self):
        return subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()


class Borg(Tool):
    name = "borg"

    def env(self):
        e = self.base_env()
        e.update(
            BORG_REPO=str(self.repo),
            BORG_PASSPHRASE=PASSWORD,
            BORG_BASE_DIR=str(self.cache),
        )
        return e

    def init(self):
        self.run(["borg", "init", "-e", "repokey"])

    def backup(self, label):
        # exit 1 is borg's "warning" (e.g. a file changed while read): the archive is complete
        return self.run(["borg", "create", "-C", "lz4", f"::{label}", str(self.src)], ok_codes=(0, 1))

    def restore(self, udid):
        self.out.mkdir(parents=True)
        return self.run(
            ["borg", "extract", "::day2", str(self.src / udid).lstrip("/")], cwd=self.out
        )

    def restored_device(self, udid):
        return self.out / str(self.src / udid).lstrip("/")

    def prune(self):
        return [self.run(["borg", "prune", "--keep-last", "1"]), self.run(["borg", "compact"])]

    def version(self):
        return subprocess.run(["borg", "--version"], capture_output=True, text=True).stdout.strip()


TOOLS = {"hearth": Hearth, "restic": Restic, "borg": Borg}


def combine(runs):
    return {
        "wall": sum(r["wall"] for r in runs),
        "cpu": sum(r["user"] + r["sys"] for r in runs),
        "user": sum(r["user"] for r in runs),
        "sys": sum(r["sys"] for r in runs),
        "maxrss": max(r["maxrss"] for r in runs),
        "commands": runs,
    }


def trash(work, path):
    """Moves a tree of many files aside instead of deleting it; the trash is emptied when the
    run ends. On ext4 without a journal (this machine's disk), creating files just after
    thousands were deleted makes the kernel scan past every recently deleted inode
    (`recently_deleted()` in the inode allocator): a restore right after another tool's
    restore was deleted took up to twice the CPU, so the order of the tools decided a result."""
    if path.exists():
        dest = work / "trash" / f"{time.monotonic_ns()}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


def household(args, work):
    """Generate day 1 (and a day-2 reference) once; reused while the stamp matches."""
    hh = work / f"household-{args.bytes}"
    stamp = hh / "stamp.json"
    want = {"bytes": args.bytes, "gen": "bench", "day": 1}
    if not args.regen and stamp.exists() and json.loads(stamp.read_text()) == want:
        log(f"household: reusing {hh}")
    else:
        shutil.rmtree(hh, ignore_errors=True)
        hh.mkdir(parents=True)
        log(f"household: generating {args.bytes} bytes into {hh}")
        sh([args.gen, str(hh / "day1"), "bench", str(args.bytes)])
        sh(["cp", "-a", str(hh / "day1"), str(hh / "day2")])
        sh([args.gen, str(hh / "day2"), "--day", "1"])
        stamp.write_text(json.dumps(want))
    return hh


def devices(day1):
    """Device folders, largest first."""
    ds = [p for p in day1.iterdir() if p.is_dir()]
    return sorted(ds, key=lambda p: -du(p))


def median_table(results, tools):
    med = {}
    for t in tools:
        med[t] = {}
        for key, _ in PHASES:
            reps = [r[t][key] for r in results]
            med[t][key] = {
                m: statistics.median(x[m] for x in reps) for m in ("wall", "cpu", "maxrss", "repo")
            }
        growth = [r[t]["day2"]["repo"] - r[t]["unchanged"]["repo"] for r in results]
        med[t]["growth"] = statistics.median(growth)
    return med


def fmt_bytes(n):
    return f"{n / 1e6:,.1f} MB"


def report(med, tools, meta):
    lines = []
    peers = [t for t in tools if t != "hearth"]
    lines.append(
        f"{meta['bytes_total'] / 1e6:,.0f} MB household, {meta['files']} files, {meta['reps']} repetition(s), medians"
    )
    lines.append("")
    head = "| phase | metric | " + " | ".join(tools) + " | " + " | ".join(f"{p} / hearth" for p in peers) + " |"
    lines.append(head)
    lines.append("|" + "---|" * (2 + len(tools) + len(peers)))
    for key, label in PHASES:
        for metric, unit in (("wall", "s"), ("cpu", "s"), ("maxrss", "MB"), ("repo", "MB")):
            vals = [med[t][key][metric] for t in tools]
            if metric in ("maxrss", "repo"):
                cells = [f"{v / 1e6:,.1f}" for v in vals]
            else:
                cells = [f"{v:.2f}" for v in vals]
            h = med["hearth"][key][metric] if "hearth" in med else None
            ratios = []
            for p in peers:
                pv = med[p][key][metric]
                ratios.append(f"{pv / h:.2f}x" if h else "-")
            name = {"wall": "wall s", "cpu": "CPU s", "maxrss": "peak RSS MB", "repo": "repo MB"}[metric]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    cells = [f"{med[t]['growth'] / 1e6:,.1f}" for t in tools]
    ratios = []
    for p in peers:
        ratios.append(f"{med[p]['growth'] / med['hearth']['growth']:.2f}x" if "hearth" in med and med["hearth"]["growth"] else "-")
    lines.append("| c. day-2 backup | repo growth MB | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return lines


def targets(med):
    """Issue 7's targets; each as (text, met, detail)."""
    if "hearth" not in med:
        return []
    h = med["hearth"]
    out = []

    def speed(key, peer, factor, label):
        if peer not in med:
            return
        r = med[peer][key]["wall"] / h[key]["wall"]
        out.append((f"{label}: >= {factor}x faster than {peer}", r >= factor, f"{r:.2f}x ({med[peer][key]['wall']:.2f} s vs {h[key]['wall']:.2f} s)"))

    speed("first", "restic", 4, "first backup")
    speed("first", "borg", 4, "first backup")
    speed("day2", "restic", 4, "day-2 backup")
    if "restic" in med:
        g, rg = h["growth"], med["restic"]["growth"]
        out.append(("day-2 repo growth <= half of restic's", g <= rg / 2, f"{g / 1e6:.1f} MB vs {rg / 1e6:.1f} MB ({g / rg:.2f} of restic's)"))
    speed("unchanged", "restic", 5, "unchanged backup")
    speed("restore", "restic", 3, "restore")
    if "restic" in med:
        r = med["restic"]["prune"]["wall"] / h["prune"]["wall"]
        out.append(("forget + prune no slower than restic", r >= 1, f"{r:.2f}x ({med['restic']['prune']['wall']:.2f} s vs {h['prune']['wall']:.2f} s)"))
    peers = [t for t in med if t != "hearth"]
    if peers:
        for key, label in (("first", "after the first backup"), ("day2", "after day 2"), ("prune", "after prune")):
            smallest = min(peers, key=lambda p: med[p][key]["repo"])
            s = med[smallest][key]["repo"]
            out.append((f"repository {label} no larger than the smallest peer's ({smallest})", h[key]["repo"] <= s, f"{h[key]['repo'] / 1e6:,.1f} MB vs {s / 1e6:,.1f} MB ({h[key]['repo'] / s:.3f}x)"))
        for key, label in PHASES:
            lowest = min(peers, key=lambda p: med[p][key]["maxrss"])
            m = med[lowest][key]["maxrss"]
            out.append((f"peak memory, {label}: below every peer's ({lowest})", h[key]["maxrss"] < m, f"{h[key]['maxrss'] / 1e6:.1f} MB vs {m / 1e6:.1f} MB"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=int, default=1_500_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--tools", default="hearth,restic,borg")
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--regen", action="store_true", help="generate the household again")
    ap.add_argument("--no-verify", action="store_true", help="skip diff -r of restored device")
    args = ap.parse_args()
    tools = args.tools.split(",")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "password").write_text(PASSWORD + "\n")
    hh = household(args, work)
    day1, day2 = hh / "day1", hh / "day2"
    devs = devices(day1)
    restore_udid = devs[0].name
    files = sum(len(f) for _, _, f in os.walk(day1))
    src = work / "src"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?"),
        "kernel": platform.release(),
        "hearth_commit": subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip(),
        "bytes_requested": args.bytes,
        "bytes_total": du(day1),
        "bytes_day2": du(day2),
        "files": files,
        "devices": [{"udid": d.name, "bytes": du(d)} for d in devs],
        "restore_device": restore_udid,
        "restore_bytes": du(devs[0]),
        "reps": args.reps,
        "tools": tools,
    }
    objs = {t: TOOLS[t](work, src, args) for t in tools}
    meta["versions"] = {t: objs[t].version() for t in tools}
    log(json.dumps(meta, indent=1))
    results = []
    t0 = time.monotonic()
    for rep in range(args.reps):
        order = tools[rep % len(tools):] + tools[: rep % len(tools)]
        log(f"== repetition {rep + 1}/{args.reps}, order {order}")
        trash(work, src)
        sh(["cp", "-a", str(day1), str(src)])
        for t in order:
            objs[t].reset()
            objs[t].init()
        rep_res = {t: {} for t in tools}
        rep_res["load"] = {}
        for key, label in PHASES:
            if key == "day2":
                sh([args.gen, str(src), "--day", "1"], stdout=subprocess.DEVNULL)
                # every tool sees the same bytes as the cached day-2 reference
                sh(["diff", "-rq", str(src), str(day2)])
            for t in order:
                tool = objs[t]
                sh(["sync"])
                warm(src)
                load = loadavg()
                if key in ("first", "unchanged", "day2"):
                    r = combine([tool.backup(key)])
                elif key == "restore":
                    trash(work, tool.out)
                    r = combine([tool.restore(restore_udid)])
                    if not args.no_verify:
                        sh(["diff", "-r", str(tool.restored_device(restore_udid)), str(src / restore_udid)])
                    trash(work, tool.out)
                else:
                    r = combine(tool.prune())
                r["repo"] = du(tool.repo)
                r["cache"] = du(tool.cache)
                r["load"] = load
                rep_res[t][key] = r
                log(
                    f"  {label:<24} {t:<7} wall {r['wall']:7.2f} s  cpu {r['cpu']:7.2f} s  "
                    f"peak {r['maxrss'] / 1e6:7.1f} MB  repo {r['repo'] / 1e6:9.1f} MB  load {load:.2f}"
                )
        results.append(rep_res)
        (work / "results.json").write_text(json.dumps({"meta": meta, "reps": results}, indent=1))
    meta["elapsed_s"] = time.monotonic() - t0
    shutil.rmtree(work / "trash", ignore_errors=True)
    med = median_table(results, tools)
    tg = targets(med)
    lines = report(med, tools, meta)
    lines.append("")
    lines.append("Targets (issue 7):")
    for text, met, detail in tg:
        lines.append(f"- {'MET   ' if met else 'MISSED'} {text}: {detail}")
    text = "\n".join(lines)
    print()
    print(text)
    (work / "results.json").write_text(
        json.dumps(
            {"meta": meta, "reps": results, "medians": med, "targets": [{"target": a, "met": b, "detail": c} for a, b, c in tg]},
            indent=1,
        )
    )
    (work / "report.md").write_text(text + "\n")
    log(f"\nraw results: {work / 'results.json'}; table: {work / 'report.md'}; {meta['elapsed_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
