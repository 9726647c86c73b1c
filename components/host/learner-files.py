#!/usr/bin/env python3
"""Reads what a learner controls, run AS that learner (wodhost drops privileges with setpriv).

usage: learner-files.py cells DIR
       learner-files.py completion CELLS_JSON DIR
       learner-files.py archive PARENT USER MAX_BYTES MAX_FILE_BYTES [SECONDS]

Everything here treats the learner's files as hostile: no link is followed, FIFOs, sockets and
devices are never opened (O_NONBLOCK | O_NOFOLLOW, then fstat), every read is bounded, and the
archive stops at a byte, file-count and time budget (the summary says so). Running as the
learner means a planted link to /root or /etc/shadow reads nothing the learner could not read.
"""
import json
import os
import stat
import sys
import tarfile
import time

NOTEBOOK_MAX_BYTES = 32 << 20
MAX_ENTRIES = 500_000


def open_regular(path, limit):
    """Bytes of a regular file no larger than limit, else None; never blocks, never follows."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def code_cells(path):
    data = open_regular(path, NOTEBOOK_MAX_BYTES)
    if data is None:
        return None
    try:
        cells = json.loads(data).get("cells", [])
    except (ValueError, AttributeError):
        return None
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"] if isinstance(cells, list) else None


def notebooks(root):
    """Relative paths of the notebooks under root; checkpoints and links left out."""
    out = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel)))
        except OSError:
            continue
        for e in entries:
            child = os.path.join(rel, e.name) if rel else e.name
            if e.is_dir(follow_symlinks=False) and not e.name.startswith("."):
                stack.append(child)
            elif e.is_file(follow_symlinks=False) and e.name.endswith(".ipynb"):
                out.append(child)
    return sorted(out)


def cells(directory):
    """{notebook: code cells} of a freshly rendered workshop: what completion is measured against."""
    return {rel: len(code_cells(os.path.join(directory, rel)) or []) for rel in notebooks(directory)}


def completion(totals, directory):
    """A notebook the learner deleted counts as not executed; one they added does not count."""
    total = executed = 0
    for rel, count in sorted(totals.items()):
        total += count
        mine = code_cells(os.path.join(directory, rel))
        if mine is not None:
            executed += min(count, sum(1 for c in mine if c.get("execution_count") is not None))
    return {"codeCells": total, "executedCells": executed, "completionRatio": round(executed / total, 4) if total else 0}


def archive(parent, user, max_bytes, max_file_bytes, seconds):
    """Streams PARENT/USER as tar.gz to stdout; prints a JSON summary on stderr."""
    end = time.monotonic() + seconds
    summary = {"files": 0, "bytes": 0, "skipped": 0, "truncated": False}
    os.chdir(parent)
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
        stack = [user]
        entries = 0
        while stack:
            rel = stack.pop()
            try:
                st = os.lstat(rel)
            except OSError:
                continue
            entries += 1
            if entries > MAX_ENTRIES or time.monotonic() > end:
                summary["truncated"] = True
                break
            info = tarfile.TarInfo(rel)
            info.mode, info.mtime, info.uid, info.gid = stat.S_IMODE(st.st_mode), int(st.st_mtime), st.st_uid, st.st_gid
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                try:
                    stack.extend(os.path.join(rel, name) for name in sorted(os.listdir(rel), reverse=True))
                except OSError:
                    summary["skipped"] += 1
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(rel)
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                if st.st_size > max_file_bytes or summary["bytes"] + st.st_size > max_bytes:
                    summary["skipped"] += 1
                    summary["truncated"] = True
                    continue
                data = open_regular(rel, max_file_bytes)
                if data is None:
                    summary["skipped"] += 1
                    continue
                info.size = len(data)
                tar.addfile(info, _Reader(data))
                summary["files"] += 1
                summary["bytes"] += len(data)
            else:
                summary["skipped"] += 1  # FIFO, socket, device: never opened
    print(json.dumps(summary, separators=(",", ":")), file=sys.stderr)


class _Reader:
    """A file object over bytes already read (the file itself is never reopened)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        end = len(self.data) if n < 0 else self.pos + n
        chunk = self.data[self.pos:end]
        self.pos += len(chunk)
        return chunk


def main(argv):
    if len(argv) == 2 and argv[0] == "cells":
        print(json.dumps(cells(argv[1]), separators=(",", ":")))
    elif len(argv) == 3 and argv[0] == "completion":
        print(json.dumps(completion(json.loads(argv[1]), argv[2]), separators=(",", ":")))
    elif len(argv) in (5, 6) and argv[0] == "archive":
        archive(argv[1], argv[2], int(argv[3]), int(argv[4]), float(argv[5]) if len(argv) == 6 else 600)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
