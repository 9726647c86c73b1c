// The Automation API driver against a stand-in `pulumi` CLI that records its command lines (the
// real CLI cannot be installed here): it only ever selects an existing stack by its fully
// qualified name, fails clearly when the stack does not exist, and asks for plain messages.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../infra/load";
import { assertStackExists, pulumiEngine, StackMissing } from "../infra/reconcile/pulumi-engine";

const bin = fs.mkdtempSync(path.join(os.tmpdir(), "wod-fake-pulumi-"));
const calls = path.join(bin, "calls.log");
fs.writeFileSync(
  path.join(bin, "pulumi"),
  `#!/bin/sh
echo "$*" >> "${calls}"
stack=""; prev=""; for a in "$@"; do [ "$prev" = "--stack" ] && stack="$a"; prev="$a"; done
case "$1 $2" in
  "version "*) echo "v3.248.0" ;;
  "stack select")
    case "$4" in acme/wod/prod|acme/wod/hangs|acme/wod/works) exit 0 ;; esac
    echo "error: no stack named '$4' found" >&2; exit 255 ;;
  "stack output") echo "{}" ;;
  "stack export") echo '{"version": 3, "deployment": {"resources": [{"urn": "urn:pulumi:prod::wod::command:remote:Command::x", "type": "command:remote:Command", "outputs": {"stdout": "{}"}}]}}' ;;
  "stack history") echo "[]" ;;
  "preview "*|"up "*)
    case "$stack" in
      acme/wod/works) exit 0 ;;
      # An update that only ends when asked to: SIGINT is the CLI's graceful cancel.
      acme/wod/hangs) trap 'echo "got SIGINT" >> "${calls}"; kill $!; exit 255' INT; sleep 60 & wait; exit 0 ;;
    esac
    echo "error: the engine failed on purpose" >&2; exit 255 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
  { mode: 0o755 },
);
process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

const logged = () => fs.readFileSync(calls, "utf8").trim().split("\n");
const program = async () => ({});

describe("the Pulumi engine driver", () => {
  it("selects the stack by its fully qualified name and asks for uncoloured output; it never creates a stack", async () => {
    fs.writeFileSync(calls, "");
    const engine = pulumiEngine({ stack: "acme/wod/prod", workDir: ROOT, log: () => {} });
    await expect(engine.preview(program)).rejects.toThrow(/the engine failed on purpose/);
    const up = await engine.up(program);
    expect(up).toMatchObject({ ok: false, error: expect.stringMatching(/the engine failed on purpose/) });
    const lines = logged();
    expect(lines.filter((l) => l.startsWith("stack select"))).toEqual([expect.stringMatching(/^stack select --stack acme\/wod\/prod\b/), expect.stringMatching(/^stack select --stack acme\/wod\/prod\b/)]);
    for (const op of ["preview", "up"]) {
      const line = lines.find((l) => l.startsWith(`${op} `));
      expect(line, op).toMatch(/--stack acme\/wod\/prod\b/);
      expect(line, op).toMatch(/--color never/);
    }
    expect(lines.some((l) => /^stack (init|new)/.test(l))).toBe(false);
  });

  it("a stack that does not exist is a clear failure naming it and how to create it, before anything runs", async () => {
    fs.writeFileSync(calls, "");
    const engine = pulumiEngine({ stack: "acme/wod/typo", workDir: ROOT, log: () => {} });
    await expect(engine.preview(program)).rejects.toThrow(new StackMissing(
      "Pulumi stack acme/wod/typo does not exist in the logged-in backend: create it with `pulumi stack init acme/wod/typo`, or fix WOD_PULUMI_ORG / --pulumi-stack (a reconcile never creates a stack)",
    ));
    await expect(engine.outputs()).rejects.toBeInstanceOf(StackMissing);
    await expect(assertStackExists("acme/wod/typo", ROOT)).rejects.toBeInstanceOf(StackMissing);
    expect(logged().some((l) => /^(preview|up|stack init)/.test(l))).toBe(false);
  });

  it("an up past its time limit is cancelled through its signal (the CLI gets SIGINT), never with pulumi cancel", async () => {
    fs.writeFileSync(calls, "");
    const engine = pulumiEngine({ stack: "acme/wod/hangs", workDir: ROOT, log: () => {} });
    const deadline = new AbortController();
    // The time limit strikes while the update runs (once the CLI has been started).
    const started = setInterval(() => fs.readFileSync(calls, "utf8").includes("\nup ") && deadline.abort(), 50);
    const up = await engine.up(program, { signal: deadline.signal }).finally(() => clearInterval(started));
    expect(up.ok).toBe(false);
    expect(logged()).toContain("got SIGINT");
    expect(logged().some((l) => /^cancel\b/.test(l))).toBe(false);
  }, 60_000);

  it("reads the state and the update's summary without decrypting secrets; only the outputs (the credentials) are read decrypted", async () => {
    fs.writeFileSync(calls, "");
    const engine = pulumiEngine({ stack: "acme/wod/works", workDir: ROOT, log: () => {} });
    const up = await engine.up(program);
    expect(up).toMatchObject({ ok: true, state: [{ type: "command:remote:Command", outputs: { stdout: "{}" } }] });
    expect(await engine.state()).toHaveLength(1);
    const lines = logged();
    for (const read of ["stack export", "stack history"]) {
      expect(lines.filter((l) => l.startsWith(read)), read).not.toEqual([]);
      for (const l of lines.filter((x) => x.startsWith(read))) expect(l, read).not.toMatch(/--show-secrets/);
    }
    expect(lines.filter((l) => l.startsWith("stack output")).some((l) => /--show-secrets/.test(l))).toBe(true);
  }, 60_000);

  it("wod reconcile on a stack that does not exist stops with exit 2 and that reason, without touching the database", async () => {
    const run = promisify(execFile)(process.execPath, [path.join(ROOT, "infra/cli/bin.js"), "reconcile", "--stack", "prod"], {
      cwd: ROOT, env: { ...process.env, WOD_PULUMI_ORG: "acme-typo", DATABASE_URL: "postgres://nobody:x@127.0.0.1:9/none" },
    });
    const r = await run.then(() => ({ code: 0, stdout: "" }), (e: { code: number; stdout: string }) => e);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/nothing applied: Pulumi stack acme-typo\/wod\/prod does not exist/);
  }, 60_000);
});
