#!/usr/bin/env python3
"""Cross-checks an encrypted iOS device backup with a reader nobody on this project wrote.

    verify_encrypted.py [--list-ids] DEVICE_FOLDER PASSWORD PLAINTEXT_FOLDER

Opens DEVICE_FOLDER with the PyPI package iphone-backup-decrypt (installed by
scripts/python-env) and PASSWORD, decrypts every file row (flags = 1) of its Manifest.db with
the package's own extract_files, and compares each file's bytes with the blob at the same
fileID path in PLAINTEXT_FOLDER: an unencrypted folder of the same content, such as the
device's plaintext twin from hearth_testkit::generate_twin. A decrypted length that differs
from the row's Size is a mismatch too (the package only prints a note about it).

Only the rows DEVICE_FOLDER's Manifest.db holds are checked: PLAINTEXT_FOLDER may hold more
(a restore image for another kind of device keeps a subset of the source's rows, and is
checked against the source's twin). The caller decides, from the ids listed with --list-ids,
whether the right rows are there.

Prints one line of JSON, {"files_checked": N, "mismatches": [...]}, plus
"checked_file_ids": [sorted fileIDs of the file rows checked] with --list-ids, and exits 1
when anything mismatched or when no file was checked, 2 on bad arguments. Decrypted files go
to a temporary folder outside both inputs, removed at the end; the package's own notes go to
stderr.
"""

import contextlib
import json
import os
import shutil
import sys
import tempfile

from iphone_backup_decrypt import EncryptedBackup


def is_inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def scratch_folder(*inputs):
    """A new temporary folder, refused if it lies inside one of the inputs."""
    out = tempfile.mkdtemp(prefix="hearth-verify-")
    if any(is_inside(out, i) for i in inputs):
        shutil.rmtree(out)
        raise SystemExit(f"error: the temporary folder {out} is inside an input; set TMPDIR")
    return out


def file_rows(backup):
    with backup.manifest_db_cursor() as cur:
        cur.execute("SELECT fileID, domain, relativePath FROM Files WHERE flags = 1")
        return cur.fetchall()


def decrypt_all(backup, out):
    """Decrypts every file row into out/<fileID>; returns {fileID: Size} and the error that
    stopped the package, if any."""
    sizes = {}

    def by_file_id(*, file_id, file_plist, **_):
        sizes[file_id] = file_plist.filesize
        return os.path.join(out, file_id)

    try:
        with contextlib.redirect_stdout(sys.stderr):
            backup.extract_files(
                relative_paths_like="%",
                domain_like="%",
                output_folder=out,
                filter_callback=by_file_id,
            )
    except Exception as e:  # the package stops at the first bad file: report, then compare
        return sizes, f"{type(e).__name__}: {e}"
    return sizes, None


def compare(file_id, decrypted, size, plaintext_folder):
    """What is wrong with one file, or None."""
    if not os.path.isfile(decrypted):
        return "not decrypted"
    with open(decrypted, "rb") as f:
        got = f.read()
    if size is not None and len(got) != size:
        return f"decrypted {len(got)} bytes, Size says {size}"
    expected_path = os.path.join(plaintext_folder, file_id[:2], file_id)
    if not os.path.isfile(expected_path):
        return "no blob in the plaintext folder"
    with open(expected_path, "rb") as f:
        if f.read() != got:
            return "bytes differ from the plaintext folder's blob"
    return None


def verify(device, password, plaintext_folder):
    backup = EncryptedBackup(backup_directory=device, passphrase=password)
    rows = file_rows(backup)
    out = scratch_folder(device, plaintext_folder)
    try:
        sizes, error = decrypt_all(backup, out)
        mismatches = [{"error": error}] if error else []
        for file_id, domain, relative_path in rows:
            decrypted = os.path.join(out, file_id)
            problem = compare(file_id, decrypted, sizes.get(file_id), plaintext_folder)
            if problem:
                mismatches.append(
                    {
                        "file_id": file_id,
                        "domain": domain,
                        "relative_path": relative_path,
                        "problem": problem,
                    }
                )
    finally:
        shutil.rmtree(out)
        del backup  # removes the package's decrypted copy of Manifest.db
    return {
        "files_checked": len(rows),
        "mismatches": mismatches,
        "checked_file_ids": sorted(file_id for file_id, _, _ in rows),
    }


def main(argv):
    args = argv[1:]
    list_ids = "--list-ids" in args[:1]
    if list_ids:
        args = args[1:]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    device, password, plaintext_folder = args
    for folder in (device, plaintext_folder):
        if not os.path.isdir(folder):
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return 2
    summary = verify(device, password, plaintext_folder)
    if not list_ids:
        del summary["checked_file_ids"]
    print(json.dumps(summary))
    return 1 if summary["mismatches"] or summary["files_checked"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
