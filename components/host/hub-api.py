#!/usr/bin/env python3
"""Start and stop a user's single-user server through the JupyterHub REST API.

usage: hub-api.py wait-hub | start USER | stop USER      [--timeout SECONDS]

The `wod` service token is read from /etc/wod/hub-token here, so it never appears on a
command line; the API address comes from /etc/wod/hub-api-url (written by bootstrap).
Every command is idempotent: starting a running server or stopping a stopped one succeeds.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

ETC = os.environ.get("WOD_ETC", "/etc/wod")


def api_url():
    try:
        with open(os.path.join(ETC, "hub-api-url")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return "http://127.0.0.1:8081/hub/api"


def call(method, path, token=True):
    """Returns (status, parsed JSON body or None); HTTP errors are statuses, not exceptions."""
    req = urllib.request.Request(api_url() + path, method=method)
    if token:
        with open(os.path.join(ETC, "hub-token")) as f:
            req.add_header("Authorization", "token " + f.read().strip())
    if method in ("POST", "DELETE"):
        req.data = b""
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


def server(user):
    """The default server's model, or None when the user has none (or is unknown to the hub)."""
    status, model = call("GET", f"/users/{user}")
    if status == 404:
        return None
    if status != 200:
        sys.exit(f"hub-api: GET /users/{user} answered {status}")
    return (model.get("servers") or {}).get("")


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.25)
    sys.exit(f"hub-api: timed out after {timeout}s waiting for {what}")


def wait_hub(timeout):
    def up():
        try:
            return call("GET", "/", token=False)[0] == 200
        except OSError:
            return False

    wait(up, timeout, "the hub API")


def start(user, timeout):
    if call("GET", f"/users/{user}")[0] == 404:
        status, _ = call("POST", f"/users/{user}")
        if status not in (201, 409):
            sys.exit(f"hub-api: creating hub user {user} answered {status}")
    current = server(user)
    if current and current.get("ready"):
        return
    if not (current and current.get("pending") == "spawn"):
        status, body = call("POST", f"/users/{user}/server")
        already = status == 400 and "already running" in json.dumps(body)
        if status not in (201, 202) and not already:
            sys.exit(f"hub-api: starting {user}'s server answered {status}: {body}")
    wait(lambda: (server(user) or {}).get("ready"), timeout, f"{user}'s server to be ready")


def stop(user, timeout):
    current = server(user)
    if current is None:
        return
    if current.get("pending") != "stop":
        status, body = call("DELETE", f"/users/{user}/server")
        if status not in (202, 204):
            sys.exit(f"hub-api: stopping {user}'s server answered {status}: {body}")
    wait(lambda: server(user) is None, timeout, f"{user}'s server to stop")


def main(argv):
    timeout = 120.0
    if "--timeout" in argv:
        i = argv.index("--timeout")
        timeout = float(argv[i + 1])
        del argv[i : i + 2]
    if argv == ["wait-hub"]:
        wait_hub(timeout)
    elif len(argv) == 2 and argv[0] in ("start", "stop"):
        (start if argv[0] == "start" else stop)(argv[1], timeout)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
