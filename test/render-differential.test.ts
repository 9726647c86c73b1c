// wod's renderer against the real thing: Python Jinja2 configured as WoD's Ansible template module
// (test/fixtures/render/jinja-reference.py). Every template must render to the same text in both,
// or fail in both. One Python process renders every case.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { renderTemplate } from "../components/host/render";

const PYTHON = "/usr/bin/python3";
const REFERENCE = path.join(__dirname, "fixtures/render/jinja-reference.py");
const INSTALL = "the reference renderer is Debian's Jinja2 for /usr/bin/python3: install it with `apt-get install -y python3-jinja2`";
const SEED = Number(process.env.RENDER_DIFF_SEED ?? 20240611);
const GENERATED = Number(process.env.RENDER_DIFF_RUNS ?? 1500);

const VARS = {
  STDID: 7,
  PASSSTU: 'p@ss"w\\ord',
  WORKSHOP: "WKSHP-Docker101",
  MODEWS: "CHLG",
  BRANDING: 'ACME "Labs"',
  BRANDINGWOD: "Workshops-on-Demand",
  BRANDINGURL: "https://example.org/wod?a=1&b=2",
  HTTPPORT: "8007",
  WODBEFQDN: "backend.example.org",
  WODBEEXTFQDN: "wod.example.org",
  WODBEPORT: "8000",
  EMPTY: "",
  ZERO: 0,
  F: 1.5,
  T: true,
  N: null,
  L: [1, 2, 3],
  S: ["b", "A", "c"],
  D: { a: 1, b: "x" },
  U: "Ünïcødé 😀",
  inventory_hostname: "backend1",
  "IP-WKSHP-Docker101": "10.0.0.5",
  SPARKTOK: "tok-123",
};

// Templates shaped like WoD's notebooks and scripts, and the Jinja corners they touch.
const CORPUS: string[] = [
  // variables as WoD notebooks write them
  "# Welcome to {{ BRANDINGWOD }}\n",
  "student{{ STDID }} / {{ WORKSHOP}} / {{WODBEFQDN }} / {{WODBEPORT}}\n",
  "ssh student{{ STDID }}@{{ WODBEEXTFQDN }} -p {{ HTTPPORT }}\nYour password: `{{ PASSSTU }}`\n",
  "[survey]({{ BRANDINGURL }}) {{ BRANDING }}",
  "{{ hostvars[inventory_hostname]['IP-WKSHP-Docker101'] }}:{{ HTTPPORT }}",
  "{{ hostvars[inventory_hostname]['IP-WKSHP-Spark101'] }}",
  "{{ hostvars[inventory_hostname].SPARKTOK }} {{ hostvars['backend1']['SPARKTOK'] }}",
  "export TOKEN={{ SPARKTOK }}\n",
  "{{ NOPE }}",
  "a\n\nb {{ NOPE }}\n",
  // MODEWS conditionals, with and without whitespace control, at line ends (trim_blocks)
  "{% if MODEWS == 'CHLG' %}\nChallenge\n{% else %}\nWorkshop\n{% endif %}\n",
  "{% if MODEWS == 'WKSHP' %}\nWorkshop\n{% elif MODEWS == 'CHLG' %}\nChallenge\n{% endif %}\nnext\n",
  "{% if MODEWS != 'CHLG' %}A{% else %}B{% endif %}",
  "before\n  {%- if MODEWS == 'CHLG' -%}\n  inside\n  {%- endif %}\nafter",
  "{% if MODEWS == 'CHLG' %}   \nspaces before the newline stay\n{% endif %}",
  "{% if MODEWS == 'CHLG' +%}\nplus keeps the newline\n{%+ endif +%}\n",
  "x {# a comment #}\ny{# at the end of a line #}\nz",
  "{#- stripped -#}\n   w  {#+ kept +#}\n",
  "{% if true %}{% if false %}a{% elif true %}b{% endif %}{% endif %}\n\n",
  "{% if true %}\r\nCRLF\r\n{% endif %}\r\nend\r\n",
  "old mac\rline",
  "no trailing newline",
  "trailing newlines kept\n\n",
  "{% if true %}",
  "{% endif %}",
  "{% if true %}{% endfor %}",
  "{{ }}",
  "{{ 1 + }}",
  "{% %}",
  "{{ 'unterminated }}",
  "{# never closed",
  // raw blocks, Go templates, literal delimiters
  "{% raw %}{{range .items}}{{.name}}{{end}}{% endraw %}",
  "{% raw %}\n{{ .State.Running }}\n{% endraw %}\nafter",
  "x  {%- raw -%}  {{ a }}  {%- endraw -%}  y",
  "{% raw %}{% if %}{% endraw %}",
  "{%raw%}a{%endraw%}",
  "{% raw %} no end",
  "{{ '{{' }} x {{ '}}' }} {{ '{%' }} {{ '%}' }} {{ '{#' }} {{ '#}' }}",
  "{{ \"{{\" ~ 'x' ~ \"}}\" }}",
  "echo '{{.State.Running}}'",
  "echo ${#arr[@]}",
  "echo ${arr[@]} {$x} { {",
  "{ { } } %} #} }}",
  // literals
  "{{ 'single' }} {{ \"double\" }} {{ 'it\\'s' }} {{ \"say \\\"hi\\\"\" }} {{ 'a' 'b' \"c\" }}",
  "{{ 'tab\\tnl\\nbs\\\\q\\'hex\\x41oct\\101uni\\u00e9big\\U0001F600unknown\\q' }}",
  "{{ 'é\\é' }} {{ 'line\\\ncontinued' }}",
  "{{ '\\x4' }}",
  "{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 007.5 }} {{ 1e3 }} {{ 2.5e-3 }} {{ 1E2 }}",
  "{{ 1. }}",
  "{{ .5 }}",
  "{{ true }} {{ True }} {{ false }} {{ False }} {{ none }} {{ None }}",
  "{{ [] }} {{ [1, 'a', none, true, 1.5] }} {{ (1,) }} {{ () }} {{ (1, 2) }} {{ 1, 2 }} {{ {} }} {{ {'a': 1, 'b': [2]} }}",
  "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', '\\t\\x01é\\u00a0\\u200b😀\\x7f'] }}",
  "{{ [1, 2,] }} {{ {'a': 1,} }}",
  "{{ {'a': 1, 'a': 2} }} {{ {1: 'one', 'x': 2} }}",
  // numbers as Python prints and computes them
  "{{ 1 / 3 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -2 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}",
  "{{ 7.5 // 2 }} {{ -7.5 // 2 }} {{ 7.5 % 2 }} {{ -7.5 % 2 }} {{ 7.5 % -2 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-4 }} {{ 1e-5 }} {{ 1e100 }} {{ -0.0 }}",
  "{{ 123456789.0 * 1000 }} {{ 2.0 ** 0.5 }} {{ 10 / 4 * 2 }} {{ 3 * 1.5 }} {{ true + true }} {{ 1 + 1.0 }} {{ -STDID }} {{ +F }}",
  "{{ 1 / 0 }}",
  "{{ 1 // 0 }}",
  "{{ 1.5 % 0 }}",
  "{{ 'a' + 1 }}",
  "{{ 1 - 'a' }}",
  "{{ 'ab' * 3 }} {{ 3 * 'ab' }} {{ 'ab' * -1 }} {{ [1, 2] * 2 }} {{ (1,) * 3 }} {{ [1] + [2] }} {{ (1,) + (2,) }} {{ 'a' + 'b' }}",
  "{{ [1] + (2,) }}",
  "{{ 'a' * 1.5 }}",
  "{{ 'x' ~ 1 ~ 1.5 ~ none ~ true ~ [1] ~ {'a': 'b'} }}",
  // comparisons, logic, membership
  "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 1 == '1' }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }} {{ [1] == [1] }} {{ (1,) == [1] }} {{ none == none }}",
  "{{ 1 < 'a' }}",
  "{{ [1] < 'a' }}",
  "{{ 2 in L }} {{ 4 not in L }} {{ 'a' in D }} {{ 'b' in 'abc' }} {{ '' in 'abc' }} {{ 1 in D }} {{ none in L }}",
  "{{ 1 in 'abc' }}",
  "{{ [1] in D }}",
  "{{ not EMPTY }} {{ not not T }} {{ ZERO or 'fallback' }} {{ EMPTY and 1 }} {{ T and 'yes' }} {{ N or ZERO or EMPTY }} {{ L and D }}",
  "{{ 'yes' if T else 'no' }} {{ 'a' if EMPTY else 'b' if ZERO else 'c' }} {{ ('x' if false) }}|{{ ('x' if false) | default('d') }}",
  "{{ not 1 == 2 }} {{ not 1 in L }} {{ -1 ** 2 }} {{ 2 * 3 ~ 4 }} {{ 1 + 2 ~ 3 }} {{ 'a' ~ 1 + 2 }}",
  // undefined names
  "{{ NOPE is defined }} {{ NOPE is not defined }} {{ NOPE is undefined }} {{ NOPE | default('d') }} {{ NOPE | d('d') }}",
  "{% if NOPE is defined and NOPE %}yes{% else %}no{% endif %}",
  "{% if NOPE %}x{% endif %}",
  "{{ NOPE.attr }}",
  "{{ NOPE ~ 'x' }}",
  "{{ NOPE | default(none) is none }} {{ NOPE | default(STDID) + 1 }} {{ '' | default('e', true) }} {{ 0 | d('z', boolean=true) }}",
  "{{ D.missing is defined }} {{ D['missing'] is defined }} {{ L[10] is defined }} {{ U.nope is defined }} {{ D.a.b is defined }}",
  "{{ D.missing }}",
  "{{ L[10] }}",
  "{{ NOPE | upper }}",
  "{{ [NOPE] | length }}",
  // attributes, items, slices
  "{{ D.a }} {{ D['b'] }} {{ L[0] }} {{ L[-1] }} {{ L.1 }} {{ 'abc'[1] }} {{ U[-1] }} {{ U[1:4] }}",
  "{{ L[1:] }} {{ L[:-1] }} {{ L[::-1] }} {{ L[::2] }} {{ 'abcdef'[1:5:2] }} {{ 'abc'[::-1] }} {{ L[5:] }} {{ (1, 2, 3)[1:] }} {{ L[-10:10] }}",
  "{{ range(10)[2:5] }} {{ range(10)[::-3] }} {{ range(3) }} {{ range(1, 10, 3) }} {{ range(3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}",
  "{{ L[::0] }}",
  "{{ range(10, 0) | list }} {{ range(3)[1] }} {{ range(3) | length }} {{ 2 in range(3) }} {{ range(3) == range(3) }}",
  "{{ range(1.5) }}",
  "{{ range(100001) | length }}",
  // filters
  "{{ U | upper }} {{ U | lower }} {{ 'hELLO wORLD' | capitalize }} {{ 'hello world-foo(bar [baz <qux' | title }} {{ '  x \\n' | trim }} {{ 'xxaxx' | trim('x') }}",
  "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }} {{ 'abc' | replace('', '-', 2) }} {{ 123 | replace(2, 'two') }}",
  "{{ '42' | int }} {{ '42.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ '0x1f' | int(0, 16) }} {{ '0x1f' | int(base=16) }} {{ 'ff' | int(base=16) }} {{ '0b11' | int(base=0) }}",
  "{{ ' 1_000 ' | int }} {{ '1e3' | int }} {{ 3.9 | int }} {{ -3.9 | int }} {{ true | int }} {{ none | int }} {{ [1] | int }} {{ 'nan' | int }} {{ '012' | int }} {{ '012' | int(base=0) }}",
  "{{ '1.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ ' 1_0.5 ' | float }} {{ '-inf' | float }} {{ '1e3' | float }} {{ '.5' | float }} {{ '5.' | float }} {{ none | float }} {{ 'x' | float(-1) }}",
  "{{ L | string }} {{ 1.5 | string }} {{ none | string }} {{ U | length }} {{ D | length }} {{ L | count }} {{ '' | length }}",
  "{{ L | join }} {{ L | join(', ') }} {{ S | join('-') }} {{ D | join(',') }} {{ 'abc' | join('.') }} {{ [1, [2], none] | join('|') }}",
  "{{ L | first }} {{ L | last }} {{ 'abc' | first }} {{ U | last }} {{ D | first }} {{ D | last }} {{ [] | first | default('empty') }}",
  "{{ [] | first }}",
  "{{ 'abc' | list }} {{ D | list }} {{ L | list }} {{ (1, 2) | list }} {{ U | list | length }}",
  "{{ S | sort }} {{ S | sort(reverse=true) }} {{ S | sort(case_sensitive=true) }} {{ [3, 1.5, 2, true] | sort }} {{ D | sort }} {{ 'cba' | sort }}",
  "{{ [{'n': 'b', 'a': 2}, {'n': 'a', 'a': 1}, {'n': 'c', 'a': 1}] | sort(attribute='a,n') | map_is_not_supported }}",
  "{{ [{'n': 'b', 'a': 2}, {'n': 'a', 'a': 1}, {'n': 'c', 'a': 1}] | sort(attribute='a,n') | join(',', attribute='n') }}",
  "{{ [{'n': 'b'}, {'n': 'A'}] | sort(attribute='n') | join(attribute='n') }} {{ [[2, 'x'], [1, 'y']] | sort(attribute='0') | join(attribute='1') }}",
  "{{ [1, 'a'] | sort }}",
  "{{ [1, 2, 1, 'a', 'A', 1.0, true] | unique | list }} {{ ['a', 'A'] | unique(case_sensitive=true) | list }} {{ 'abca' | unique | join }}",
  "{{ [[1], [1]] | unique | list }}",
  "{{ range(3) in D }} {{ (L | reverse) in D }} {{ [range(3), range(0, 3), range(0), range(5, 5), range(1, 2), range(1, 3, 5)] | unique | list }} {{ [(1, 2), (1, 2), (1, 2.0)] | unique | list }} {{ (1,) in D }} {{ none in D }}",
  "{{ L | reverse | list }} {{ 'abc' | reverse }} {{ U | reverse }} {{ D | reverse | list }} {{ range(3) | reverse | join }}",
  "{{ -5 | abs }} {{ -1.5 | abs }} {{ true | abs }} {{ 3.14159 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 0.125 | round(2) }} {{ 2.675 | round(2) }}",
  "{{ 15 | round(-1) }} {{ 25 | round(-1) }} {{ -15 | round(-1) }} {{ 1234.5678 | round(-2) }} {{ 3 | round }} {{ 1.5 | round(0, 'ceil') }} {{ -1.5 | round(0, 'floor') }} {{ 1.23456 | round(3, 'floor') }} {{ 7 | round(1, 'ceil') }}",
  "{{ 'x' | round }}",
  "{{ 1 | round(1, 'up') }}",
  "{{ L | max }} {{ L | min }} {{ S | max }} {{ S | min }} {{ S | max(case_sensitive=true) }} {{ 'hello' | max }} {{ [] | max | default('none') }} {{ [{'a': 2}, {'a': 5}] | max(attribute='a') }}",
  "{{ L | sum }} {{ [1.5, 2] | sum }} {{ [] | sum }} {{ L | sum(start=10) }} {{ [[1], [2]] | sum(start=[]) }} {{ [{'p': 2}, {'p': 3}] | sum(attribute='p') }}",
  "{{ ['a'] | sum }}",
  "{{ '%s-%s' | format('a', 1) }} {{ '%d%%' | format(50) }} {{ '%05.1f|%-6s|%+d|% d|%x|%X|%o|%#x' | format(3.14159, 'ab', 5, 5, 255, 255, 8, 255) }} {{ '%(a)s=%(b)d' | format(a='x', b=2) }}",
  "{{ '%s' % 'x' }} {{ '%s and %s' % (1, 2) }} {{ '%r' % 'q' }} {{ '%.2s' % 'abc' }} {{ '%5s|' % 'ab' }} {{ '%.3d' % 7 }} {{ '%d' % 3.9 }} {{ '%s' % [1] }} {{ 'abc' % [] }} {{ '%(k)s' % {'k': 'v'} }}",
  "{{ '%s %s' % (1,) }}",
  "{{ 'abc' % 5 }}",
  "{{ '%d' % 'x' }}",
  "{{ '%.1f %.0f %.0f %.0f %f' % (0.25, 0.5, 1.5, 2.5, -0.0) }}",
  "{{ -2 | round(-1, 'ceil') }} {{ -0.2 | round(0, 'ceil') }} {{ 0.2 | round(0, 'floor') }} {{ -0.0 | round(1, 'floor') }}",
  "{{ 2.0 | round(1) }} {{ 1.5 | round(3) }} {{ 123.0 | round(2) }} {{ 1e20 | round(2) }} {{ 5e-324 | round(400) }} {{ 1e300 | round(-301) }} {{ -0.5 | round }} {{ -1.25 | round(1) }}",
  "{{ '%.3f|%.2f|%f|%.10f|%.0f|%.1f|%.20f' % (0.5, 2, 1e20, 1 / 3, 1e300 % 7, -0.05, 0.1) }}",
  "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}|{{ '' | indent }}|{{ 'x\\n' | indent(1) }}",
  "{{ 5 | indent }}",
  "{{ 'x y/z&é' | urlencode }} {{ D | urlencode }} {{ [('a b', 1), ['c', 'd&e']] | urlencode }} {{ 5 | urlencode }} {{ none | urlencode }}",
  "{{ D | tojson }} {{ 'é<>&\\'\"' | tojson }} {{ [1, 1.5, none, true, 'x'] | tojson }} {{ {'b': {'y': 1, 'x': [1, 2]}, 'a': ()} | tojson(2) }} {{ U | tojson }}",
  "{{ '/a/b/c.txt' | basename }} {{ '/a/b/c.txt' | dirname }} {{ '///' | dirname }} {{ 'a//b' | dirname }} {{ 'a' | dirname }} {{ '/a/' | basename }} {{ WORKSHOP | basename }}",
  "{{ 5 | basename }}",
  "{{ L | length + 1 }} {{ -L | length }}",
  "{{ 'abc' | upper | lower | capitalize }} {{ S | sort | first | upper }} {{ U | list | reverse | join | upper }}",
  // tests
  "{{ 3 is odd }} {{ 4 is even }} {{ 3.0 is odd }} {{ 10 is divisibleby 5 }} {{ 10 is divisibleby(3) }} {{ 'x' is string }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }}",
  "{{ STDID is eq 7 }} {{ STDID is equalto(8) }} {{ 2 is lt 3 }} {{ 2 is gt 3 }} {{ 2 is le 2 }} {{ 2 is ge 3 }} {{ 2 is ne 3 }} {{ 2 is in L }} {{ 2 is lessthan 3 }} {{ 2 is greaterthan 1 }}",
  "{{ L is sequence }} {{ D is sequence }} {{ 'x' is sequence }} {{ 5 is sequence }} {{ D is mapping }} {{ L is mapping }} {{ L is iterable }} {{ 5 is iterable }} {{ N is none }} {{ T is true }} {{ 1 is true }} {{ false is false }} {{ T is boolean }}",
  "{{ 'abc' is lower }} {{ 'Abc' is lower }} {{ 'ABC' is upper }} {{ '123' is upper }} {{ 'x' is not string }} {{ NOPE is not none }} {{ NOPE is sequence }}",
  "{{ NOPE is iterable }}",
  "{{ 'x' is odd }}",
  "{{ x is defined if x else 'no x' }}",
  // loops, scoping, set
  "{% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}",
  "{% for i in L %}{{ loop.previtem | default('-') }}{{ i }}{{ loop.nextitem | default('-') }} {% endfor %}",
  "{% for i in L %}{{ loop.previtem }}{% endfor %}",
  "{% for k in D %}{{ k }}={{ D[k] }};{% endfor %}{% for c in U %}[{{ c }}]{% endfor %}",
  "{% for i in range(5) if i is odd %}{{ i }}/{{ loop.length }} {% else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}",
  "{% for i in L %}{% for j in S %}{{ loop.index }}{{ j }}{% endfor %}{{ loop.index }}|{% endfor %}",
  "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %} {% for a, b in ['xy', 'zw'] %}{{ b }}{% endfor %}",
  "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
  "{% for i in 5 %}{% endfor %}",
  "{% for i in 1, 2 %}{{ i }}{% endfor %}",
  "{% set a = 1 %}{% for i in [1, 2] %}{{ a }}{% set a = a + 1 %}{{ a }}{% endfor %}{{ a }}",
  "{% for i in [1, 2] %}{% set b = i %}{% endfor %}{{ b is defined }}",
  "{% for i in [1, 2] %}{{ b is defined }}{% set b = i %}{% endfor %}",
  "{% set i = 9 %}{% for i in [1, 2] %}{% endfor %}{{ i }}",
  "{% for i in [] %}{% else %}{% set z = 1 %}{{ z }}{% endfor %}{{ z is defined }}",
  "{% set v = 1 %}{% if true %}{% set v = 2 %}{% endif %}{{ v }}",
  "{% set v = 1 %}{% for x in L %}{% if x == 2 %}{% set v = 5 %}{% endif %}{{ v }}{% endfor %}{{ v }}",
  "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, 2 %}{{ t }}",
  "{% set STDID = 'shadowed' %}{{ STDID }} {{ hostvars[inventory_hostname].STDID }}",
  "{{ s }}{% set s = 1 %}{{ s }}",
  "{% for x in L %}{{ x }}{% endfor %}{{ x is defined }}",
  "{% if L %}{% for x in L %}{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}\n",
  "{% for i in range(3) %}\n  {{ i }}\n{% endfor %}\n",
  "{% for i in range(3) -%}\n  {{ i }}\n{%- endfor %}",
  "{% for i in range(100000) %}{% endfor %}done",
  "{{ range(100000) | sum }}",
  // whitespace control around {{ }}
  "a   {{- STDID -}}   b",
  "a\n\n{{- STDID }}\n\nb {{ STDID -}}\n\n c",
  "{{-1}} {{- -1 -}} {{ 1 -}}",
  "{{+ STDID }}",
  "{{\n  STDID\n}}",
  "{{ STDID\n+\n1 }}",
  "{%if T%}x{%endif%}{%-if T-%}  y  {%-endif-%}",
  "{% if T: %}colon{% endif %}",
  // errors in both
  "{{ x.upper() }}",
  "{% set ns.x = 1 %}",
  "{% for loop in L %}{% endfor %}",
  "{{ 1 + (2 }}",
  "{{ [1, 2) }}",
  "{{ a b }}",
  "{{ 'a' if }}",
  "{{ x is is defined }}",
];

// What Jinja2 renders and wod's renderer refuses on purpose, each with the reason it gives: Jinja
// features outside the subset (refused when parsing, so the plan reports them), Python objects
// Jinja prints as garbage, and integers beyond 2**53.
const REFUSED: [string, RegExp][] = [
  ["{% macro m() %}x{% endmacro %}", /\{% macro %\} is not supported by wod's renderer/],
  ["{% if false %}{{ L | map('upper') | list }}{% endif %}", /filter 'map' is not supported by wod's renderer/],
  ["{% if false %}{{ STDID is callable }}{% endif %}", /test 'callable' is not supported by wod's renderer/],
  ["{% if false %}{{ WORKSHOP.upper() }}{% endif %}", /method calls such as WORKSHOP.upper\(\) are not supported/],
  ["{% set x %}captured{% endset %}{{ x }}", /set blocks .* are not supported/],
  ["{% with a = 1 %}{{ a }}{% endwith %}", /\{% with %\} is not supported/],
  ["{{ D.items }}", /'D.items' is a Python dict method or attribute/],
  ["{{ WORKSHOP.upper }}", /'WORKSHOP.upper' is a Python str method or attribute/],
  ["{{ lipsum }}", /'lipsum' is not supported/],
  ["{{ self }}", /'self' is not supported/],
  ["{{ range }}", /'range' is not supported/],
  ["{{ D.__class__ is defined }}", /names starting with '_' are not supported/],
  ["{{ L | reverse }}", /cannot print an iterator/],
  ["{{ [NOPE] }}", /'NOPE' is undefined/],
  ["{{ '%r' % NOPE }}", /'NOPE' is undefined/],
  ["{{ [('x' if false)] }}", /cannot print an undefined value inside a list/],
  ["{{ 2 ** 100 }}", /larger than 2\*\*53/],
  ["{{ 1e20 | int }}", /larger than 2\*\*53/],
  ["{{ {true: 1} }}", /dict keys must be strings or integers/],
  ["{{ '%e' % 1.5 }}", /'%e' is not supported/],
  ["{{ 'x' | d('y', boolean=true, extra=1) if false else 'z' }}", /has no argument 'extra'/],
];

// ---- generated templates -----------------------------------------------------------------------

const CHARS = ["x", "Y", " ", '"', "'", "\\", "é", "😀", "{", "}", "%", "#", "\n", "-", "0", "1", "."];
const ESCAPES = ["\\n", "\\t", "\\x41", "\\u00e9", "\\'", "\\\\"];
// Jinja's constant folder fails a whole template when a constant sub-expression such as
// `'' | first` or `None.a` is undefined, even in a branch that never runs; wod's renderer fails when
// it runs. So the generator only subscripts variables and builds no empty literal containers.
const stringLiteral = fc
  .tuple(fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CHARS) }, { weight: 1, arbitrary: fc.constantFrom(...ESCAPES) }), { minLength: 1, maxLength: 6 }), fc.boolean())
  .map(([pieces, double]) => {
    const quote = double ? '"' : "'";
    const body = pieces.map((p) => (p.length > 1 ? p : p === quote || p === "\\" ? `\\${p}` : p)).join("");
    return `${quote}${body}${quote}`;
  });
const NAMES = ["STDID", "PASSSTU", "WORKSHOP", "MODEWS", "BRANDING", "HTTPPORT", "EMPTY", "ZERO", "F", "T", "N", "L", "S", "D", "U"];
const atom = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 2, arbitrary: fc.constantFrom("D.a", "D['b']", "L[0]", "L[-1]", "L.1", "S[1:]", "U[::-1]", "hostvars[inventory_hostname]['IP-WKSHP-Docker101']", "(D.c is defined)") },
  { weight: 1, arbitrary: fc.constantFrom("(NOPE | d('z'))", "(NOPE is defined)", "(NOPE is undefined)", "(NOPE | default(L))") },
  { weight: 3, arbitrary: fc.integer({ min: -9, max: 9 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom("0.5", "1.5", "2.0", "0.1", "1e3", "3.25", "0.0", "-2.5", "2.675", "0.125", "1e-7", "123.0") },
  { weight: 3, arbitrary: stringLiteral },
  { weight: 1, arbitrary: fc.constantFrom("true", "false", "none", "True", "None") },
  { weight: 1, arbitrary: fc.constantFrom("range(3)", "range(1, 9, 2)", "range(0)") },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -3, max: 5 }), fc.integer({ min: 0, max: 3 })).map(([b, e]) => `(${b} ** ${e})`) },
);
const FILTERS = [
  "lower", "upper", "capitalize", "title", "trim", "trim('x')", "string", "length", "count", "first", "last", "list", "sort",
  "sort(reverse=true)", "unique | list", "reverse | list", "reverse | join", "abs", "round", "round(1)", "round(1, 'floor')", "int",
  "int(7)", "float", "join(',')", "join", "default('x')", "d('y', true)", "replace('x', 'Y')", "indent(2)", "indent(2, true)",
  "urlencode", "sum", "min", "max", "format(STDID)", "basename", "dirname",
];
const FORMATS = ["'%s'", "'%d'", "'%.2f'", "'%5.1f'", "'%-4s|'", "'%03d'", "'%x'", "'%+.1f'", "'%.3s'", "'%%%s'", "'%f'", "'%.0f'"]; // not %r: Jinja's repr of an undefined value is "Undefined"
const TESTS = [
  "defined", "not defined", "none", "number", "string", "mapping", "sequence", "iterable", "true", "false", "boolean", "integer",
  "float", "odd", "even", "divisibleby 3", "divisibleby(2)", "eq 7", "equalto(1)", "lt 2", "in L", "lower", "upper", "not sequence",
];
const OPERATORS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in"];
const { expr } = fc.letrec<{ expr: string; compound: string }>((tie) => ({
  expr: fc.oneof({ maxDepth: 3, depthIdentifier: "expr" }, atom, atom, tie("compound")),
  compound: fc.oneof(
    { depthIdentifier: "expr" },
    fc.tuple(tie("expr"), fc.constantFrom(...OPERATORS), tie("expr")).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(fc.constantFrom("not ", "-", "+"), tie("expr")).map(([op, a]) => `(${op}${a})`),
    fc.tuple(tie("expr"), tie("expr"), tie("expr")).map(([a, c, b]) => `(${a} if ${c} else ${b})`),
    fc.tuple(tie("expr"), fc.constantFrom(...FILTERS)).map(([a, f]) => `(${a} | ${f})`),
    fc.tuple(tie("expr"), fc.integer({ min: -2, max: 4 }), fc.constantFrom("", ", 'ceil'", ", 'floor'")).map(([a, n, m]) => `(${a} | round(${n}${m}))`),
    fc.tuple(fc.constantFrom(...FORMATS), tie("expr")).map(([f, a]) => `(${f} % ${a})`),
    fc.tuple(tie("expr"), fc.constantFrom(...TESTS)).map(([a, t]) => `(${a} is ${t})`),
    fc.array(tie("expr"), { minLength: 1, maxLength: 3 }).map((items) => `[${items.join(", ")}]`),
    fc.array(fc.tuple(stringLiteral, tie("expr")), { minLength: 1, maxLength: 2 }).map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v}`).join(", ")}}`),
    fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom("[0]", "['a']", ".a", "[-1]", ".b", "[1]['a']")).map(([a, s]) => `${a}${s}`),
    // Jinja's constant folder turns a slice of a literal number into an undefined value, a slice
    // of a variable number into an error; wod's renderer always errors: slice sequences only
    fc.tuple(fc.constantFrom("L", "S", "U", "WORKSHOP", "EMPTY", "(L + [4])", "range(5)"), fc.constantFrom("[1:]", "[::-1]", "[:-1]", "[::2]", "[-2:]")).map(([a, s]) => `${a}${s}`),
  ),
}));

const TEXT = ["x", "Y", " ", "  ", "\n", "\t", "}", "%", "#", "-", "é", "\r\n", "{ ", "}}", "%}", "#}", '"', "\\", "{x"];
const text = fc.array(fc.constantFrom(...TEXT), { minLength: 1, maxLength: 6 }).map((a) => a.join(""));
const space = fc.constantFrom(" ", " ", "", "  ", "\n");
const startSign = fc.constantFrom("", "", "", "-", "+");
/** `{% inner %}` with random whitespace control and an optional newline after it. */
const tag = (inner: fc.Arbitrary<string>, endSigns = ["", "", "-", "+"]) =>
  fc
    .tuple(startSign, space, inner, space, fc.constantFrom(...endSigns), fc.constantFrom("", "\n", "\n"))
    .map(([s, w1, body, w2, e, nl]) => `{%${s}${w1 || " "}${body}${w2 || " "}${e}%}${nl}`);
const print = (value: fc.Arbitrary<string>) =>
  fc.tuple(startSign, space, value, space, fc.constantFrom("", "", "-")).map(([s, w1, v, w2, e]) => `{{${s}${w1}${v}${w2}${e}}}`);
const comment = fc.tuple(startSign, text, fc.constantFrom("", "-", "+"), fc.constantFrom("", "\n")).map(([s, t, e, nl]) => `{#${s}${t.replace(/#/g, "")}${e}#}${nl}`);
const raw = fc
  .tuple(tag(fc.constant("raw"), ["", "-"]), fc.array(fc.constantFrom("{{ x }}", "{%", "{#", "%}", "text", "\n", " "), { maxLength: 4 }), tag(fc.constant("endraw")))
  .map(([open, body, close]) => `${open}${body.join("")}${close}`);
const setThenPrint = fc.tuple(tag(expr.map((e) => `set v = ${e}`)), text, print(fc.constant("v"))).map((parts) => parts.join(""));
const loopValue = fc.constantFrom("x", "loop.index", "loop.index0", "loop.first", "loop.last", "loop.length", "loop.revindex", "(loop.previtem | d('-'))");
const { statements } = fc.letrec<{ statements: string; statement: string; ifBlock: string; forBlock: string }>((tie) => ({
  statements: fc.array(tie("statement"), { minLength: 1, maxLength: 4 }).map((a) => a.join("")),
  statement: fc.oneof(
    { maxDepth: 2, depthIdentifier: "block" },
    text,
    print(expr),
    print(expr),
    comment,
    raw,
    setThenPrint,
    tie("ifBlock"),
    tie("forBlock"),
  ),
  ifBlock: fc
    .tuple(
      tag(expr.map((e) => `if ${e}`)),
      tie("statements"),
      fc.option(fc.tuple(tag(expr.map((e) => `elif ${e}`)), tie("statements"))),
      fc.option(fc.tuple(tag(fc.constant("else")), tie("statements"))),
      tag(fc.constant("endif")),
    )
    .map(([open, body, elif, otherwise, close]) => [open, body, ...(elif ?? []), ...(otherwise ?? []), close].join("")),
  forBlock: fc
    .tuple(
      tag(fc.constantFrom("L", "S", "D", "U", "range(3)", "[]", "'ab'", "L if x != 2", "S | sort").map((it) => `for x in ${it}`)),
      fc.array(fc.oneof(tie("statement"), print(loopValue)), { minLength: 1, maxLength: 3 }),
      fc.option(fc.tuple(tag(fc.constant("else")), tie("statements"))),
      tag(fc.constant("endfor")),
    )
    .map(([open, body, otherwise, close]) => [open, ...body, ...(otherwise ?? []), close].join("")),
}));

// ---- running both renderers ---------------------------------------------------------------------

type Outcome = { ok: true; out: string } | { ok: false; error: string };

function referenceIsInstalled(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import jinja2.sandbox"], { encoding: "utf8" });
  return r.status === 0 ? null : `${PYTHON} cannot import jinja2 (${(r.error?.message ?? r.stderr).trim()}): ${INSTALL}`;
}
function renderWithJinja(templates: string[]): Outcome[] {
  const r = spawnSync(PYTHON, [REFERENCE], {
    input: JSON.stringify(templates.map((template) => ({ template, vars: VARS }))),
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`the Jinja2 reference failed (${r.error?.message ?? r.stderr}); ${INSTALL}`);
  return JSON.parse(r.stdout) as Outcome[];
}
function renderWithWod(template: string): Outcome {
  try {
    return { ok: true, out: renderTemplate(template, VARS, { file: "case" }) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
// Deliberate: Jinja2 prints an undefined value inside a list or dict as `Undefined` (its repr);
// wod's renderer refuses it as it refuses any undefined value.
const printsUndefinedInside = (ours: Outcome, theirs: Outcome) => !ours.ok && theirs.ok && /\bUndefined\b/.test(theirs.out) && /undefined/.test(ours.error);

/** The cases where the two disagree: different text, or only one of them failing. */
function disagreements(templates: string[], reference: Outcome[]) {
  return templates.flatMap((template, i) => {
    const ours = renderWithWod(template);
    const theirs = reference[i];
    const same = ours.ok === theirs.ok && (!ours.ok || (theirs.ok && ours.out === theirs.out));
    return same || printsUndefinedInside(ours, theirs) ? [] : [{ template, wod: ours, jinja2: theirs }];
  });
}

const generated = [
  ...fc.sample(statements, { numRuns: GENERATED, seed: SEED }),
  ...fc.sample(print(expr), { numRuns: Math.round(GENERATED / 3), seed: SEED + 1 }),
];
let corpusReference: Outcome[] = [];
let generatedReference: Outcome[] = [];
let refusedReference: Outcome[] = [];

describe("wod's renderer renders exactly as Jinja2 does in WoD (Ansible's template settings, sandboxed)", () => {
  beforeAll(() => {
    const missing = referenceIsInstalled();
    if (missing) throw new Error(missing);
    const all = renderWithJinja([...CORPUS, ...generated, ...REFUSED.map(([template]) => template)]);
    corpusReference = all.slice(0, CORPUS.length);
    generatedReference = all.slice(CORPUS.length, CORPUS.length + generated.length);
    refusedReference = all.slice(CORPUS.length + generated.length);
  });

  it(`the ${CORPUS.length} hand-written WoD-shaped templates give the same text, or fail in both`, () => {
    expect(disagreements(CORPUS, corpusReference)).toEqual([]);
  });

  it(`${generated.length} generated templates (seed ${SEED}) give the same text, or fail in both`, () => {
    const found = disagreements(generated, generatedReference);
    if (process.env.RENDER_DIFF_DUMP) fs.writeFileSync(process.env.RENDER_DIFF_DUMP, JSON.stringify(found, null, 1));
    expect(found.slice(0, 10)).toEqual([]);
  });

  it("refuses on purpose, with a reason, what Jinja2 renders outside the supported subset", () => {
    const outcomes = REFUSED.map(([template], i) => ({ template, jinja2: refusedReference[i].ok, wod: renderWithWod(template) }));
    expect(outcomes.map(({ template, jinja2 }) => ({ template, jinja2 }))).toEqual(REFUSED.map(([template]) => ({ template, jinja2: true })));
    outcomes.forEach(({ wod }, i) => expect(wod.ok ? "rendered" : wod.error).toMatch(REFUSED[i][1]));
  });

  it("the comparison means something: most cases render, and failures are of both kinds", () => {
    const rendered = [...corpusReference, ...generatedReference].filter((r) => r.ok).length;
    expect(rendered).toBeGreaterThan((CORPUS.length + generated.length) / 2);
    expect(corpusReference.filter((r) => !r.ok).length).toBeGreaterThan(30);
  });
});
