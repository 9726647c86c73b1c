#!/usr/bin/env python3
"""Converges the students of one workshop appliance: each live slot has its share of the
appliance (set up by the workshop's student script), and a slot that left is released.

usage: sync-appliance.py --appliance NAME --script PATH --uid-offset N [--on-backend] [--reset]
                         [--release-all] [--deadline SECONDS] [--parallel N]       <table JSON

stdin: {"slots": {"<slot>": {"registration": "101", "generation": 1, "password": "…",
        "ports": {"http": 14151}}}}. stdout: {"appliance": …, "slots": {"<slot>": {…, "values":
        {"SPARKTOK": "…"}}}, "released": […], "summary": {…}} — the values are what the student
script produced for the notebooks (the stack keeps this output secret).

The workshop's script runs as root as `bash SCRIPT setup|release|reset` with STDID, USERNAME,
PORT_<NAME> and WOD_VALUES (a file where it appends KEY=VALUE lines) in its environment and the
password on stdin. On its own machine the appliance keeps a `student<N>` account per slot, with
the same lifecycle as on a backend: set up fresh for each registration, locked, emptied and its
leftovers removed at release whether or not the workshop resets. `--on-backend` (an existing
location, where the backend is also the appliance) leaves the account to the backend's cohort
and only runs the script; the slot's lock keeps the two from ever working on a slot at once.
"""
import argparse
import json
import os
import re
import sys
import tempfile

import wodhost as h

VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class Appliance:
    def __init__(self, args):
        self.name, self.script, self.offset = args.appliance, args.script, args.uid_offset
        self.on_backend, self.reset = args.on_backend, args.reset


def run_script(appliance, verb, slot, user, password, ports, deadline):
    """The workshop's student script; returns the values it wrote to WOD_VALUES."""
    with tempfile.NamedTemporaryFile("r", prefix="wod-values.", dir=h.VAR) as values:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "STDID": str(slot), "USERNAME": user,
               "WOD_VALUES": values.name, **{f"PORT_{name.upper()}": str(port) for name, port in sorted(ports.items())}}
        h.run(["env", "-i", *[f"{k}={v}" for k, v in env.items()], "bash", appliance.script, verb], deadline,
              input=(password or "") + "\n", cap=240)
        produced = {}
        for line in values.read().splitlines():
            m = VALUE.match(line)
            if m:
                produced[m.group(1)] = m.group(2)
        return produced


def release(appliance, slot, state, deadline):
    user, uid, home = h.slot_user(slot, appliance.offset)
    h.write_state(user, {**state, "status": "releasing"}, h.APPLIANCE_SLOTS)
    if not appliance.on_backend:
        h.lock_account(user, deadline)
        h.kill_processes(user, deadline)
    run_script(appliance, "reset" if appliance.reset else "release", slot, user, None, state.get("ports", {}), deadline)
    if not appliance.on_backend:
        h.wipe_home(home, uid, deadline)
        h.remove_leftovers(user, uid, deadline)
    h.clear_state(user, h.APPLIANCE_SLOTS)
    return {"registration": state["registration"], "generation": state.get("generation", 1), "slot": slot,
            "user": user, "appliance": appliance.name, "releasedAt": h.now_iso()}


def activate(appliance, slot, entry, deadline, released):
    registration, generation = str(entry["registration"]), int(entry.get("generation", 1))
    user, uid, home = h.slot_user(slot, appliance.offset)
    state = h.read_state(user, h.APPLIANCE_SLOTS)
    if state and state.get("registration") == registration and int(state.get("generation", 1)) == generation \
            and state.get("status") == "active":
        return "unchanged", state.get("values", {})
    if state and state.get("activation"):
        released.append(release(appliance, slot, state, deadline))

    ports = entry.get("ports", {})
    h.write_state(user, {"owner": appliance.name, "slot": slot, "registration": registration, "generation": generation,
                         "activation": f"{registration}.{generation}.{os.urandom(4).hex()}", "ports": ports,
                         "status": "activating"}, h.APPLIANCE_SLOTS)
    if not appliance.on_backend:
        h.ensure_slot_user(slot, appliance.offset, deadline)
        h.lock_account(user, deadline)
        h.kill_processes(user, deadline)
        h.remove_leftovers(user, uid, deadline)
        h.wipe_home(home, uid, deadline)
        h.fill_home(home, uid, deadline)
        h.set_passwords([(user, entry["password"])], deadline)
        h.unlock(user, deadline)
    values = run_script(appliance, "setup", slot, user, entry["password"], ports, deadline)
    state = h.read_state(user, h.APPLIANCE_SLOTS)
    h.write_state(user, {**state, "values": values, "status": "active"}, h.APPLIANCE_SLOTS)
    return "active", values


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--appliance", required=True)
    p.add_argument("--script", required=True)
    p.add_argument("--uid-offset", type=int, required=True)
    p.add_argument("--on-backend", action="store_true")
    p.add_argument("--reset", action="store_true")
    p.add_argument("--release-all", action="store_true")
    p.add_argument("--deadline", type=float, default=1500)
    p.add_argument("--parallel", type=int, default=8)
    args = p.parse_args()
    if not os.path.isfile(args.script):
        sys.exit(f"sync-appliance: --script {args.script} is not a file")
    data = {} if args.release_all else json.load(sys.stdin)
    h.ensure_dirs()
    appliance = Appliance(args)
    table = {int(slot): entry for slot, entry in (data.get("slots") or {}).items()}
    results = h.converge(appliance.name, table, h.APPLIANCE_SLOTS, h.Deadline(args.deadline), args.parallel,
                         activate=lambda slot, entry, deadline, released: activate(appliance, slot, entry, deadline, released),
                         release=lambda slot, state, deadline: release(appliance, slot, state, deadline),
                         lock_on_failure=not appliance.on_backend)
    h.report_and_exit("appliance", appliance.name, results)


if __name__ == "__main__":
    main()
