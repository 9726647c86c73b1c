#!/usr/bin/env python3
"""Drift check of one backend: what the host syncs would change if they ran now. Writes nothing.

usage: check-backend.py   <expected state JSON
       check-backend.py activity      (the hub's last sign of each active learner; no stdin)

stdin: {"uidOffset": 2000, "slotPool": {"min": 1, "max": 100},
        "slots": {"<slot>": {"registration": "101", "generation": 1, "status": "active" | "failed" | "release-failed"}},
        "contents": [{"dir": "/opt/wod/workshops/WKSHP-X/<hash>", "files": {"<relative path>": "<sha256>"} | null}]}
— the slots the stack's last applied cohort syncs hold on this backend, and the workshop folders
the stack shipped here (with the files they should hold when the caller knows them).

stdout: one JSON object {"findings": [{"where", "what", "detail"}], "checked": {…counts}}, where
`what` is one of: account-unlocked, account-not-expired, processes, hub-user, slot-state,
slot-not-active, content-missing, content-altered, unknown-user. Exit 0 whether or not anything
drifted (the findings say); 2 when the check itself could not run.

Read only: no lock is taken (a sync running meanwhile may show as drift, and the next check
clears it), no directory is created, the hub is only asked (GET), and nothing of a learner's
home is read.
"""
import hashlib
import json
import os
import pwd
import sys
import time

sys.dont_write_bytecode = True  # not even a __pycache__ beside the scripts
import wodhost as h  # noqa: E402


def shadow():
    """user -> (password field, expiry in days since the epoch or None), read once."""
    out = {}
    with open("/etc/shadow") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) >= 8:
                out[fields[0]] = (fields[1], int(fields[7]) if fields[7].isdigit() else None)
    return out


def processes_by_uid():
    """uid -> number of its live (non-zombie) processes, one pass over /proc."""
    counts = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if fields.get("State", "").strip().startswith("Z"):
            continue
        uid = int(fields.get("Uid", "-1").split()[0])
        counts[uid] = counts.get(uid, 0) + 1
    return counts


def hub_users():
    """Hub user names, page by page (JupyterHub 3 caps a page's size); None when the hub cannot be asked."""
    names, offset = [], 0
    while True:
        status, body = h.hub_call("GET", f"/users?offset={offset}&limit=200")
        if status != 200 or not isinstance(body, list):
            return None
        names += [u.get("name") for u in body if isinstance(u, dict)]
        if len(body) < 200:
            return names
        offset += len(body)


def folder_hash(root):
    """infra/catalog/load.ts hashFolder: sha256 over each regular file's relative path and bytes,
    sorted by path, first 16 hex digits; links are not followed."""
    files = []
    for base, dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(base, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(os.path.relpath(p, root).replace(os.sep, "/"))
    digest = hashlib.sha256()
    sums = {}
    for rel in sorted(files):
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        digest.update(rel.encode() + b"\0" + data + b"\0")
        sums[rel] = hashlib.sha256(data).hexdigest()
    return digest.hexdigest()[:16], sums


def main():
    try:
        want = json.load(sys.stdin)
        offset, pool = int(want["uidOffset"]), want["slotPool"]
        table = {int(s): e for s, e in (want.get("slots") or {}).items()}
    except (ValueError, KeyError, TypeError) as e:
        sys.exit(f"check-backend: bad input: {e}")
    findings = []

    def find(where, what, detail):
        findings.append({"where": where, "what": what, "detail": detail})

    passwords = shadow()
    procs = processes_by_uid()
    hub = hub_users()
    hub_set = set(hub or [])
    today = int(time.time() // 86400)
    users = {p.pw_name: p for p in pwd.getpwall() if p.pw_name.startswith("student")}

    for name, p in sorted(users.items()):
        digits = name[len("student"):]
        slot = int(digits) if digits.isdigit() and not digits.startswith("0") else None
        if slot is None or not pool["min"] <= slot <= pool["max"] or p.pw_uid != slot + offset:
            find(name, "unknown-user", f"uid {p.pw_uid}: not a slot user of this backend (slots {pool['min']}-{pool['max']}, uid = slot + {offset})")

    for slot in range(pool["min"], pool["max"] + 1):
        user, uid, _home = h.slot_user(slot, offset)
        where = f"slot {slot} ({user})"
        entry = table.get(slot)
        state = h.read_state(user)
        held = state and state.get("activation") and state.get("status") in ("active", "activating", "releasing")
        if entry and entry.get("status") == "release-failed":
            continue  # a release the reconcile already reports as failing: retried by the next run
        if entry and entry.get("status") == "active":
            reg, gen = str(entry["registration"]), int(entry.get("generation", 1))
            if not state or state.get("registration") != reg or int(state.get("generation", 1)) != gen:
                find(where, "slot-state", f"should hold registration {reg} (generation {gen}); the host's state names "
                     + (f"registration {state.get('registration')} (generation {state.get('generation', 1)})" if state else "none"))
            elif state.get("status") != "active":
                find(where, "slot-not-active", f"registration {reg} is {state.get('status')} on the host")
            if user not in users:
                find(where, "slot-state", f"registration {reg} is active but the account {user} does not exist")
            continue
        # Released (or never used, or failed): nothing of a learner may remain reachable.
        if held:
            find(where, "slot-state", f"the host still holds registration {state.get('registration')} ({state.get('status')}); the stack holds none here")
        if user in users:
            password, expires = passwords.get(user, ("!", None))
            if not password.startswith(("!", "*")):
                find(where, "account-unlocked", f"{user}'s password is usable: the account should be locked")
            if expires is None or expires > today:
                find(where, "account-not-expired", f"{user} has no past expiry date: the account should be expired")
            if procs.get(uid):
                find(where, "processes", f"{procs[uid]} process(es) of {user} are running")
        if user in hub_set:
            find(where, "hub-user", f"the hub still has a user {user} (its cookies and tokens may still work)")

    contents = 0
    for c in want.get("contents") or []:
        contents += 1
        root = c["dir"].rstrip("/")
        if not os.path.isdir(root):
            find(root, "content-missing", "the workshop folder the stack shipped is not on the host")
            continue
        digest, sums = folder_hash(root)
        expected = c.get("files")
        if expected is not None:
            changed = sorted(f for f in expected if f in sums and sums[f] != expected[f])
            missing = sorted(f for f in expected if f not in sums)
            extra = sorted(f for f in sums if f not in expected)
            parts = [f"{label}: {', '.join(files[:10])}{' …' if len(files) > 10 else ''}"
                     for label, files in (("changed", changed), ("missing", missing), ("added", extra)) if files]
            if parts:
                find(root, "content-altered", "; ".join(parts))
        elif digest != os.path.basename(root):
            find(root, "content-altered", f"its files hash to {digest}, not to the {os.path.basename(root)} it was shipped as")

    if hub is None:
        find("hub", "hub-unreachable", "the hub's API did not answer: hub users were not checked")
    print(json.dumps({"findings": findings, "checked": {"slots": pool["max"] - pool["min"] + 1, "users": len(users),
                                                       "hubUsers": len(hub_set), "contents": contents}}, sort_keys=True))


def activity():
    """{"activity": [{"registration", "slot", "lastActivity"}]} for active slots whose hub user shows
    activity since their activation (the hub user is created afresh at each activation, so its
    activity is this learner's). The reconcile records it as the registration's last login."""
    out, offset = [], 0
    states = {}
    for name in os.listdir(h.SLOTS) if os.path.isdir(h.SLOTS) else []:
        if name.startswith("student") and name.endswith(".json"):
            state = h.read_state(name[:-5])
            if state and state.get("status") == "active" and state.get("registration"):
                states[name[:-5]] = state
    while states:
        status, body = h.hub_call("GET", f"/users?offset={offset}&limit=200")
        if status != 200 or not isinstance(body, list):
            sys.exit(f"check-backend: the hub's API answered {status}")
        for u in body:
            state = states.get(u.get("name")) if isinstance(u, dict) else None
            seen = u.get("last_activity") if state else None
            if seen and seen[:19] >= (state.get("activatedAt") or "")[:19]:
                out.append({"registration": str(state["registration"]), "slot": int(state["slot"]), "lastActivity": seen})
        if len(body) < 200:
            break
        offset += len(body)
    print(json.dumps({"activity": sorted(out, key=lambda a: a["slot"])}, sort_keys=True))


if __name__ == "__main__":
    activity() if sys.argv[1:] == ["activity"] else main()
