import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LIMITS, TemplateError, checkFolder, isRendered, renderFolder, renderTemplate } from "../components/host/render";

const RENDER_JS = path.join(__dirname, "../components/host/render.js");
const PASSWORD = "Zq8-secret-Pw";
const VARS = {
  STDID: 7,
  PASSSTU: PASSWORD,
  WORKSHOP: "WKSHP-Docker101",
  MODEWS: "CHLG",
  BRANDING: "ACME",
  WODBEEXTFQDN: "wod.example.org",
  HTTPPORT: "8007",
  inventory_hostname: "backend1",
  "IP-WKSHP-Docker101": "10.0.0.5",
};

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wod-render-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
/** A workshop folder from { relative path: content }. */
function workshop(files: Record<string, string | Buffer>): string {
  const dir = path.join(scratch, `src${++folders}`);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
const destination = () => path.join(scratch, `dest${++folders}`);
const render = (text: string, vars: Record<string, unknown> = VARS, file = "lab.py") => renderTemplate(text, vars, { file });
function renderError(text: string, vars: Record<string, unknown> = VARS, file = "lab.py"): TemplateError {
  try {
    render(text, vars, file);
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error(`expected a TemplateError for ${JSON.stringify(text)}`);
}
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const notebook = (...sources: string[]) =>
  `{\n "cells": [\n${sources.map((s) => `  {"cell_type": "markdown", "metadata": {}, "source": ${s}}`).join(",\n")}\n ],\n "metadata": {},\n "nbformat": 4,\n "nbformat_minor": 5\n}\n`;

describe("workshop templates render as WoD renders them", () => {
  it("renders the forms real WoD notebooks use", () => {
    const text = [
      "# Welcome to {{ BRANDING }} ({{ WORKSHOP}}, student{{STDID }})",
      "{% if MODEWS == 'CHLG' %}",
      "Challenge mode",
      "{% else %}",
      "Workshop mode",
      "{% endif %}",
      "{% raw %}docker ps --format '{{range .items}}{{.Name}}{{end}}'{% endraw %}",
      "Literal braces: {{ '{{' }} x {{ '}}' }} {{ '{%' }} {{ '{#' }}",
      "Appliance: {{ hostvars[inventory_hostname]['IP-WKSHP-Docker101'] }}",
      "",
    ].join("\n");
    expect(render(text)).toBe(
      [
        "# Welcome to ACME (WKSHP-Docker101, student7)",
        "Challenge mode",
        // like any block tag, {% endraw %} takes the newline after it
        "docker ps --format '{{range .items}}{{.Name}}{{end}}'Literal braces: {{ x }} {% {#",
        "Appliance: 10.0.0.5",
        "",
      ].join("\n"),
    );
  });

  it("an undefined variable is an error naming the file, the line and the variable", () => {
    const e = renderError("line one\nline two {{ NOPE }}\n", VARS, "WKSHP-X/1-Lab.ipynb");
    expect(e).toMatchObject({ file: "WKSHP-X/1-Lab.ipynb", line: 2, reason: "'NOPE' is undefined" });
    expect(e.message).toBe("WKSHP-X/1-Lab.ipynb:2: 'NOPE' is undefined");
    expect(renderError("{{ hostvars[inventory_hostname]['IP-WKSHP-Spark101'] }}").reason).toContain("IP-WKSHP-Spark101");
    expect(renderError("{% if SURVEYURL %}x{% endif %}").reason).toBe("'SURVEYURL' is undefined");
  });

  it("`is defined`, `is not defined` and default/d work on undefined names", () => {
    expect(render("{{ NOPE is defined }} {{ NOPE is not defined }} {{ NOPE | default('x') }} {{ NOPE | d('y') }}")).toBe("False True x y");
    expect(render("{% if SURVEYURL is defined %}{{ SURVEYURL }}{% else %}no survey{% endif %}")).toBe("no survey");
    expect(render("{{ '' | default('empty', true) }}")).toBe("empty");
  });

  it("inventory_hostname is only what the caller passes; a caller's own hostvars wins", () => {
    const { inventory_hostname: _, ...withoutHost } = VARS;
    expect(renderError("{{ hostvars[inventory_hostname]['X'] }}", withoutHost).reason).toBe("'inventory_hostname' is undefined");
    expect(render("{{ hostvars['h']['a'] }}", { hostvars: { h: { a: "from caller" } } })).toBe("from caller");
  });

  it("block tags at the end of a line take their newline with them (trim_blocks); the last newline stays", () => {
    expect(render("{% if true %}\nA\n{% endif %}\nB\n")).toBe("A\nB\n");
    expect(render("{# note #}\nA\n")).toBe("A\n");
    expect(render("{{ STDID }}\nA")).toBe("7\nA"); // not after {{ }}
    expect(render("A  {%- if true -%}  \n  B{%+ endif +%}\nC")).toBe("AB\nC");
    expect(render("{{- ' x ' -}}\n")).toBe(" x ");
  });

  it("reads CRLF as LF, as Ansible's template module does", () => {
    expect(render("a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n")).toBe("a\nb\n");
  });

  it("prints values as Python does and keeps Python's rules for operators", () => {
    expect(render("{{ true }} {{ none }} {{ 4 / 2 }} {{ 7 // 2 }} {{ 0.1 }} {{ 1e16 }} {{ [1, 'a', none] }} {{ {'k': 1.5} }} {{ (1,) }}")).toBe(
      "True None 2.0 3 0.1 1e+16 [1, 'a', None] {'k': 1.5} (1,)",
    );
    expect(render("{{ 'port ' ~ STDID }} {{ STDID + 1 }} {{ 'ab' * 2 }} {{ '%s-%03d' | format('x', 5) }}")).toBe("port 7 8 abab x-005");
    expect(renderError("{{ 'port ' + STDID }}").reason).toBe("unsupported operand types for +: str and int");
    expect(render("{% for x in ['', 0, [], {}, none, 'a'] %}{{ 'T' if x else 'F' }}{% endfor %}")).toBe("FFFFFT");
  });

  it("loops give loop.index/first/last/length, iterate dict keys, and filter with if", () => {
    expect(render("{% for i in range(3) %}{{ loop.index }}{{ '.' if loop.first }}{% if not loop.last %},{% endif %}{% endfor %}")).toBe("1.,2,3");
    expect(render("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}")).toBe("ba");
    expect(render("{% for i in range(5) if i is odd %}{{ i }}/{{ loop.length }} {% else %}none{% endfor %}")).toBe("1/2 3/2 ");
    expect(render("{% for i in [] %}x{% else %}empty{% endfor %}")).toBe("empty");
  });

  it("a value that looks like a template is printed as is, never rendered twice", () => {
    expect(render("{{ NOTE }}", { NOTE: "{{ PASSSTU }} {% if x %}" })).toBe("{{ PASSSTU }} {% if x %}");
  });
});

describe("templates cannot run code or reach the platform", () => {
  const marker = path.join(scratch, "pwned");
  const payloads = [
    `{{ cycler.__init__.__globals__.os.popen('touch ${marker}').read() }}`,
    "{{ ''.__class__.__mro__ }}",
    `{{ x.constructor.constructor('require("fs").writeFileSync("${marker}", "x")')() }}`,
    "{{ x.constructor.constructor('globalThis.wodPwned = 1')() }}",
    "{{ self }}",
    "{{ lipsum }}",
    "{{ range.__globals__ }}",
    "{{ x.__proto__ }}",
    "{{ x['constructor'] }}",
    "{{ x.constructor }}",
    "{{ D.constructor }}",
    "{{ D['__proto__'] }}",
    "{{ L.constructor }}",
    "{{ x.upper() }}",
    "{{ D.items() }}",
    "{{ request.application.__globals__.__builtins__.__import__('os') }}",
    "{% set f = x.constructor %}{{ f }}",
    "{{ x|attr('constructor') }}",
    "{{ namespace() }}",
  ];
  it.each(payloads)("%s is a TemplateError and executes nothing", (payload) => {
    const vars = { x: "abc", D: { a: 1 }, L: [1] };
    expect(() => render(payload, vars)).toThrow(TemplateError);
    expect(fs.existsSync(marker)).toBe(false);
    expect((globalThis as Record<string, unknown>).wodPwned).toBeUndefined();
  });

  it("refuses unsupported syntax at parse time, even in a branch the sample slot does not take", () => {
    const cases: [string, RegExp][] = [
      ["{% if false %}{{ x.upper() }}{% endif %}", /method calls such as x.upper\(\) are not supported by wod's renderer/],
      ["{% if false %}{{ x | regex_replace('a', 'b') }}{% endif %}", /filter 'regex_replace' is not supported by wod's renderer/],
      ["{% if false %}{% include 'other.j2' %}{% endif %}", /\{% include %\} is not supported by wod's renderer/],
      ["{% macro m() %}{% endmacro %}", /\{% macro %\} is not supported by wod's renderer/],
      ["{% if false %}{{ x is callable }}{% endif %}", /test 'callable' is not supported by wod's renderer/],
      ["{% set x %}captured{% endset %}", /set blocks .* are not supported by wod's renderer/],
    ];
    for (const [text, reason] of cases) {
      const e = renderError(`first line\n${text}`, { x: "a" });
      expect(e.reason).toMatch(reason);
      expect(e.line).toBe(2);
    }
    expect(renderError("{{ x._private }}", { x: { _private: 1 } }).reason).toMatch(/names starting with '_' are not supported/);
  });

  it("JSON variables cannot pollute prototypes or reach them", () => {
    const vars = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c"}');
    expect(render("{{ constructor }} {{ polluted is defined }} {{ __proto__.polluted }}", vars)).toBe("c False yes");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("rendering is bounded: caps end in a TemplateError, never a hang", () => {
  it("a huge range, nested loops, deep nesting, long chains and huge outputs all fail", () => {
    expect(renderError("{% for i in range(100000000) %}x{% endfor %}").reason).toMatch(/range\(\) of more than 100000 items/);
    expect(renderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").reason).toMatch(/more than 100000 loop iterations/);
    expect(renderError(`{{ ${"(".repeat(100000)}1${")".repeat(100000)} }}`).reason).toMatch(/nest/);
    expect(renderError(`{{ ${"-".repeat(100000)}1 }}`).reason).toMatch(/nest/);
    expect(renderError(`{{ 1${" + 1".repeat(100000)} }}`).reason).toMatch(/nest/);
    expect(renderError(`${"{% if true %}".repeat(1000)}x${"{% endif %}".repeat(1000)}`).reason).toMatch(/nest/);
    expect(renderError("{{ 'x' * 1000000000 }}").reason).toMatch(/longer than 50 MiB/);
    expect(renderError("{% for i in range(100000) %}{{ BIG }}{% endfor %}", { BIG: "x".repeat(1000) }).reason).toMatch(/output is larger than 50 MiB/);
    expect(renderError("{{ [1] * 100000 * 100000 }}").reason).toMatch(/more than 1000000 items/);
    expect(renderError("{{ 2 ** 1000 }}").reason).toMatch(/2\*\*53/);
    expect(renderError("x".repeat(LIMITS.templateChars + 1)).reason).toMatch(/larger than 10 MiB/);
  });

  it("work on big values counts: loops over large strings and lists stop at the work cap", () => {
    const vars = { BIG: "x".repeat(1024 * 1024) + "😀" };
    for (const text of [
      "{% for i in range(100000) %}{{ BIG | lower | length }}{% endfor %}",
      "{% for i in range(100000) %}{{ BIG[5] }}{% endfor %}",
      "{% for i in range(100000) %}{{ 'y' in BIG }}{% endfor %}",
      "{% for i in range(100000) %}{{ range(100000) | sum }}{% endfor %}",
      "{% set L = range(100000) | list %}{% for i in range(100000) %}{{ L == L }}{% endfor %}",
      "{% for i in range(100000) %}{{ [BIG] | tojson | length }}{% endfor %}",
    ]) {
      expect(renderError(text, vars).reason).toBe(`rendering takes more than ${LIMITS.work} steps`);
    }
  });

  it("text that makes regular expressions backtrack stays linear", () => {
    const long = "1".repeat(200000);
    expect(render(`{{ '${long}x' | int }}`)).toBe("0");
    expect(render(`{{ ${long.slice(0, 15)} }}`)).toBe(long.slice(0, 15));
    expect(render(`${" ".repeat(200000)}x{{- 'y' }}`)).toBe(" ".repeat(200000) + "xy");
  });
});

describe("workshop folders: WoD's file rule, notebooks, files and links", () => {
  it("renders the file kinds WoD renders and copies everything else byte for byte", () => {
    const rendered = ["0-ReadMeFirst.ipynb", "app.yaml", "lab.py", "setup.sh", "env.src", "main.tf", "app.env", "Variables.ps1", "sub/dir/x.sh"];
    const copied = ["wod.yml", "templates/a.j2", "README.md", "logo.png", "data.csv", ".env", ".hidden.sh", "variables.ps1", "LICENSE"];
    for (const f of rendered) expect(isRendered(f), f).toBe(true);
    for (const f of copied) expect(isRendered(f), f).toBe(false);
    expect(isRendered(".ipynb_checkpoints/0-ReadMeFirst-checkpoint.ipynb")).toBe(false);
  });

  it("reports {{.State.Running}} and ${#arr[@]} in a shell file with file and line, and copies the same text verbatim elsewhere", () => {
    const goTemplate = "#!/bin/sh\ndocker inspect -f '{{.State.Running}}' web\n";
    const bashArray = "#!/bin/bash\narr=(a b)\necho ${#arr[@]}\n";
    const dir = workshop({ "check.sh": goTemplate, "count.sh": bashArray, "play.yml": goTemplate, "templates/count.j2": bashArray, "NOTES.md": goTemplate + bashArray });
    const problems = checkFolder(dir, VARS);
    expect(problems).toEqual([
      { file: "check.sh", line: 2, reason: expect.stringContaining("'.'") },
      { file: "count.sh", line: 3, reason: expect.stringMatching(/end of comment/) },
    ]);
    const fixed = workshop({ "check.sh": "docker inspect -f '{% raw %}{{.State.Running}}{% endraw %}' web\n", "play.yml": goTemplate, "templates/count.j2": bashArray, "NOTES.md": goTemplate + bashArray });
    expect(checkFolder(fixed, VARS)).toEqual([]);
    const dest = destination();
    expect(renderFolder(fixed, dest, VARS)).toEqual({ rendered: 1, copied: 3 });
    expect(fs.readFileSync(path.join(dest, "check.sh"), "utf8")).toBe("docker inspect -f '{{.State.Running}}' web\n");
    for (const f of ["play.yml", "templates/count.j2", "NOTES.md"]) expect(sha256(path.join(dest, f))).toBe(sha256(path.join(fixed, f)));
  });

  it("a raw block between the JSON lines of a notebook is fine when the result is a notebook", () => {
    const text = [
      "{",
      ' "cells": [',
      '  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": [',
      "{% raw %}",
      "   \"docker ps --format '{{.Names}}'\\n\",",
      "{% endraw %}",
      '   "echo student{{ STDID }}"',
      "  ]}",
      " ],",
      ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5',
      "}",
      "",
    ].join("\n");
    const dir = workshop({ "1-Lab.ipynb": text });
    expect(checkFolder(dir, VARS)).toEqual([]);
    const dest = destination();
    renderFolder(dir, dest, VARS);
    const nb = JSON.parse(fs.readFileSync(path.join(dest, "1-Lab.ipynb"), "utf8"));
    expect(nb.cells[0].source).toEqual(["docker ps --format '{{.Names}}'\n", "echo student7"]);
  });

  it("a notebook that is not valid JSON once rendered is reported with its line", () => {
    const text = notebook('["a"]').replace(
      '"source": ["a"]}',
      "\"source\": [\"a\"]},\n{% if MODEWS == 'WKSHP' %}\n  {\"cell_type\": \"markdown\", \"metadata\": {}, \"source\": [\"b\"]}\n{% endif %}",
    );
    const dir = workshop({ "0-ReadMeFirst.ipynb": text, "2-Notjson.ipynb": "{{ STDID }}\n" });
    const problems = checkFolder(dir, VARS);
    expect(problems).toEqual([
      { file: "0-ReadMeFirst.ipynb", line: 4, reason: "the rendered notebook is not valid JSON (at line 4 of the rendered text)" },
      { file: "2-Notjson.ipynb", line: 0, reason: expect.stringMatching(/not a Jupyter notebook/) },
    ]);
    expect(() => renderFolder(dir, destination(), VARS)).toThrow(TemplateError);
  });

  it("values with quotes, backslashes and newlines keep a notebook valid, and tags read as the cell text", () => {
    const nasty = 'ACME "Labs" \\ {{ x }}\nline2\ttab';
    const dir = workshop({
      "0-ReadMeFirst.ipynb": notebook(
        '["# {{ BRANDING }}\\n", "{{ \'{{\' }} raw {{ \'}}\' }}\\n", "{% if MODEWS == \\"CHLG\\" %}quoted test{% endif %}"]',
      ),
    });
    expect(checkFolder(dir, { ...VARS, BRANDING: nasty })).toEqual([]);
    const dest = destination();
    renderFolder(dir, dest, { ...VARS, BRANDING: nasty });
    const nb = JSON.parse(fs.readFileSync(path.join(dest, "0-ReadMeFirst.ipynb"), "utf8"));
    expect(nb.cells[0].source).toEqual([`# ${nasty}\n`, "{{ raw }}\n", "quoted test"]);
  });

  it("copies binary files identically and keeps only the owner-executable bit", () => {
    const png = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256));
    const dir = workshop({ "img/logo.png": png, "run.sh": "echo {{ STDID }}\n", "data.bin": Buffer.from([0, 255, 0x7b, 0x7b, 0]) });
    fs.chmodSync(path.join(dir, "run.sh"), 0o750);
    fs.chmodSync(path.join(dir, "img/logo.png"), 0o600);
    const dest = destination();
    expect(renderFolder(dir, dest, VARS)).toEqual({ rendered: 1, copied: 2 });
    expect(sha256(path.join(dest, "img/logo.png"))).toBe(sha256(path.join(dir, "img/logo.png")));
    expect(sha256(path.join(dest, "data.bin"))).toBe(sha256(path.join(dir, "data.bin")));
    const mode = (rel: string) => fs.statSync(path.join(dest, rel)).mode & 0o7777;
    expect([mode("run.sh"), mode("img/logo.png"), mode("img"), mode(".")]).toEqual([0o755, 0o644, 0o755, 0o755]);
  });

  it("never follows symlinks and never opens FIFOs; checkFolder reports them", () => {
    const dir = workshop({ "lab.py": "print({{ STDID }})\n", "secret.txt": "{{ NOPE }}\n" });
    fs.symlinkSync("/etc/passwd", path.join(dir, "passwd.ipynb"));
    fs.symlinkSync(path.join(dir, "secret.txt"), path.join(dir, "secret.py"));
    fs.symlinkSync("/", path.join(dir, "root"));
    expect(spawnSync("mkfifo", [path.join(dir, "pipe.sh")]).status).toBe(0);
    expect(checkFolder(dir, VARS)).toEqual([
      { file: "passwd.ipynb", line: 0, reason: "symlink, not copied" },
      { file: "pipe.sh", line: 0, reason: "not a regular file, not copied" },
      { file: "root", line: 0, reason: "symlink, not copied" },
      { file: "secret.py", line: 0, reason: "symlink, not copied" },
    ]);
    const dest = destination();
    expect(renderFolder(dir, dest, VARS)).toEqual({ rendered: 1, copied: 1 });
    expect(fs.readdirSync(dest).sort()).toEqual(["lab.py", "secret.txt"]);
  });

  it("a rendered file that is not UTF-8 or is over 10 MiB is reported, not guessed at", () => {
    const dir = workshop({ "latin1.sh": Buffer.from("echo ok\necho caf\xe9\n", "latin1"), "huge.py": "#".repeat(LIMITS.templateChars + 1), "huge.csv": "x".repeat(LIMITS.templateChars + 1) });
    expect(checkFolder(dir, VARS)).toEqual([
      { file: "huge.py", line: 0, reason: "larger than 10 MiB, too big to render" },
      { file: "latin1.sh", line: 2, reason: "not valid UTF-8 text" },
    ]);
  });

  it("leaves out the author's Jupyter checkpoints", () => {
    const dir = workshop({ "0-ReadMeFirst.ipynb": notebook('["hi"]'), ".ipynb_checkpoints/0-ReadMeFirst-checkpoint.ipynb": "{{ NOPE", "old-checkpoint.ipynb": "{{" });
    expect(checkFolder(dir, VARS)).toEqual([]);
    const dest = destination();
    renderFolder(dir, dest, VARS);
    expect(fs.readdirSync(dest)).toEqual(["0-ReadMeFirst.ipynb"]);
  });

  it("checkFolder collects every problem of every file; renderFolder stops at the first and leaves no partial folder", () => {
    const dir = workshop({ "a.py": "{{ A1 }}\n{{ ok }}", "b/b.sh": "\n\n{% if %}", "c.txt": "{{ fine, copied }}" });
    expect(checkFolder(dir, { ok: 1 }).map((p) => `${p.file}:${p.line}`)).toEqual(["a.py:1", "b/b.sh:3"]);
    const dest = destination();
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, "previous.txt"), "complete");
    expect(() => renderFolder(dir, dest, { ok: 1 })).toThrow(/^a\.py:1: 'A1' is undefined$/);
    expect(fs.readdirSync(dest)).toEqual(["previous.txt"]);
    expect(fs.existsSync(`${dest}.rendering`)).toBe(false);
    const fresh = destination();
    expect(() => renderFolder(dir, fresh, { ok: 1 })).toThrow(TemplateError);
    expect(fs.existsSync(fresh)).toBe(false);
  });

  it("checkFolder reports every undefined variable of a file, each at its first use, in one run", () => {
    const lab = [
      "{{ STDID }} {{ MISSING_A }}", // 1
      "{{ MISSING_A }}", // 2: the same variable again: reported once
      "{% if MODEWS == 'CHLG' %}{{ hostvars[inventory_hostname]['IP-WKSHP-Other'] }}{% endif %}", // 3
      "{{ MISSING_B | upper }}", // 4
      "{{ hostvars['h'].MISSING_C }}", // 5
    ].join("\n");
    const dir = workshop({ "lab.py": lab, "run.sh": "echo {{ ONLY_HERE }}\n" });
    expect(checkFolder(dir, VARS)).toEqual([
      { file: "lab.py", line: 1, reason: "'MISSING_A' is undefined" },
      { file: "lab.py", line: 3, reason: "'hostvars[inventory_hostname]['IP-WKSHP-Other']' is undefined" },
      { file: "lab.py", line: 4, reason: "'MISSING_B' is undefined" },
      { file: "lab.py", line: 5, reason: "'hostvars['h'].MISSING_C' is undefined" },
      { file: "run.sh", line: 1, reason: "'ONLY_HERE' is undefined" },
    ]);
    // Declaring them all fixes the file: nothing else was hiding behind them.
    expect(checkFolder(dir, { ...VARS, MISSING_A: "a", "IP-WKSHP-Other": "192.0.2.9", MISSING_B: "b", MISSING_C: "c", ONLY_HERE: "x" })).toEqual([]);
  });

  it("a problem found only once an undefined variable was stood in for says so; activation still fails on the first", () => {
    const dir = workshop({ "lab.py": "{{ NOPE }}\n{{ 1 + }}" });
    // A syntax error is found before anything renders: it is reported alone, as the only problem.
    expect(checkFolder(dir, VARS).map((p) => p.line)).toEqual([2]);
    const typed = workshop({ "lab.py": "{{ PORT_BASE }}\n{{ PORT_BASE + 1 }}\n" });
    expect(checkFolder(typed, VARS)).toEqual([
      { file: "lab.py", line: 1, reason: "'PORT_BASE' is undefined" },
      { file: "lab.py", line: 2, reason: expect.stringMatching(/\(found with stand-ins for the undefined variables above\)$/) },
    ]);
    expect(() => renderFolder(typed, destination(), VARS)).toThrow(/^lab\.py:1: 'PORT_BASE' is undefined$/);
  });

  it("replaces a complete destination with the new rendering", () => {
    const dir = workshop({ "lab.py": "{{ STDID }}" });
    const dest = destination();
    renderFolder(dir, dest, VARS);
    renderFolder(dir, dest, { ...VARS, STDID: 8 });
    expect(fs.readFileSync(path.join(dest, "lab.py"), "utf8")).toBe("8");
  });
});

describe("the CLI the hosts run as the slot user", () => {
  const cli = (args: string[], stdin: string) => spawnSync(process.execPath, [RENDER_JS, ...args], { input: stdin, encoding: "utf8" });

  it("render takes the variables on stdin and writes the folder", () => {
    const dir = workshop({ "0-ReadMeFirst.ipynb": notebook('["Your password is {{ PASSSTU }}"]'), "logo.png": Buffer.from([1, 2, 3]) });
    const dest = destination();
    const r = cli(["render", "--src", dir, "--dest", dest], JSON.stringify(VARS));
    expect([r.status, r.stdout, r.stderr]).toEqual([0, "", ""]);
    expect(JSON.parse(fs.readFileSync(path.join(dest, "0-ReadMeFirst.ipynb"), "utf8")).cells[0].source).toEqual([`Your password is ${PASSWORD}`]);
  });

  it("an error names the file and line on stderr, exit 1, and never prints the password", () => {
    for (const text of ["x\n{{ PASSSTU + 1 }}", "x\n{{ D[PASSSTU] }}", "x\n{{ PASSSTU | int + PASSSTU }}", "x\n{{ PASSSTU.x.y }}", '{"cells": [{{ PASSSTU }}]}']) {
      const file = text.startsWith("{") ? "0-ReadMeFirst.ipynb" : "lab.py";
      const dir = workshop({ [file]: text });
      const r = cli(["render", "--src", dir, "--dest", destination()], JSON.stringify({ ...VARS, D: {} }));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^render: ${file.replace(".", "\\.")}:\\d+: .+\\n$`));
      expect(r.stderr).not.toContain(PASSWORD);
      expect(r.stdout).not.toContain(PASSWORD);
    }
  });

  it("check prints every problem as JSON and exits 1, or [] and 0", () => {
    const bad = workshop({ "a.sh": "{{ NOPE }}", "b.py": "{{ x.upper() }}" });
    const r = cli(["check", "--src", bad], JSON.stringify(VARS));
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      { file: "a.sh", line: 1, reason: "'NOPE' is undefined" },
      { file: "b.py", line: 1, reason: expect.stringContaining("not supported by wod's renderer") },
    ]);
    const good = cli(["check", "--src", workshop({ "a.sh": "{{ STDID }}" })], JSON.stringify(VARS));
    expect([good.status, good.stdout]).toEqual([0, "[]\n"]);
  });

  it("refuses bad usage and bad stdin without echoing it", () => {
    expect(cli(["render", "--src", "x"], "{}").status).toBe(2);
    const r = cli(["check", "--src", workshop({})], `{"PASSSTU": "${PASSWORD}"`);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("render: the variables on stdin must be one JSON object\n");
  });
});
