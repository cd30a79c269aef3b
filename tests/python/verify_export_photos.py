"""Checks a `hearth export photos` folder with readers nobody in this project wrote: Python's
csv and json modules for the manifests, and exiftool for the photos' own dates.

Usage: verify_export_photos.py OUT_DIR

Prints one JSON object:
  rows                  manifest rows (photos.csv and photos.json must list the same)
  files                 files in OUT_DIR besides the manifests and the state file
  by_source             rows per date_source
  exif_agree            files whose exiftool DateTimeOriginal (and OffsetTimeOriginal, when
                        present) equals the manifest's date
  exif_dated_checked    rows dated from EXIF that exiftool confirmed
  exif_differs          [out, exiftool date, manifest date] for photos dated otherwise (their
                        Photos.sqlite date) whose EXIF says something else
  live_pairs            Live Photo videos whose still shares their name and date
  problems              everything that is wrong (empty when all is well)
"""

import csv
import datetime as dt
import json
import os
import subprocess
import sys

SKIP = {"photos.csv", "photos.json", ".hearth-export-photos.json"}


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), root)
            if rel not in SKIP:
                out.append(rel)
    return sorted(out)


def parse_date(text):
    """RFC 3339 as the manifest writes it: wall time and offset, or Z."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t


def exiftool(root, rels):
    if not rels:
        return {}
    cmd = ["exiftool", "-json", "-n", "-DateTimeOriginal", "-OffsetTimeOriginal", "-q", "-q"]
    cmd += [os.path.join(root, r) for r in rels]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if not done.stdout.strip():
        return {}
    out = {}
    for item in json.loads(done.stdout):
        rel = os.path.relpath(item["SourceFile"], root)
        out[rel] = item
    return out


def main():
    root = sys.argv[1]
    problems = []
    with open(os.path.join(root, "photos.csv"), newline="", encoding="utf-8") as f:
        csv_rows = list(csv.DictReader(f))
    with open(os.path.join(root, "photos.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    json_rows = manifest["items"]
    if manifest.get("format") != "hearth-export-photos-manifest":
        problems.append(f"photos.json format {manifest.get('format')!r}")
    if len(csv_rows) != len(json_rows):
        problems.append(f"photos.csv has {len(csv_rows)} rows, photos.json {len(json_rows)}")
    for c, j in zip(csv_rows, json_rows):
        for k, v in j.items():
            if str(v) != c.get(k):
                problems.append(f"{j['out']}: {k} is {c.get(k)!r} in the CSV, {v!r} in the JSON")
    files = files_under(root)
    listed = [r["out"] for r in json_rows]
    if sorted(listed) != files:
        problems.append(
            f"listed but absent: {sorted(set(listed) - set(files))[:5]}, "
            f"present but not listed: {sorted(set(files) - set(listed))[:5]}, "
            f"listed twice: {len(listed) - len(set(listed))}"
        )
    by_source = {}
    rows = {r["out"]: r for r in json_rows}
    for r in json_rows:
        by_source[r["date_source"]] = by_source.get(r["date_source"], 0) + 1
        path = os.path.join(root, r["out"])
        if not os.path.isfile(path):
            continue
        st = os.stat(path)
        if st.st_size != r["size"]:
            problems.append(f"{r['out']}: {st.st_size} bytes, the manifest says {r['size']}")
        when = parse_date(r["date"])
        if int(st.st_mtime) != int(when.timestamp()):
            problems.append(f"{r['out']}: mtime {int(st.st_mtime)}, date {r['date']}")
        folder = f"{when.year:04d}/{when.month:02d}/"
        if not r["out"].startswith(folder):
            problems.append(f"{r['out']}: not in {folder} though taken {r['date']}")
    exif = exiftool(root, [r for r in files if r in rows])
    exif_agree = 0
    exif_dated_checked = 0
    exif_differs = []
    for rel, item in exif.items():
        original = item.get("DateTimeOriginal")
        if not isinstance(original, str) or not original.strip("0: "):
            continue
        r = rows[rel]
        manifest_wall = r["date"][:19].replace("-", ":", 2).replace("T", " ")
        offset = item.get("OffsetTimeOriginal")
        same = original[:19] == manifest_wall and (
            not isinstance(offset, str) or r["date"].endswith(offset) or r["date"].endswith("Z") and offset in ("+00:00", "Z")
        )
        if same:
            exif_agree += 1
            if r["date_source"] == "exif":
                exif_dated_checked += 1
        elif r["date_source"] == "exif":
            problems.append(f"{rel}: exiftool says {original} {offset}, the manifest {r['date']}")
        else:
            exif_differs.append([rel, f"{original} {offset or ''}".strip(), r["date"]])
    for r in json_rows:
        if r["date_source"] == "exif" and r["out"] in exif and not exif[r["out"]].get("DateTimeOriginal"):
            problems.append(f"{r['out']}: dated from EXIF, but exiftool finds no DateTimeOriginal")
    live_pairs = 0
    for r in json_rows:
        if r["kind"] != "live-photo-video":
            continue
        still = rows.get(r["pair"])
        stem = os.path.splitext(r["out"])[0]
        if still is None or os.path.splitext(still["out"])[0] != stem or still["date"] != r["date"]:
            problems.append(f"{r['out']}: its still {r['pair']!r} does not share its name and date")
        elif still["pair"] != r["out"]:
            problems.append(f"{still['out']}: does not name its video {r['out']}")
        else:
            live_pairs += 1
    print(
        json.dumps(
            {
                "rows": len(json_rows),
                "files": len(files),
                "by_source": by_source,
                "exif_agree": exif_agree,
                "exif_dated_checked": exif_dated_checked,
                "exif_differs": exif_differs,
                "live_pairs": live_pairs,
                "problems": problems,
            }
        )
    )


if __name__ == "__main__":
    main()
