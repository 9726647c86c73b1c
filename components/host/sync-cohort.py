#!/usr/bin/env python3
"""Converges one cohort's slots on a backend: the live slots of one workshop (one shard of 100
slot numbers) at this location, as the stack's slot table says.

usage: sync-cohort.py --cohort NAME --workshop-dir DIR --uid-offset N [--release-all]
                      [--start-servers] [--deadline SECONDS] [--parallel N]   <slot table JSON

stdin: {"variables": {…shared…}, "slots": {"<slot>": {"registration": "101", "generation": 1,
        "password": "…", "variables": {…this slot's…}}}}  — passwords and secret variables
travel only here. stdout: one JSON object of per-slot results, never a password:
  {"cohort": …, "slots": {"<slot>": {"registration", "generation", "status": "active" | "failed" |
   "release-failed", "error"?}}, "released": [release records], "summary": {…}}

A slot in the table held by the same registration and generation is left untouched; a new one
is activated (its previous holder released first, whoever that was); a slot of this cohort that
left the table is released. Each slot is locked while it is worked on, one slot's failure never
fails the others, and every step has a time limit. Exit 0 when every slot got an answer; 3 when
some were postponed (out of time, or locked), so that the engine runs the sync again.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys

import wodhost as h


class Cohort:
    def __init__(self, args, variables):
        self.name = args.cohort
        self.workshop_dir = args.workshop_dir.rstrip("/")
        # /opt/wod/workshops/<WKSHP-Name>/<contentHash>: the folder name is the WKSHP- part.
        self.workshop = os.path.basename(os.path.dirname(self.workshop_dir))
        self.offset = args.uid_offset
        self.variables = variables
        self.start_servers = args.start_servers


def release(cohort, slot, state, deadline):
    """Takes the slot back from the activation its state names; returns the release record.
    Resumable: an interrupted release continues after the archive it already made."""
    user, uid, home = h.slot_user(slot, cohort.offset)
    activation = state["activation"]
    record_path = os.path.join(h.RELEASED, f"{activation}.json")
    partial = record_path + ".partial"
    if os.path.exists(record_path):
        h.clear_state(user)
        with open(record_path) as f:
            return json.load(f)
    h.write_state(user, {**state, "status": "releasing"})
    h.lock_account(user, deadline)
    # The learner's processes (their server included) go first: the hub then forgets a dead server at once.
    h.kill_processes(user, deadline)
    h.hub_forget(user, deadline)
    if not os.path.exists(partial):
        record = {"registration": state["registration"], "generation": state.get("generation", 1), "slot": slot,
                  "user": user, "workshop": state.get("workshop"), "activation": activation}
        try:
            learner_dir = os.path.join(home, state.get("workshop", ""))
            record.update(h.completion(uid, json.dumps(state.get("cells", {})), learner_dir, deadline))
        except h.SlotError as e:
            record.update({"codeCells": None, "executedCells": None, "completionRatio": None, "completionError": str(e)})
        archive = os.path.join(h.ARCHIVE, f"{activation}.tar.gz")
        summary = h.archive_home(uid, user, archive, deadline)
        record.update({"archive": archive, "archiveTruncated": summary["truncated"], "archiveSkipped": summary["skipped"],
                       "releasedAt": h.now_iso()})
        h.write_json(partial, record)  # from here on, the home may be wiped
    h.wipe_home(home, uid, deadline)
    h.remove_leftovers(user, uid, deadline)
    h.clear_state(user)
    os.replace(partial, record_path)
    with open(record_path) as f:
        return json.load(f)


def activate(cohort, slot, entry, deadline, released):
    """Gives the slot to the entry's registration; answers "active", or "unchanged" when it has it."""
    user, uid, home = h.ensure_slot_user(slot, cohort.offset, deadline)
    registration, generation = str(entry["registration"]), int(entry.get("generation", 1))
    state = h.read_state(user)
    if state and state.get("registration") == registration and int(state.get("generation", 1)) == generation:
        if state.get("status") == "active":
            return keep(cohort, user, uid, state, entry, deadline)
        if state.get("status") == "releasing":
            released.append(release(cohort, slot, state, deadline))
        # "activating" (interrupted) or "failed": start over with a wiped home
    elif state and state.get("activation"):
        released.append(release(cohort, slot, state, deadline))

    activation = f"{registration}.{generation}.{os.urandom(4).hex()}"
    h.write_state(user, {"owner": cohort.name, "slot": slot, "registration": registration, "generation": generation,
                         "activation": activation, "workshop": cohort.workshop, "workshopDir": cohort.workshop_dir,
                         "status": "activating"})
    h.lock_account(user, deadline)  # no logins while the home is rebuilt
    # The learner's processes (their server included) go first: the hub then forgets a dead server at once.
    h.kill_processes(user, deadline)
    h.hub_forget(user, deadline)
    h.remove_leftovers(user, uid, deadline)
    h.wipe_home(home, uid, deadline)
    h.fill_home(home, uid, deadline)

    variables = {**cohort.variables, **entry.get("variables", {}), "STDID": str(slot), "USERNAME": user, "WORKSHOP": cohort.workshop}
    dest = os.path.join(home, cohort.workshop)
    # As the learner: a template reaches nothing the learner could not.
    h.run(["node", os.path.join(h.BIN, "render.js"), "render", "--src", cohort.workshop_dir, "--dest", dest],
          deadline, input=json.dumps(variables), user=(uid, uid), cap=120)
    cells = json.loads(h.run(["python3", os.path.join(h.BIN, "learner-files.py"), "cells", dest], deadline, user=(uid, uid), cap=60))

    h.set_passwords([(user, entry["password"])], deadline)
    h.unlock(user, deadline)
    state = {**h.read_state(user), "passwordDigest": password_digest(activation, entry["password"])}
    h.write_state(user, state)
    # Live from here: the hub's spawn check accepts only an "active" slot with an open account.
    h.write_state(user, {**h.read_state(user), "cells": cells, "status": "active", "activatedAt": h.now_iso()})
    h.hub_create(user)
    if cohort.start_servers:
        h.hub_spawn(user)
        h.wait_for(lambda: h.hub_ready(user), deadline, f"{user}'s server to be ready", cap=180)
    return "active"


def keep(cohort, user, uid, state, entry, deadline):
    """A slot already active for this registration and generation: the learner keeps their work.
    Only what changed around them is brought up to date — the cohort holding the slot (a new shard
    layout), and the password (a rotated seed, or a slot activated by an older version, which this
    also gives the bookkeeping a release needs)."""
    updates = {}
    if state.get("owner") != cohort.name:
        updates["owner"] = cohort.name
    activation = state.get("activation") or f"{state['registration']}.{state.get('generation', 1)}.{os.urandom(4).hex()}"
    if not state.get("activation"):
        updates.update(activation=activation, generation=int(state.get("generation", 1)), slot=int(state.get("slot", user[7:])))
    if "cells" not in state and state.get("workshopDir"):
        totals = h.run(["python3", os.path.join(h.BIN, "learner-files.py"), "cells", state["workshopDir"]], deadline, user=(uid, uid), cap=60)
        updates["cells"] = json.loads(totals)
    digest = password_digest(activation, entry["password"])
    if state.get("passwordDigest") != digest:
        h.set_passwords([(user, entry["password"])], deadline)
        updates["passwordDigest"] = digest
    if updates:
        h.write_state(user, {**state, **updates})
    return "unchanged"


def password_digest(activation, password):
    """Tells a changed password without keeping it: a hash keyed by the activation (root-only state)."""
    return hmac.new(activation.encode(), password.encode(), hashlib.sha256).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cohort", required=True)
    p.add_argument("--workshop-dir", required=True)
    p.add_argument("--uid-offset", type=int, required=True)
    p.add_argument("--release-all", action="store_true")
    p.add_argument("--start-servers", action="store_true", help="start each learner's server now, not at their first login")
    p.add_argument("--deadline", type=float, default=1500)
    p.add_argument("--parallel", type=int, default=8)
    args = p.parse_args()
    data = {} if args.release_all else json.load(sys.stdin)
    if not args.release_all and not os.path.isdir(args.workshop_dir):
        sys.exit(f"sync-cohort: --workshop-dir {args.workshop_dir} is not a folder")
    h.ensure_dirs()
    cohort = Cohort(args, data.get("variables", {}))
    table = {int(slot): entry for slot, entry in (data.get("slots") or {}).items()}
    results = h.converge(cohort.name, table, h.SLOTS, h.Deadline(args.deadline), args.parallel,
                         activate=lambda slot, entry, deadline, released: activate(cohort, slot, entry, deadline, released),
                         release=lambda slot, state, deadline: release(cohort, slot, state, deadline))
    h.report_and_exit("cohort", cohort.name, results)


if __name__ == "__main__":
    main()
