#!/usr/bin/env python3
"""Reads an unencrypted iOS device backup with a reader nobody on this project wrote, and checks
it against the plaintext of the encrypted backup it was made from.

    verify_decrypted.py IMAGE_FOLDER [ORIGINAL_FOLDER PASSWORD]

IMAGE_FOLDER is opened as an unencrypted backup by the PyPI package pyiosbackup (installed by
scripts/python-env), which finds every file by Manifest.db and reads its bytes; each file's
bytes must be as long as its MBFile Size. With ORIGINAL_FOLDER and PASSWORD, the PyPI package
iphone-backup-decrypt (another reader nobody here wrote) decrypts every file row of the
encrypted ORIGINAL_FOLDER, and each file pyiosbackup read must hold exactly those bytes.

Beside the readers, Python's own plistlib and sqlite3 check the image as an unencrypted backup:
Manifest.plist has IsEncrypted false and no BackupKeyBag or ManifestKey; Manifest.db is a
plaintext SQLite database that opens without decryption; no MBFile has an EncryptionKey; every
file row (flags 1, or a regular file's Mode) has a ProtectionClass and a blob at xx/<fileID>
of exactly its Size.

Prints one line of JSON:
  {"reader": "pyiosbackup <version>", "files_read": N,
   "files": {fileID: {"domain", "relative_path", "size", "sha256"}},
   "truth_files": N or null, "missing_from_image": [...], "not_in_original": [...],
   "problems": [...]}
and exits 1 when there are problems (or no file was read), 2 on bad arguments. Whether the
image should hold every file of the original (missing_from_image, not_in_original) is the
caller's to say. Everything the readers write (decrypted files, pyiosbackup's copy of
Manifest.db) goes to a temporary folder outside the inputs, removed at the end.
"""

import contextlib
import hashlib
import importlib.metadata
import json
import os
import plistlib
import shutil
import sqlite3
import sys
import tempfile

from verify_encrypted import decrypt_all, file_rows, scratch_folder

S_IFMT, S_IFREG = 0o170000, 0o100000


def mbfile_root(data):
    """The root object of an MBFile NSKeyedArchiver archive, read with plistlib."""
    archive = plistlib.loads(data)
    objects = archive["$objects"]
    return objects[archive["$top"]["root"].data], objects


def check_manifest_plist(image, problems):
    with open(os.path.join(image, "Manifest.plist"), "rb") as f:
        manifest = plistlib.load(f)
    if manifest.get("IsEncrypted") is not False:
        problems.append(f"Manifest.plist: IsEncrypted is {manifest.get('IsEncrypted')!r}")
    for key in ("BackupKeyBag", "ManifestKey"):
        if key in manifest:
            problems.append(f"Manifest.plist still has {key}")


def check_manifest_db(image, problems):
    """Checks Manifest.db with sqlite3 and plistlib; returns the number of file rows."""
    path = os.path.join(image, "Manifest.db")
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            problems.append("Manifest.db is not a plaintext SQLite database")
            return 0
    files = 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT fileID, domain, relativePath, flags, file FROM Files").fetchall()
    finally:
        conn.close()
    for file_id, domain, relative_path, flags, blob in rows:
        where = f"{domain}/{relative_path} ({file_id})"
        try:
            root, _ = mbfile_root(blob)
        except Exception as e:
            problems.append(f"{where}: the MBFile does not read: {type(e).__name__}: {e}")
            continue
        if "EncryptionKey" in root:
            problems.append(f"{where}: the MBFile still has an EncryptionKey")
        is_file = flags == 1 or (root.get("Mode", 0) & S_IFMT) == S_IFREG
        if not is_file:
            continue
        files += 1
        if "ProtectionClass" not in root:
            problems.append(f"{where}: no ProtectionClass")
        blob_path = os.path.join(image, file_id[:2], file_id)
        if not os.path.isfile(blob_path):
            problems.append(f"{where}: no blob")
        elif os.path.getsize(blob_path) != root.get("Size"):
            problems.append(
                f"{where}: blob of {os.path.getsize(blob_path)} bytes, Size {root.get('Size')}"
            )
    return files


def read_with_pyiosbackup(image, problems):
    """Every file of the image as pyiosbackup reads it: {fileID: (domain, path, Size, bytes)}."""
    from pyiosbackup import Backup

    backup = Backup.from_path(image)  # no password: refused if the backup says it is encrypted
    if backup.is_encrypted:
        problems.append("pyiosbackup says the image is encrypted")
    files = {}
    for entry in backup.iter_files():
        files[entry.file_id] = (entry.domain, entry.relative_path, entry.size, entry.read_bytes())
    return files


def original_plaintext(original, password, scratch):
    """{fileID: bytes} of every file row of the encrypted original, by iphone-backup-decrypt."""
    from iphone_backup_decrypt import EncryptedBackup

    backup = EncryptedBackup(backup_directory=original, passphrase=password)
    rows = file_rows(backup)
    out = os.path.join(scratch, "original")
    os.mkdir(out)
    try:
        _, error = decrypt_all(backup, out)
    finally:
        del backup  # removes the package's decrypted copy of Manifest.db
    truth = {}
    for file_id, _, _ in rows:
        path = os.path.join(out, file_id)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                truth[file_id] = f.read()
    return truth, error


def verify(image, original, password):
    problems = []
    scratch = scratch_folder(*[p for p in (image, original) if p])
    # pyiosbackup copies Manifest.db into a temporary file it never removes: into scratch.
    tempfile.tempdir = scratch
    try:
        check_manifest_plist(image, problems)
        file_rows_in_db = check_manifest_db(image, problems)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                files = read_with_pyiosbackup(image, problems)
        except Exception as e:  # the reader refuses the image: that is the finding
            problems.append(f"pyiosbackup cannot read the image: {type(e).__name__}: {e}")
            files = {}
        if len(files) != file_rows_in_db:
            problems.append(f"pyiosbackup read {len(files)} files, Manifest.db has {file_rows_in_db}")
        for file_id, (domain, path, size, data) in files.items():
            if len(data) != size:
                problems.append(f"{domain}/{path}: read {len(data)} bytes, Size {size}")
        truth = None
        if original:
            truth, error = original_plaintext(original, password, scratch)
            if error:
                problems.append(f"iphone-backup-decrypt: {error}")
            for file_id, (domain, path, _, data) in files.items():
                if file_id in truth and truth[file_id] != data:
                    problems.append(f"{domain}/{path}: bytes differ from the original's plaintext")
    finally:
        tempfile.tempdir = None
        shutil.rmtree(scratch)
    return {
        "reader": f"pyiosbackup {importlib.metadata.version('pyiosbackup')}",
        "files_read": len(files),
        "files": {
            file_id: {
                "domain": domain,
                "relative_path": path,
                "size": size,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for file_id, (domain, path, size, data) in sorted(files.items())
        },
        "truth_files": None if truth is None else len(truth),
        "missing_from_image": [] if truth is None else sorted(set(truth) - set(files)),
        "not_in_original": [] if truth is None else sorted(set(files) - set(truth)),
        "problems": problems,
    }


def main(argv):
    args = argv[1:]
    if len(args) not in (1, 3):
        print(__doc__, file=sys.stderr)
        return 2
    image, original, password = (args + [None, None])[:3]
    for folder in (image, original):
        if folder and not os.path.isdir(folder):
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return 2
    summary = verify(image, original, password)
    print(json.dumps(summary))
    return 1 if summary["problems"] or summary["files_read"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
