#!/usr/bin/env python3
"""Render a workshop folder for one learner with Jinja2.

usage: render-workshop.py --src DIR --dest DIR --owner UID:GID [--var KEY=VALUE]...  <password

Every text file is rendered (undefined variables are empty and false, so
`{% if PORT_WEB %}` works for workshops without that port); notebooks are rendered cell by
cell so the result stays valid JSON whatever the values contain; other files are copied.
The password arrives on stdin and becomes PASSSTU. The folder is built beside DEST and
renamed into place, so DEST is either absent or complete.
"""
import argparse
import json
import os
import shutil
import sys

import jinja2


def render_notebook(env, text, variables):
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        joined = "".join(source) if isinstance(source, list) else source
        rendered = env.from_string(joined).render(variables)
        cell["source"] = rendered.splitlines(keepends=True) if isinstance(source, list) else rendered
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--owner", required=True)
    p.add_argument("--var", action="append", default=[])
    args = p.parse_args()
    uid, gid = (int(x) for x in args.owner.split(":"))

    variables = {}
    for kv in args.var:
        key, sep, value = kv.partition("=")
        if not sep or not key.isidentifier():
            sys.exit(f"render-workshop: --var must be KEY=VALUE with KEY an identifier, got {kv!r}")
        variables[key] = value
    variables["PASSSTU"] = sys.stdin.readline().rstrip("\n")

    env = jinja2.Environment(keep_trailing_newline=True, autoescape=False)
    tmp = args.dest.rstrip("/") + ".rendering"
    shutil.rmtree(tmp, ignore_errors=True)
    for dirpath, dirnames, filenames in os.walk(args.src):
        rel = os.path.relpath(dirpath, args.src)
        out_dir = os.path.normpath(os.path.join(tmp, rel))
        os.makedirs(out_dir, mode=0o755, exist_ok=True)
        os.chown(out_dir, uid, gid)
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            if os.path.islink(src):
                continue  # a link could point anywhere on the host: never follow it
            out = os.path.join(out_dir, name)
            with open(src, "rb") as f:
                data = f.read()
            try:
                text = None if b"\0" in data else data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                try:
                    if name.endswith(".ipynb"):
                        text = render_notebook(env, text, variables)
                    else:
                        text = env.from_string(text).render(variables)
                except (jinja2.TemplateError, ValueError) as e:
                    sys.exit(f"render-workshop: cannot render {os.path.join(rel, name)}: {e}")
                data = text.encode("utf-8")
            with open(out, "wb") as f:
                f.write(data)
            os.chmod(out, 0o755 if os.stat(src).st_mode & 0o100 else 0o644)
            os.chown(out, uid, gid)
    shutil.rmtree(args.dest, ignore_errors=True)
    os.rename(tmp, args.dest)


if __name__ == "__main__":
    main()
