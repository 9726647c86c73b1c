#!/usr/bin/env python3
"""Completion of a workshop: executed code cells / code cells over the workshop's notebooks.

usage: completion-ratio.py --workshop-dir SRC --learner-dir DIR

The notebooks counted are the workshop's own (from SRC, when it still exists), read from
the learner's copy in DIR: a notebook the learner deleted counts its code cells as not
executed, notebooks the learner added do not count. Prints one JSON object:
{"codeCells": N, "executedCells": M, "completionRatio": M/N (0 when N is 0)}.
"""
import argparse
import json
import os


def notebooks(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # .ipynb_checkpoints
        for name in filenames:
            if name.endswith(".ipynb"):
                yield os.path.relpath(os.path.join(dirpath, name), root)


def code_cells(path):
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workshop-dir", required=True)
    p.add_argument("--learner-dir", required=True)
    args = p.parse_args()
    source = args.workshop_dir if os.path.isdir(args.workshop_dir) else args.learner_dir
    total = executed = 0
    for rel in sorted(notebooks(source)):
        original = code_cells(os.path.join(source, rel)) or []
        mine = code_cells(os.path.join(args.learner_dir, rel))
        total += len(original)
        if mine is not None:
            executed += min(len(original), sum(1 for c in mine if c.get("execution_count") is not None))
    ratio = round(executed / total, 4) if total else 0
    print(json.dumps({"codeCells": total, "executedCells": executed, "completionRatio": ratio}, separators=(",", ":")))


if __name__ == "__main__":
    main()
