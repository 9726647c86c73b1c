"""What every slot operation on a wod host needs: paths, time limits, per-slot locks and state,
Linux accounts, the JupyterHub API, and the cleanup that leaves nothing of a learner behind.

Imported by sync-cohort.py and sync-appliance.py (run as root over SSH), never run itself except
`python3 wodhost.py wait-hub` (bootstrap-backend.sh waits for the hub with it). Secrets reach
these functions as arguments, from stdin; they are never put on a command line, in the
environment of another process, in a log line or in a file other than their target.
"""
import concurrent.futures
import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN = os.path.dirname(os.path.abspath(__file__))
ETC = os.environ.get("WOD_ETC", "/etc/wod")
VAR = os.environ.get("WOD_VAR", "/var/lib/wod")
HOMES = os.environ.get("WOD_HOMES", "/student")
SLOTS = os.path.join(VAR, "slots")
APPLIANCE_SLOTS = os.path.join(VAR, "appliance-slots")
LOCKS = os.path.join(VAR, "locks")
RELEASED = os.path.join(VAR, "released")
ARCHIVE = os.path.join(VAR, "archive")

# What a learner can leave outside their home: world-writable places and spools.
SHARED_PLACES = ["/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock"]
SPOOLS = ["/var/spool/cron/crontabs", "/var/spool/cron/atjobs", "/var/spool/cron/atspool"]
# Bounds on what is read from a learner's home at release (learner-files.py enforces them).
ARCHIVE_MAX_BYTES = int(os.environ.get("WOD_ARCHIVE_MAX_BYTES", str(512 << 20)))
ARCHIVE_MAX_FILE_BYTES = int(os.environ.get("WOD_ARCHIVE_MAX_FILE_BYTES", str(64 << 20)))


def log(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr, flush=True)


class SlotError(Exception):
    """One slot's operation failed; the message says which step and why (never a secret)."""


class Busy(SlotError):
    """The slot could not be worked on now (locked by another operation, or out of time): retry later."""


class Deadline:
    """A time budget; every blocking step gets what is left of it. Running out of a slot's own
    budget fails the slot; running out of the whole sync's (within=…) only postpones it."""

    def __init__(self, seconds, within=None):
        self.end = time.monotonic() + seconds
        self.postpone = within is not None and within.end <= self.end
        if within is not None:
            self.end = min(self.end, within.end)

    def left(self, cap=None):
        left = self.end - time.monotonic()
        if left <= 0:
            raise Busy("the sync ran out of time") if self.postpone else SlotError("took longer than its time limit")
        return min(left, cap) if cap else left


def run(args, deadline, input=None, check=True, user=None, cap=None):
    """Runs a command with what is left of the deadline; stdin carries secrets, never argv.
    user=(uid, gid) drops to that learner first (setpriv), for anything that reads or writes
    what a learner controls."""
    name = os.path.basename(args[0])
    if user is not None:
        uid, gid = user
        args = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--reset-env", "--"] + args
    try:
        p = subprocess.run(args, input=input, capture_output=True, timeout=deadline.left(cap), text=True)
    except subprocess.TimeoutExpired:
        raise SlotError(f"{name} did not finish in time") from None
    if check and p.returncode != 0:
        detail = (p.stderr.strip().splitlines() or [""])[-1][:400]
        raise SlotError(f"{name} exited {p.returncode}: {detail}")
    return p.stdout


# --- state and locks ------------------------------------------------------------------------

def state_file(user, states=SLOTS):
    return os.path.join(states, f"{user}.json")


def read_state(user, states=SLOTS):
    try:
        with open(state_file(user, states)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, data):
    """Atomic: readers see the old or the new file, never half of one."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)


def write_state(user, data, states=SLOTS):
    write_json(state_file(user, states), data)


def clear_state(user, states=SLOTS):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_file(user, states))


@contextlib.contextmanager
def slot_lock(user, deadline):
    """Serializes everything done to one slot on this host (cohort and appliance syncs alike)."""
    os.makedirs(LOCKS, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(LOCKS, f"{user}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.end - time.monotonic() <= 0:
                    raise Busy("another operation on this slot holds its lock") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def ensure_dirs():
    for d in (SLOTS, APPLIANCE_SLOTS, LOCKS, RELEASED, ARCHIVE):
        os.makedirs(d, mode=0o700, exist_ok=True)


# --- accounts -------------------------------------------------------------------------------

def slot_user(slot, offset):
    """student<N> with uid = gid = N + offset, home /student/student<N>."""
    return f"student{slot}", slot + offset, os.path.join(HOMES, f"student{slot}")


def ensure_slot_user(slot, offset, deadline):
    """Creates the locked slot user if missing; refuses a uid/gid mismatch rather than handing a
    learner someone else's files."""
    user, uid, home = slot_user(slot, offset)
    run(["bash", "-c", f'source {BIN}/lib.sh && ensure_slot_user "$1" "$2"', "_", str(slot), str(offset)], deadline)
    return user, uid, home


def lock_account(user, deadline):
    """Locked and expired: neither a password nor a key logs in from now on."""
    run(["usermod", "-L", "-e", "1970-01-02", user], deadline)


def set_passwords(pairs, deadline):
    """One chpasswd for many accounts; the passwords travel on its stdin only."""
    if pairs:
        run(["chpasswd"], deadline, input="".join(f"{user}:{password}\n" for user, password in pairs))


def unlock(user, deadline):
    """Clears the expiry; the new password hash (set by chpasswd) already replaced the lock."""
    run(["usermod", "-e", "", user], deadline)


def kill_processes(user, deadline):
    """SIGKILL until none is left running (a fork loop included). A killed child of the hub stays a
    zombie until the hub reaps it (it polls its servers every 30 s): a zombie runs nothing, holds
    nothing, and is not waited for."""
    uid = pwd.getpwnam(user).pw_uid
    while True:
        subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
        if not running_processes(uid):
            return
        if deadline.end - time.monotonic() <= 0:
            raise SlotError(f"processes of {user} survive SIGKILL")
        time.sleep(0.05)


def running_processes(uid):
    """Pids of the uid's processes that are not zombies, from /proc."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # gone meanwhile
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith("Z"):
            pids.append(int(pid))
    return pids


def wipe_home(home, uid, deadline):
    """Empties the home (as root, never following a link) and gives it back to the slot user."""
    os.makedirs(home, exist_ok=True)
    run(["find", home, "-xdev", "-mindepth", "1", "-delete"], deadline, cap=600)
    os.chown(home, uid, uid)
    os.chmod(home, 0o700)


def fill_home(home, uid, deadline):
    """/etc/skel's files, owned by the learner, the home itself 0700."""
    run(["cp", "-a", "/etc/skel/.", home + "/"], deadline)
    run(["chown", "-R", f"{uid}:{uid}", home], deadline)
    os.chmod(home, 0o700)


def remove_leftovers(user, uid, deadline):
    """Everything of the uid outside its home: files in shared places, crontab, at jobs, SysV IPC.
    Run after the learner's processes are gone, so nothing is recreated behind it."""
    for place in SHARED_PLACES:
        if os.path.isdir(place):
            run(["find", place, "-xdev", "-mindepth", "1", "-user", str(uid), "-depth", "-delete"], deadline, check=False, cap=300)
            # Directories the learner owned may hold others' files; those are theirs to keep, the directory goes.
            run(["find", place, "-xdev", "-mindepth", "1", "-user", str(uid), "-exec", "rm", "-rf", "--", "{}", "+"], deadline, check=False, cap=300)
    for spool in SPOOLS:
        if os.path.isdir(spool):
            for entry in os.scandir(spool):
                with contextlib.suppress(OSError):
                    if entry.name == user or entry.stat(follow_symlinks=False).st_uid == uid:
                        os.unlink(entry.path)
    for kind, flag in (("shm", "-m"), ("msg", "-q"), ("sem", "-s")):
        for ipc_id in sysv_ids(kind, uid):
            subprocess.run(["ipcrm", flag, ipc_id], capture_output=True)
    if os.path.isdir("/run/systemd/system"):
        subprocess.run(["loginctl", "terminate-user", user], capture_output=True)


def sysv_ids(kind, uid):
    """Ids of the SysV IPC objects of one kind the uid owns (or created), from /proc/sysvipc."""
    try:
        with open(f"/proc/sysvipc/{kind}") as f:
            header, *rows = f.read().splitlines()
    except OSError:
        return []
    cols = header.split()
    out = []
    for row in rows:
        values = dict(zip(cols, row.split()))
        if str(uid) in (values.get("uid"), values.get("cuid")):
            out.append(values["msqid" if kind == "msg" else "semid" if kind == "sem" else "shmid"])
    return out


# --- JupyterHub -----------------------------------------------------------------------------

def hub_call(method, path, timeout=30):
    """(status, JSON body or None); HTTP errors are statuses. The token is read here, from its file."""
    try:
        with open(os.path.join(ETC, "hub-api-url")) as f:
            url = f.read().strip()
    except FileNotFoundError:
        url = "http://127.0.0.1:8081/hub/api"
    req = urllib.request.Request(url + path, method=method, data=b"" if method in ("POST", "DELETE") else None)
    if path != "/":
        with open(os.path.join(ETC, "hub-token")) as f:
            req.add_header("Authorization", "token " + f.read().strip())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


def wait_for(condition, deadline, what, cap=None):
    end = time.monotonic() + deadline.left(cap)
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise SlotError(f"timed out waiting for {what}")


def hub_forget(user, deadline):
    """Deletes the hub user: its server stops, and every token, OAuth client grant and cookie of the
    learner becomes invalid (the cookie id dies with the user). A fresh hub user is created at the
    next activation, so nothing passes from one learner to the next."""
    def gone():
        status, body = hub_call("DELETE", f"/users/{user}")
        if status in (204, 404):
            return True
        if status == 400 and "pending" in json.dumps(body):
            return False  # a spawn or stop in progress: try again
        raise SlotError(f"hub: deleting user {user} answered {status}: {json.dumps(body)[:200]}")

    wait_for(gone, deadline, f"the hub to forget {user}", cap=120)


def hub_create(user):
    status, body = hub_call("POST", f"/users/{user}")
    if status not in (201, 409):
        raise SlotError(f"hub: creating user {user} answered {status}: {json.dumps(body)[:200]}")


def hub_spawn(user):
    """Asks the hub to start the learner's server; does not wait."""
    status, body = hub_call("POST", f"/users/{user}/server")
    if status not in (201, 202) and not (status == 400 and "already" in json.dumps(body)):
        raise SlotError(f"hub: starting {user}'s server answered {status}: {json.dumps(body)[:200]}")


def hub_ready(user):
    status, body = hub_call("GET", f"/users/{user}")
    if status != 200:
        return False
    return bool(((body or {}).get("servers") or {}).get("", {}).get("ready"))


def wait_hub(seconds):
    def up():
        try:
            return hub_call("GET", "/")[0] == 200
        except OSError:
            return False

    try:
        wait_for(up, Deadline(seconds), "the hub API")
    except SlotError as e:
        sys.exit(f"wodhost: {e}")


# --- what is read from a learner's home, as the learner ---------------------------------------

def completion(uid, totals_json, learner_dir, deadline):
    """Executed / total code cells of the workshop's notebooks (totals counted at activation),
    read from the learner's copies as the learner."""
    out = run(["python3", os.path.join(BIN, "learner-files.py"), "completion", totals_json, learner_dir],
              deadline, user=(uid, uid), cap=300)
    return json.loads(out)


def archive_home(uid, user, dest, deadline):
    """tar.gz of the home built by the learner (never following a link, skipping FIFOs and devices,
    bounded in bytes): root only writes the stream it gets. Returns the archiver's summary."""
    tmp = dest + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        args = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--reset-env", "--",
                "python3", os.path.join(BIN, "learner-files.py"), "archive", HOMES, user,
                str(ARCHIVE_MAX_BYTES), str(ARCHIVE_MAX_FILE_BYTES)]
        budget = deadline.left(900)
        # The archiver stops adding files a little before the budget, so the archive stays whole.
        args.append(str(max(1, budget * 0.8 - 5)))
        try:
            p = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, timeout=budget)
        except subprocess.TimeoutExpired:
            raise SlotError("archiving the home did not finish in time") from None
    if p.returncode != 0:
        raise SlotError(f"archiving the home failed: {(p.stderr.decode(errors='replace').strip().splitlines() or [''])[-1][:300]}")
    os.replace(tmp, dest)
    return json.loads(p.stderr.decode().strip().splitlines()[-1])


def user_exists(user):
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


# --- converging a table of slots -------------------------------------------------------------

ACTIVATE_SECONDS = 300
RELEASE_SECONDS = 600


def mark_failed(user, error, deadline, states, lock):
    """A failed activation leaves its state marked failed, and the account locked when `lock`."""
    try:
        if lock:
            lock_account(user, deadline)
        state = read_state(user, states)
        if state:
            write_state(user, {**state, "status": "failed", "error": error}, states)
    except SlotError:
        pass


def report_and_exit(kind, name, results):
    """A sync's ending: its results as one JSON line on stdout, a summary on stderr, and exit
    status 3 when some slot was not attempted (out of time: the next run takes it up)."""
    print(json.dumps({kind: name, **results}, separators=(",", ":"), sort_keys=True))
    counts = results["summary"]
    log(f"{kind} {name}: " + (", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do"))
    sys.exit(3 if counts["notAttempted"] else 0)


def converge(owner, table, states, deadline, parallel, activate, release, lock_on_failure=True):
    """Brings the slots `owner` (a cohort or an appliance) holds on this host to `table`
    ({slot: entry}): slots that left it are released, the others activated (the callback answers
    "unchanged" when the slot already is). Slots are worked on in parallel, each under its lock
    and its own time limit; one slot's failure never stops the others (it is marked failed, its
    account locked unless `lock_on_failure` is false). Returns per-slot results, the release
    records made and counts."""
    owned = {}
    for name in os.listdir(states):
        if name.startswith("student") and name.endswith(".json"):
            state = read_state(name[:-5], states)
            if state and state.get("owner") == owner and state.get("activation"):
                owned[int(state["slot"])] = state
    leaving = sorted(s for s in owned if s not in table)

    def release_job(slot):
        try:
            limit = Deadline(RELEASE_SECONDS, within=deadline)
            with slot_lock(f"student{slot}", limit):
                state = read_state(f"student{slot}", states)
                if not state or state.get("activation") != owned[slot]["activation"]:
                    return "gone", None  # another owner took the slot meanwhile (and released this activation)
                return "released", release(slot, state, limit)
        except (SlotError, OSError, ValueError, KeyError) as e:
            return ("busy" if isinstance(e, Busy) else "release-failed"), str(e)

    def activate_job(slot):
        released = []
        try:
            limit = Deadline(ACTIVATE_SECONDS, within=deadline)
            with slot_lock(f"student{slot}", limit):
                try:
                    outcome = activate(slot, table[slot], limit, released)
                    return outcome, released, None
                except (SlotError, OSError, ValueError, KeyError) as e:
                    if isinstance(e, Busy):
                        raise
                    mark_failed(f"student{slot}", str(e), limit, states, lock_on_failure)
                    return "failed", released, str(e)
        except (SlotError, OSError, ValueError, KeyError) as e:
            return "busy", released, str(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        releases = {slot: pool.submit(release_job, slot) for slot in leaving}
        activations = {slot: pool.submit(activate_job, slot) for slot in sorted(table)}

    results = {"slots": {}, "released": []}
    counts = {"activated": 0, "unchanged": 0, "released": 0, "failed": 0, "releaseFailed": 0, "notAttempted": 0}
    for slot, future in releases.items():
        outcome, value = future.result()
        state = owned[slot]
        if outcome == "released":
            results["released"].append(value)
            counts["released"] += 1
        elif outcome != "gone":
            error = f"slot {slot} (registration {state['registration']}): release {'not finished' if outcome == 'busy' else 'failed'}: {value}"
            log(error)
            counts["notAttempted" if outcome == "busy" else "releaseFailed"] += 1
            results["slots"][str(slot)] = {"registration": state["registration"], "generation": int(state.get("generation", 1)),
                                           "status": "release-failed", "error": error}
    for slot, future in activations.items():
        outcome, released, error = future.result()
        entry = table[slot]
        results["released"].extend(released)
        counts["released"] += len(released)
        result = {"registration": str(entry["registration"]), "generation": int(entry.get("generation", 1)), "status": "active"}
        if outcome == "busy":
            log(f"slot {slot} (registration {entry['registration']}): not finished, retried next run: {error}")
            counts["notAttempted"] += 1
            continue
        if outcome == "failed":
            result.update(status="failed", error=f"slot {slot} (registration {entry['registration']}): {error}")
            log(result["error"])
            counts["failed"] += 1
        else:
            if isinstance(outcome, tuple):  # an appliance answers its produced values too
                outcome, result["values"] = outcome
            counts["activated" if outcome == "active" else "unchanged"] += 1
        results["slots"][str(slot)] = result
    results["summary"] = counts
    return results


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "wait-hub":
        wait_hub(float(sys.argv[2]) if len(sys.argv) > 2 else 60)
    else:
        sys.exit("usage: wodhost.py wait-hub [SECONDS]")
