'use strict';
/*
 * wod's workshop template renderer: one file, no dependencies, CommonJS, Node >= 18.
 *
 * `npm run plan` (Node 20) and the backends (Debian bookworm's Node 18, run by root through
 * setpriv as the slot user) load this same file, so a template that renders at plan time renders
 * the same way at activation, and one that does not is reported with its file and line.
 *
 * What it renders: the Jinja2 subset WoD's workshops use, exactly as WoD renders it (Ansible's
 * `template` module: trim_blocks, no lstrip_blocks, keep_trailing_newline, CRLF read as LF,
 * undefined variables are errors). test/render-differential.test.ts holds it to Python Jinja2.
 *   tags         {{ }}  {% %}  {# #}, with `-` and `+` whitespace control; {% raw %}…{% endraw %}
 *   statements   if/elif/else/endif; for NAMES in EXPR [if EXPR] … [else …] endfor (loop.index,
 *                index0, revindex, revindex0, first, last, length, previtem, nextitem);
 *                set NAMES = EXPR
 *   expressions  Jinja's precedence: a if c else b, or, and, not, chained comparisons, in, not in,
 *                is [not] TEST, + -, ~, * / // %, **, unary - +, | FILTER, a.b, a[k], a[i:j:k];
 *                strings (Python escapes), ints, floats, true/false/none (any case), lists,
 *                tuples, dicts; range() is the only call; `hostvars[any]` is the variables
 *   filters      default/d, lower, upper, capitalize, title, trim, replace, int, float, string,
 *                length/count, join, first, last, list, sort, unique, reverse, abs, round, min,
 *                max, sum, format, indent, urlencode, tojson, and Ansible's basename, dirname
 *   tests        defined, undefined, none, boolean, true, false, integer, float, number, string,
 *                mapping, sequence, iterable, lower, upper, odd, even, divisibleby, eq/equalto,
 *                ne, lt/lessthan, le, gt/greaterthan, ge, in
 *   values       Python's: True/False/None, int vs float (`4/2` is `2.0`), repr of lists and
 *                dicts, truthiness, `~` stringifies, `'a' + 1` is an error; ints up to 2**53
 * Anything else Jinja has (macros, call, include/import/extends, block set, with, method calls
 * such as x.upper(), other filters, tests and globals) is a TemplateError saying it "is not
 * supported by wod's renderer", raised when the template is parsed, so the plan reports it even
 * in a branch the sample slot does not take.
 *
 * Notebooks (`.ipynb`): WoD renders the notebook file as text, then Jupyter reads it. Here the
 * output of every {{ }} is escaped as JSON string content (so `ACME "Labs"` keeps the notebook
 * valid and a value is never rendered twice), and the inside of tags is read as the cell text the
 * author typed in Jupyter (`\"` is `"`), so `{% if X == "a" %}` works where WoD's Jinja fails.
 *
 * Why it is safe by construction: templates only ever see plain data converted from the
 * caller's JSON (strings, numbers, booleans, null, arrays, and Maps for objects). The evaluator
 * never reads a JavaScript property named by a template: dict keys go through Map.get, lists
 * take integer indexes, `loop` attributes come from a fixed switch; names starting with `_` are
 * refused. The only calls are the filters and tests of two fixed tables, looked up at parse
 * time, and range(). So there is no object, prototype, constructor, function, module or process
 * for a template to reach: nothing to escape to.
 *
 * Why it always ends: LIMITS below bound the template, the output and every string built along
 * the way, loop iterations, range() length, list sizes, nesting depth and total evaluation work
 * (every operation pays for the data it touches); crossing one is a TemplateError, never a hang.
 * No regular expression here backtracks on input.
 */
const fs = require('fs');
const path = require('path');

const MiB = 1024 * 1024;
const LIMITS = Object.freeze({
  templateChars: 10 * MiB, // per file
  outputChars: 50 * MiB, // per file, and any one string built while rendering
  loopIterations: 100000, // per file, all loops together
  rangeLength: 100000, // as Jinja's sandbox (MAX_RANGE)
  listItems: 1000000, // any one list
  nesting: 100, // expression and block nesting
  work: 10000000, // evaluation steps per file (an expression node, a list item, 64 characters)
  variablesBytes: 10 * MiB, // the CLI's stdin
});

// File kinds WoD renders (copy_folder.yml); everything else is copied byte for byte.
const RENDERED_SUFFIXES = ['.ipynb', '.yaml', '.py', '.sh', '.src', '.tf', '.env'];
const RENDERED_NAMES = ['Variables.ps1'];

// ---------------------------------------------------------------------------------------------
// Errors

class TemplateError extends Error {
  constructor(file, line, reason) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'TemplateError';
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

// A rule broken while rendering; renderText adds the file (and the line when the thrower
// did not know it). Reasons name template source and types, never a value.
class Problem extends Error {
  constructor(reason, line) {
    super(reason);
    this.reason = reason;
    this.line = line;
  }
}
function fail(reason, line) {
  throw new Problem(reason, line);
}
// How a template learns it left the supported subset.
const IS_NOT_SUPPORTED = "is not supported by wod's renderer";
const ARE_NOT_SUPPORTED = "are not supported by wod's renderer";

// Work and size accounting of the render in progress (rendering is synchronous).
let meter = { work: 0 };
function spend(units) {
  meter.work += units;
  if (meter.work > LIMITS.work) fail(`rendering takes more than ${LIMITS.work} steps`);
}
// Work in proportion to the data an operation touches: a list item, or 64 characters.
const spendText = (s) => spend(s.length >> 6);
function checkLength(length) {
  if (length > LIMITS.outputChars) fail(`a text longer than ${LIMITS.outputChars / MiB} MiB`);
  spend(length >> 6);
}
function joinChecked(parts, sep) {
  let length = sep.length * Math.max(0, parts.length - 1);
  for (const p of parts) length += p.length;
  checkLength(length);
  return parts.join(sep);
}

// ---------------------------------------------------------------------------------------------
// Values. Python ints are JS integers (safe range only); floats are Float; str, bool, None are
// string, boolean, null; lists are arrays (tuples, ranges and iterators are arrays tagged
// below); dicts are Maps whose keys are strings or ints.

class Float {
  constructor(value) {
    this.value = value;
  }
}
// An undefined value: printing or computing with it is an error naming `name`. The lenient kind
// is Jinja's `a if false` without else, which prints as ''.
class Undefined {
  constructor(name, hint, strict = true, variable = null) {
    this.name = name;
    this.hint = hint;
    this.strict = strict;
    // The caller's variable that would define it (a name, or a hostvars key), for checkFolder.
    this.variable = variable;
  }
  get reason() {
    return this.hint || `'${this.name}' is undefined`;
  }
}
class Loop {
  constructor(items, index) {
    this.items = items;
    this.index = index;
  }
}
// hostvars[any host] is the caller's variables, so WoD's
// hostvars[inventory_hostname]['IP-WKSHP-Name'] reaches the variable of that name.
class HostVars {
  constructor(vars) {
    this.vars = vars;
  }
}
const TUPLES = new WeakSet();
const ITERATORS = new WeakSet(); // results of reverse/unique: Jinja prints those as <… object at 0x…>
const RANGES = new WeakMap(); // array -> [start, stop, step]
const tuple = (items) => (TUPLES.add(items), items);
const iterator = (items) => (ITERATORS.add(items), items);
const isTuple = (v) => Array.isArray(v) && TUPLES.has(v);
const isIterator = (v) => Array.isArray(v) && ITERATORS.has(v);

function typeName(v) {
  if (v === null) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Float) return 'float';
  if (Array.isArray(v)) return TUPLES.has(v) ? 'tuple' : RANGES.has(v) ? 'range' : ITERATORS.has(v) ? 'iterator' : 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Undefined) return 'undefined';
  if (v instanceof Loop) return 'loop';
  if (v instanceof HostVars) return 'hostvars';
  return 'object';
}
function seqKind(v) {
  return TUPLES.has(v) ? 'tuple' : RANGES.has(v) ? 'range' : ITERATORS.has(v) ? 'iterator' : 'list';
}

// Strict undefined values fail wherever they are used; lenient ones only in arithmetic.
function need(v) {
  if (v instanceof Undefined && v.strict) failUndefined(v);
}
function needValue(v) {
  if (v instanceof Undefined) v.strict ? failUndefined(v) : fail('an undefined value (an inline if without else)');
}
function failUndefined(v) {
  const problem = new Problem(v.reason);
  problem.variable = v.variable;
  throw problem;
}

const isNumber = (v) => typeof v === 'number' || typeof v === 'boolean' || v instanceof Float;
const isInt = (v) => typeof v === 'number' || typeof v === 'boolean';
const num = (v) => (v instanceof Float ? v.value : +v);
function int(n) {
  if (!Number.isSafeInteger(n)) fail("an integer larger than 2**53, which wod's renderer does not support");
  return n === 0 ? 0 : n;
}

// The caller's JSON data as template values (bad data is the caller's bug: a TypeError).
function fromJs(v, depth, where) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : new Float(v);
  if (depth > LIMITS.nesting) throw new TypeError(`template variable ${where} is nested deeper than ${LIMITS.nesting} levels`);
  if (Array.isArray(v)) return v.map((x) => fromJs(x, depth + 1, where));
  const proto = typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
  if (proto === Object.prototype || proto === null) {
    const map = new Map();
    for (const key of Object.keys(v)) if (v[key] !== undefined) map.set(key, fromJs(v[key], depth + 1, where));
    return map;
  }
  throw new TypeError(`template variable ${where} is not plain JSON data`);
}
// The caller's variables (what hostvars[any] is): a key missing from one is a variable to report.
const CONTEXTS = new WeakSet();
function contextOf(vars) {
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new TypeError('template variables must be a plain object');
  const context = new Map();
  for (const name of Object.keys(vars)) if (vars[name] !== undefined) context.set(name, fromJs(vars[name], 1, name));
  CONTEXTS.add(context);
  return context;
}

function truthy(v) {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (v instanceof Float) return v.value !== 0;
  if (Array.isArray(v)) return ITERATORS.has(v) || v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (v instanceof Undefined) return need(v), false;
  return true;
}

// Strings are indexed by code point, as in Python.
const hasSurrogates = (s) => /[\uD800-\uDFFF]/.test(s);
// A string's code points as an array, one step each.
const chars = (s) => (spend(s.length), Array.from(s));
// Something indexable by code point: the string itself when it has no surrogate pair.
const codePoints = (s) => (hasSurrogates(s) ? chars(s) : s);
function codePointLength(s) {
  if (!hasSurrogates(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}
// Python compares strings by code point; JS `<` by UTF-16 unit.
function compareStrings(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrder(x) - codePointOrder(y);
  }
  return a.length - b.length;
}
const codePointOrder = (unit) => (unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit);

function equal(a, b) {
  if (a instanceof Undefined || b instanceof Undefined) {
    need(a), need(b);
    return a instanceof Undefined && b instanceof Undefined;
  }
  if (isNumber(a) && isNumber(b)) return num(a) === num(b);
  if (typeof a === 'string' && typeof b === 'string') return spendText(a), a === b;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (ITERATORS.has(a) || ITERATORS.has(b) || seqKind(a) !== seqKind(b)) return a === b;
    if (a.length !== b.length) return false;
    spend(a.length);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !equal(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    spend(a.size);
    for (const [k, v] of a) if (!b.has(k) || (v !== b.get(k) && !equal(v, b.get(k)))) return false;
    return true;
  }
  return a === b;
}

// -1, 0, 1, or NaN when numbers are unordered; an error for types Python cannot order.
function order(a, b, op = '<') {
  if (a instanceof Undefined) needValue(a);
  if (b instanceof Undefined) needValue(b);
  if (isNumber(a) && isNumber(b)) {
    const x = num(a);
    const y = num(b);
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : NaN;
  }
  if (typeof a === 'string' && typeof b === 'string') return spendText(a), Math.sign(compareStrings(a, b));
  if (Array.isArray(a) && Array.isArray(b) && seqKind(a) === seqKind(b) && (seqKind(a) === 'list' || seqKind(a) === 'tuple')) {
    const n = Math.min(a.length, b.length);
    spend(n);
    for (let i = 0; i < n; i++) if (a[i] !== b[i] && !equal(a[i], b[i])) return order(a[i], b[i], op);
    return Math.sign(a.length - b.length);
  }
  fail(`'${op}' is not supported between ${typeName(a)} and ${typeName(b)}`);
}
function compare(op, a, b) {
  switch (op) {
    case '==': return equal(a, b);
    case '!=': return !equal(a, b);
    case 'in': return contains(b, a);
    case 'notin': return !contains(b, a);
  }
  const c = order(a, b, op);
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
}

// The Map key a value finds, as Python hashes it (1 == 1.0 == True).
const NO_KEY = Symbol('no key');
const UNHASHABLE = Symbol('unhashable');
function dictKey(v) {
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return +v;
  if (v instanceof Float) return Number.isInteger(v.value) ? v.value + 0 : NO_KEY;
  if (v instanceof Undefined) return need(v), NO_KEY;
  if (v instanceof Map || (Array.isArray(v) && seqKind(v) === 'list')) return UNHASHABLE;
  return NO_KEY; // None, tuples, ranges, iterators: hashable, never a key here
}

function contains(container, item) {
  if (typeof container === 'string') {
    need(item);
    if (typeof item !== 'string') fail(`'in <string>' needs a string on the left, not ${typeName(item)}`);
    spendText(container);
    return container.includes(item);
  }
  if (container instanceof Map) {
    const key = dictKey(item);
    if (key === UNHASHABLE) fail(`unhashable type: '${typeName(item)}'`);
    return container.has(key);
  }
  if (Array.isArray(container)) {
    spend(container.length);
    return container.some((x) => x === item || equal(x, item));
  }
  if (container instanceof Undefined) return need(container), false;
  fail(`argument of type '${typeName(container)}' is not iterable`);
}

// Every walk over a collection goes through here and pays for its items.
function iterate(v) {
  if (typeof v === 'string') return chars(v);
  if (Array.isArray(v)) return spend(v.length), v;
  if (v instanceof Map) return spend(v.size), Array.from(v.keys());
  if (v instanceof Undefined) return need(v), [];
  fail(`'${typeName(v)}' object is not iterable`);
}

function length(v) {
  if (typeof v === 'string') return spendText(v), codePointLength(v);
  if (Array.isArray(v) && !ITERATORS.has(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v instanceof Undefined) return need(v), 0;
  fail(`object of type '${typeName(v)}' has no length`);
}

function checkedList(items, kind) {
  if (items.length > LIMITS.listItems) fail(`a list of more than ${LIMITS.listItems} items`);
  spend(items.length);
  return kind === 'tuple' ? tuple(items) : items;
}

// ---------------------------------------------------------------------------------------------
// Printing, as Python's str() and repr()

function toStr(v) {
  if (typeof v === 'string') return spendText(v), v;
  if (v instanceof Undefined) return need(v), '';
  return repr(v);
}

function repr(v) {
  const parts = [];
  let size = 0;
  const put = (s) => {
    size += s.length;
    if (size > LIMITS.outputChars) fail(`a text longer than ${LIMITS.outputChars / MiB} MiB`);
    parts.push(s);
  };
  const walk = (x) => {
    if (x === null) return put('None');
    if (typeof x === 'boolean') return put(x ? 'True' : 'False');
    if (typeof x === 'number') return put(String(x));
    if (typeof x === 'string') return put(strRepr(x));
    if (x instanceof Float) return put(floatRepr(x.value));
    if (Array.isArray(x)) {
      if (ITERATORS.has(x)) fail('cannot print an iterator (the result of reverse or unique): add "| list" or "| join"');
      const r = RANGES.get(x);
      if (r) return put(r[2] === 1 ? `range(${r[0]}, ${r[1]})` : `range(${r[0]}, ${r[1]}, ${r[2]})`);
      spend(x.length);
      put(TUPLES.has(x) ? '(' : '[');
      x.forEach((item, i) => (i && put(', '), walk(item)));
      return put(TUPLES.has(x) ? (x.length === 1 ? ',)' : ')') : ']');
    }
    if (x instanceof Map) {
      spend(x.size);
      put('{');
      let first = true;
      for (const [k, item] of x) {
        if (!first) put(', ');
        first = false;
        walk(k), put(': '), walk(item);
      }
      return put('}');
    }
    if (x instanceof Undefined) x.strict ? failUndefined(x) : fail('cannot print an undefined value inside a list or dict');
    fail(`cannot print ${typeName(x)}`);
  };
  walk(v);
  return parts.join('');
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const hex = (n, width) => n.toString(16).padStart(width, '0');
function strRepr(s) {
  spend(s.length);
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + hex(c, 2);
    else if (c < 0x7f || !NON_PRINTABLE.test(ch)) out += ch;
    else out += c <= 0xff ? '\\x' + hex(c, 2) : c <= 0xffff ? '\\u' + hex(c, 4) : '\\U' + hex(c, 8);
  }
  return out + quote;
}

// Python's repr(float): shortest round-trip digits, exponent below 1e-4 and from 1e16.
function floatRepr(x) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exponent] = x.toExponential().split('e');
  const exp = Number(exponent);
  const digits = mantissa.replace('-', '').replace('.', '');
  let out;
  if (exp < -4 || exp >= 16) {
    out = digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') + 'e' + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
  } else if (exp < 0) {
    out = '0.' + '0'.repeat(-exp - 1) + digits;
  } else if (digits.length <= exp + 1) {
    out = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
  } else {
    out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  }
  return (x < 0 ? '-' : '') + out;
}

// The exact decimal expansion of a finite double >= 0: [integer digits, fraction digits].
function exactDecimal(x) {
  if (Number.isInteger(x)) return [BigInt(x).toString(), ''];
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (biased) mantissa |= 1n << 52n;
  const scale = biased ? 1075 - biased : 1074; // x = mantissa / 2**scale = mantissa * 5**scale / 10**scale
  const digits = (mantissa * 5n ** BigInt(scale)).toString().padStart(scale + 1, '0');
  return [digits.slice(0, digits.length - scale), digits.slice(digits.length - scale)];
}
// |x| rounded half-even to `places` decimals (negative: tens, hundreds…), as BigInt N with
// |x| ~ N * 10**-places: what Python's round() and '%.Nf' compute.
function roundedDecimal(x, places) {
  const [whole, fraction] = exactDecimal(Math.abs(x));
  const keep = whole.length + places;
  if (keep < 0) return 0n;
  const digits = (whole + fraction).padEnd(keep, '0');
  const kept = digits.slice(0, keep);
  const rest = digits.slice(keep);
  let up = false;
  if (rest[0] > '5') up = true;
  else if (rest[0] === '5') up = /[1-9]/.test(rest.slice(1)) || (kept.length > 0 && Number(kept[kept.length - 1]) % 2 === 1);
  return BigInt(kept || '0') + (up ? 1n : 0n);
}
function fixedPoint(x, places) {
  const digits = roundedDecimal(x, places).toString().padStart(places + 1, '0');
  return places ? digits.slice(0, -places) + '.' + digits.slice(-places) : digits;
}

// ---------------------------------------------------------------------------------------------
// Operators

function arith(op, a, b) {
  needValue(a);
  if (op === '%' && typeof a === 'string') return percentFormat(a, b);
  needValue(b);
  if (isNumber(a) && isNumber(b)) return numberOp(op, a, b);
  if (op === '+') {
    if (typeof a === 'string' && typeof b === 'string') return checkLength(a.length + b.length), a + b;
    if (Array.isArray(a) && Array.isArray(b) && seqKind(a) === seqKind(b) && (seqKind(a) === 'list' || seqKind(a) === 'tuple')) {
      return checkedList(a.concat(b), seqKind(a));
    }
  }
  if (op === '*') {
    if (isInt(b) && (typeof a === 'string' || Array.isArray(a))) return repeat(a, num(b));
    if (isInt(a) && (typeof b === 'string' || Array.isArray(b))) return repeat(b, num(a));
  }
  fail(`unsupported operand types for ${op}: ${typeName(a)} and ${typeName(b)}`);
}
function repeat(seq, times) {
  const n = Math.max(0, times);
  if (typeof seq === 'string') return checkLength(seq.length * n), seq.repeat(n);
  const kind = seqKind(seq);
  if (kind !== 'list' && kind !== 'tuple') fail(`unsupported operand types for *: ${kind} and int`);
  if (seq.length * n > LIMITS.listItems) fail(`a list of more than ${LIMITS.listItems} items`);
  const out = [];
  for (let i = 0; i < n; i++) for (const item of seq) out.push(item);
  return checkedList(out, kind);
}
function numberOp(op, a, b) {
  const float = a instanceof Float || b instanceof Float;
  const x = num(a);
  const y = num(b);
  switch (op) {
    case '+': return float ? new Float(x + y) : int(x + y);
    case '-': return float ? new Float(x - y) : int(x - y);
    case '*': return float ? new Float(x * y) : int(x * y);
    case '/':
      if (y === 0) fail('division by zero');
      return new Float(x / y);
    case '//':
      if (y === 0) fail('division by zero');
      return float ? new Float(floatFloorDiv(x, y)) : int((x - intMod(x, y)) / y);
    case '%':
      if (y === 0) fail('modulo by zero');
      return float ? new Float(floatMod(x, y)) : intMod(x, y);
    case '**': return power(x, y, float);
  }
  fail(`unknown operator ${op}`);
}
function intMod(x, y) {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r + 0;
}
function floatMod(x, y) {
  const m = x % y;
  if (m) return m < 0 !== y < 0 ? m + y : m;
  return y < 0 ? -0 : 0;
}
function floatFloorDiv(x, y) { // CPython's float_floor_div
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod && y < 0 !== mod < 0) {
    mod += y;
    div -= 1;
  }
  if (!div) return Math.sign(x / y) < 0 || Object.is(x / y, -0) ? -0 : 0; // copysign(0, x / y)
  const floor = Math.floor(div);
  return div - floor > 0.5 ? floor + 1 : floor;
}
function power(x, y, float) {
  if (x === 0 && y < 0) fail('0.0 cannot be raised to a negative power');
  if (!float && y >= 0) {
    let result = 1;
    let base = x;
    for (let e = y; e > 0; e = Math.floor(e / 2)) {
      if (e % 2) result = int(result * base);
      if (e > 1) base = int(base * base);
    }
    return result;
  }
  if (x < 0 && Number.isFinite(y) && !Number.isInteger(y)) fail('a complex result, which is not supported');
  const r = Math.pow(x, y);
  if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) fail('numerical result out of range');
  return new Float(r);
}
function negate(v, sign) {
  needValue(v);
  if (v instanceof Float) return new Float(sign * v.value);
  if (isInt(v)) return int(sign * num(v));
  fail(`bad operand type for unary ${sign < 0 ? '-' : '+'}: ${typeName(v)}`);
}

// Python's printf-style formatting: the % operator on strings and the format filter.
function percentFormat(format, arg) {
  const args = isTuple(arg) ? arg : null;
  // Python takes any object with __getitem__ as a mapping here (lists too, and Jinja's undefined)
  const mapping = !args && (arg instanceof Map || arg instanceof Undefined || (Array.isArray(arg) && !ITERATORS.has(arg))) ? arg : null;
  let used = 0;
  const next = () => {
    if (args ? used >= args.length : used > 0) fail('not enough arguments for format string');
    return args ? args[used++] : (used++, arg);
  };
  const out = [];
  let size = 0;
  let i = 0;
  while (i < format.length) {
    const at = format.indexOf('%', i);
    if (at < 0) {
      out.push(format.slice(i));
      break;
    }
    out.push(format.slice(i, at));
    i = at + 1;
    let key = null;
    if (format[i] === '(') {
      let depth = 1;
      const start = ++i;
      while (i < format.length && depth) depth += format[i] === '(' ? 1 : format[i] === ')' ? -1 : 0, i++;
      if (depth) fail('incomplete format key');
      key = format.slice(start, i - 1);
    }
    let flags = '';
    while ('-+ #0'.includes(format[i]) && i < format.length) flags += format[i++];
    let width = 0;
    let precision = null;
    if (format[i] === '*') fail(`'*' widths in format strings ${ARE_NOT_SUPPORTED}`);
    while (format[i] >= '0' && format[i] <= '9') width = width * 10 + Number(format[i++]);
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') fail(`'*' precisions in format strings ${ARE_NOT_SUPPORTED}`);
      precision = 0;
      while (format[i] >= '0' && format[i] <= '9') precision = precision * 10 + Number(format[i++]);
    }
    while ('hlL'.includes(format[i]) && i < format.length) i++;
    if (i >= format.length) fail('incomplete format');
    const conversion = format[i++];
    if (width > LIMITS.outputChars || (precision || 0) > LIMITS.outputChars) fail('a format width larger than the output limit');
    if (conversion === '%') {
      out.push('%');
      continue;
    }
    let value;
    if (key === null) value = next();
    else {
      if (!(mapping instanceof Map)) fail('format requires a mapping');
      const k = dictKey(key);
      if (!mapping.has(k)) fail(`format key '${key}' is missing`);
      value = mapping.get(k);
    }
    const piece = formatOne(conversion, flags, width, precision, value);
    size += piece.length;
    checkLength(size);
    out.push(piece);
  }
  if (args ? used < args.length : used === 0 && !mapping) fail('not all arguments converted during string formatting');
  return joinChecked(out, '');
}
function formatOne(conversion, flags, width, precision, value) {
  const sign = (negative) => (negative ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '');
  const padNumber = (prefix, body) => {
    const room = width - prefix.length - body.length;
    if (room <= 0) return prefix + body;
    if (flags.includes('-')) return prefix + body + ' '.repeat(room);
    if (flags.includes('0')) return prefix + '0'.repeat(room) + body;
    return ' '.repeat(room) + prefix + body;
  };
  switch (conversion) {
    case 's':
    case 'r': {
      let s = conversion === 's' ? toStr(value) : repr(value);
      if (precision !== null) s = chars(s).slice(0, precision).join('');
      const room = width - codePointLength(s);
      return room <= 0 ? s : flags.includes('-') ? s + ' '.repeat(room) : ' '.repeat(room) + s;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      needValue(value);
      let n;
      if (isInt(value)) n = num(value);
      else if (value instanceof Float && 'diu'.includes(conversion)) {
        if (!Number.isFinite(value.value)) fail('cannot convert float infinity or NaN to integer');
        n = int(Math.trunc(value.value));
      } else fail(`%${conversion} format: a number is required, not ${typeName(value)}`);
      const radix = conversion === 'o' ? 8 : 'xX'.includes(conversion) ? 16 : 10;
      let body = Math.abs(n).toString(radix);
      if (conversion === 'X') body = body.toUpperCase();
      if (precision !== null) body = body.padStart(precision, '0');
      const prefix = flags.includes('#') && radix !== 10 ? (radix === 8 ? '0o' : conversion === 'X' ? '0X' : '0x') : '';
      return padNumber(sign(n < 0) + prefix, body);
    }
    case 'f':
    case 'F': {
      needValue(value);
      if (!isNumber(value)) fail(`%${conversion} format: a number is required, not ${typeName(value)}`);
      const x = num(value);
      let body;
      if (Number.isNaN(x)) body = 'nan';
      else if (!Number.isFinite(x)) body = 'inf';
      else body = fixedPoint(x, precision === null ? 6 : precision) + (flags.includes('#') && precision === 0 ? '.' : '');
      if (conversion === 'F') body = body.toUpperCase();
      return padNumber(sign(x < 0 || Object.is(x, -0)), body);
    }
  }
  fail(`the format conversion '%${conversion}' ${IS_NOT_SUPPORTED}`);
}

// ---------------------------------------------------------------------------------------------
// Attribute and item access. No JavaScript property is ever read by a template-given name.

const PY_ATTRIBUTES = {
  str: 'capitalize casefold center count encode endswith expandtabs find format format_map index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable isspace istitle isupper join ljust lower lstrip maketrans partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase title translate upper zfill',
  list: 'append clear copy count extend index insert pop remove reverse sort',
  tuple: 'count index',
  dict: 'clear copy fromkeys get items keys pop popitem setdefault update values',
  int: 'as_integer_ratio bit_count bit_length conjugate denominator from_bytes imag numerator real to_bytes',
  bool: 'as_integer_ratio bit_count bit_length conjugate denominator from_bytes imag numerator real to_bytes',
  float: 'as_integer_ratio conjugate fromhex hex imag is_integer real',
  range: 'count index start step stop',
};
const PY_ATTRIBUTE_SETS = new Map(Object.keys(PY_ATTRIBUTES).map((t) => [t, new Set(PY_ATTRIBUTES[t].split(' '))]));

function loopAttribute(loop, name) {
  const n = loop.items.length;
  const i = loop.index;
  switch (name) {
    case 'index': return i + 1;
    case 'index0': return i;
    case 'revindex': return n - i;
    case 'revindex0': return n - i - 1;
    case 'first': return i === 0;
    case 'last': return i === n - 1;
    case 'length': return n;
    case 'depth': return 1;
    case 'depth0': return 0;
    case 'previtem': return i > 0 ? loop.items[i - 1] : new Undefined('loop.previtem', 'undefined: loop.previtem in the first iteration');
    case 'nextitem': return i < n - 1 ? loop.items[i + 1] : new Undefined('loop.nextitem', 'undefined: loop.nextitem in the last iteration');
  }
  fail(`loop.${name} ${IS_NOT_SUPPORTED}`);
}

function getItem(obj, key, describe) {
  needValue(obj);
  needValue(key);
  if (obj instanceof HostVars) return obj.vars;
  if (obj instanceof Map) {
    const k = dictKey(key);
    if (typeof k !== 'symbol' && obj.has(k)) return obj.get(k);
    return new Undefined(describe(), null, true, CONTEXTS.has(obj) && typeof k === 'string' ? k : null);
  }
  if (Array.isArray(obj) && !ITERATORS.has(obj) && isInt(key)) {
    const i = num(key) < 0 ? num(key) + obj.length : num(key);
    if (i >= 0 && i < obj.length) return obj[i];
  }
  if (typeof obj === 'string' && isInt(key)) {
    spendText(obj);
    const cps = codePoints(obj);
    const i = num(key) < 0 ? num(key) + cps.length : num(key);
    if (i >= 0 && i < cps.length) return cps[i];
  }
  if (obj instanceof Loop && typeof key === 'string') return loopAttribute(obj, key);
  return new Undefined(describe());
}

function sliceIndices(length, start, stop, step) {
  for (const v of [start, stop, step]) if (v !== null && !isInt(v)) fail('slice indices must be integers or none');
  step = step === null ? 1 : num(step);
  if (step === 0) fail('slice step cannot be zero');
  const adjust = (v, dflt) => {
    if (v === null) return dflt;
    v = num(v);
    if (v < 0) return Math.max(v + length, step < 0 ? -1 : 0);
    return v >= length ? (step < 0 ? length - 1 : length) : v;
  };
  start = adjust(start, step < 0 ? length - 1 : 0);
  stop = adjust(stop, step < 0 ? -1 : length);
  const indexes = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) indexes.push(i);
  spend(indexes.length);
  return { start, stop, step, indexes };
}
function sliceValue(obj, start, stop, step) {
  needValue(obj);
  if (typeof obj === 'string') {
    spendText(obj);
    const cps = codePoints(obj);
    return sliceIndices(cps.length, start, stop, step).indexes.map((i) => cps[i]).join('');
  }
  if (Array.isArray(obj) && !ITERATORS.has(obj)) {
    const s = sliceIndices(obj.length, start, stop, step);
    const items = s.indexes.map((i) => obj[i]);
    const r = RANGES.get(obj);
    if (r) RANGES.set(items, [r[0] + s.start * r[2], r[0] + s.stop * r[2], r[2] * s.step]);
    return TUPLES.has(obj) ? tuple(items) : items;
  }
  fail(`'${typeName(obj)}' object cannot be sliced`);
}

function range(args) {
  for (const a of args) {
    needValue(a);
    if (!isInt(a)) fail(`range() needs integers, not ${typeName(a)}`);
  }
  const [start, stop, step] = args.length === 1 ? [0, num(args[0]), 1] : [num(args[0]), num(args[1]), args.length > 2 ? num(args[2]) : 1];
  if (step === 0) fail('range() step must not be zero');
  const n = step > 0 ? (stop > start ? Math.ceil((stop - start) / step) : 0) : start > stop ? Math.ceil((start - stop) / -step) : 0;
  if (n > LIMITS.rangeLength) fail(`range() of more than ${LIMITS.rangeLength} items`);
  spend(n);
  const items = [];
  for (let i = 0; i < n; i++) items.push(start + i * step);
  RANGES.set(items, [start, stop, step]);
  return items;
}

// ---------------------------------------------------------------------------------------------
// Filters and tests. Each filter: [[parameter, default]…], function(value, …arguments).

const REQUIRED = Symbol('required');
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
// Python's whitespace (str.isspace, and \s in Jinja's regular expressions).
function isSpaceCode(c) {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c >= 0x1c;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}
const isSpace = (ch) => isSpaceCode(ch.charCodeAt(0));
function strip(s, stripped, left = true, right = true) {
  const drop = stripped === null ? isSpace : (ch) => stripped.includes(ch);
  const cps = chars(s);
  let a = 0;
  let b = cps.length;
  while (left && a < b && drop(cps[a])) a++;
  while (right && b > a && drop(cps[b - 1])) b--;
  return cps.slice(a, b).join('');
}
function rstripSpace(s) { // Python's str.rstrip(), linear on any input
  let end = s.length;
  while (end > 0 && isSpaceCode(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

// Python str.capitalize() title-cases the first letter; where that differs from upper case:
const TITLE_CASE = new Map([
  ['ß', 'Ss'], ['ǆ', 'ǅ'], ['Ǆ', 'ǅ'], ['ǉ', 'ǈ'], ['Ǉ', 'ǈ'], ['ǌ', 'ǋ'], ['Ǌ', 'ǋ'], ['ǳ', 'ǲ'], ['Ǳ', 'ǲ'],
  ['ﬀ', 'Ff'], ['ﬁ', 'Fi'], ['ﬂ', 'Fl'], ['ﬃ', 'Ffi'], ['ﬄ', 'Ffl'], ['ﬅ', 'St'], ['ﬆ', 'St'],
]);
function capitalize(s) {
  const cps = chars(s);
  if (!cps.length) return '';
  return (TITLE_CASE.get(cps[0]) || cps[0].toUpperCase()) + cps.slice(1).join('').toLowerCase();
}
const WORD_START = new RegExp(`([-${PY_SPACE}({\\[<]+)`);
function title(s) {
  return s
    .split(WORD_START)
    .filter((item) => item)
    .map((item) => {
      const cps = chars(item);
      return cps[0].toUpperCase() + cps.slice(1).join('').toLowerCase();
    })
    .join('');
}
// Python's str.islower() / str.isupper(): some cased letter, and none of the other case.
const LOWER = /\p{Lowercase}/u;
const UPPER = /\p{Uppercase}/u;
const TITLE = /\p{Lt}/u;
function isCase(s, wanted, other) {
  let cased = false;
  for (const ch of chars(s)) {
    if (other.test(ch) || TITLE.test(ch)) return false;
    if (wanted.test(ch)) cased = true;
  }
  return cased;
}

function replace(s, old, replacement, count) {
  const limit = count === null ? -1 : intArgument(count, 'count');
  if (old === '') {
    const cps = chars(s);
    const n = limit < 0 ? cps.length + 1 : Math.min(limit, cps.length + 1);
    checkLength(s.length + n * replacement.length);
    let out = '';
    for (let i = 0; i < n; i++) out += replacement + (i < cps.length ? cps[i] : '');
    return out + cps.slice(n).join('');
  }
  const pieces = s.split(old);
  const n = limit < 0 ? pieces.length - 1 : Math.min(limit, pieces.length - 1);
  checkLength(s.length + n * (replacement.length - old.length));
  return pieces.slice(0, n + 1).join(replacement) + (n < pieces.length - 1 ? old + pieces.slice(n + 1).join(old) : '');
}
function intArgument(v, what) {
  needValue(v);
  if (!isInt(v)) fail(`${what} must be an integer, not ${typeName(v)}`);
  return num(v);
}

// Python's int(str, base) and float(str); null when the text is not a number.
function parsePythonInt(text, base) {
  let s = strip(text, null);
  let negative = false;
  if (s[0] === '+' || s[0] === '-') (negative = s[0] === '-'), (s = s.slice(1));
  const prefixes = { 16: /^0[xX]_?/, 8: /^0[oO]_?/, 2: /^0[bB]_?/ };
  if (base === 0) {
    base = /^0[xX]/.test(s) ? 16 : /^0[oO]/.test(s) ? 8 : /^0[bB]/.test(s) ? 2 : 10;
    if (base === 10 && /^0/.test(s) && !/^0(?:_?0)*$/.test(s)) return null;
  }
  if (prefixes[base]) s = s.replace(prefixes[base], '');
  if (!(base >= 2 && base <= 36) || !/^[0-9a-zA-Z]+(?:_[0-9a-zA-Z]+)*$/.test(s)) return null;
  const digits = s.replace(/_/g, '');
  if (Array.from(digits).some((ch) => parseInt(ch, 36) >= base)) return null;
  const value = parseInt(digits, base);
  if (!Number.isSafeInteger(value)) fail("an integer larger than 2**53, which wod's renderer does not support");
  return negative ? -value || 0 : value;
}
const PY_FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
function parsePythonFloat(text) {
  const s = strip(text, null);
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) return /nan/i.test(special[2]) ? NaN : special[1] === '-' ? -Infinity : Infinity;
  return PY_FLOAT.test(s) ? Number(s.replace(/_/g, '')) : null;
}

function toInt(value, dflt, base) {
  needValue(value);
  if (typeof value === 'string') {
    const b = isInt(base) ? num(base) : NaN;
    const parsed = b === 0 || (b >= 2 && b <= 36) ? parsePythonInt(value, b) : null;
    if (parsed !== null) return parsed;
    const f = parsePythonFloat(value);
    if (f === null || Number.isNaN(f)) return dflt;
    if (!Number.isFinite(f)) fail('cannot convert float infinity to integer');
    return int(Math.trunc(f));
  }
  if (isInt(value)) return num(value);
  if (value instanceof Float) {
    if (Number.isNaN(value.value)) return dflt;
    if (!Number.isFinite(value.value)) fail('cannot convert float infinity to integer');
    return int(Math.trunc(value.value));
  }
  return dflt;
}
function toFloat(value, dflt) {
  needValue(value);
  if (typeof value === 'string') {
    const f = parsePythonFloat(value);
    return f === null ? dflt : new Float(f);
  }
  if (isNumber(value)) return new Float(num(value));
  return dflt;
}

function roundValue(value, precision, method) {
  needValue(value);
  if (!['common', 'ceil', 'floor'].includes(method)) fail('round() method must be common, ceil or floor');
  const places = intArgument(precision, 'round() precision');
  if (!isNumber(value)) fail(`cannot round ${typeName(value)}`);
  const x = num(value);
  if (method !== 'common') {
    if (!Number.isFinite(x)) fail('cannot round infinity or NaN');
    const scale = Number(`1e${places}`);
    const whole = (method === 'ceil' ? Math.ceil(x * scale) : Math.floor(x * scale)) + 0; // math.ceil gives an int: no -0
    return new Float(whole / scale);
  }
  if (isInt(value)) {
    if (places >= 0) return x;
    const n = roundedDecimal(x, places) * 10n ** BigInt(-places);
    return int((x < 0 ? -1 : 1) * Number(n));
  }
  if (!Number.isFinite(x) || places > 323) return value;
  if (places < -308) return new Float(0 * x);
  const r = Number(`${roundedDecimal(x, places)}e${-places}`);
  if (!Number.isFinite(r)) fail('rounded value too large to represent');
  return new Float(x < 0 || Object.is(x, -0) ? -r : r);
}

// Jinja's make_attrgetter: "a.b.0" walks keys and indexes.
function attributeGetter(attribute, caseSensitive) {
  const post = (v) => (!caseSensitive && typeof v === 'string' ? (spendText(v), v.toLowerCase()) : v);
  if (attribute === null) return (item) => post(item);
  const parts = typeof attribute === 'string' ? attribute.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [attribute];
  return (item) => post(parts.reduce((v, p) => getItem(v, p, () => `item attribute '${attribute}'`), item));
}
function sortKeyGetter(attribute, caseSensitive) {
  const attributes = typeof attribute === 'string' ? attribute.split(',') : [attribute];
  const getters = attributes.map((a) => attributeGetter(a, caseSensitive));
  return (item) => getters.map((g) => g(item));
}
function minMax(value, caseSensitive, attribute, sign) {
  const items = iterate(value);
  if (!items.length) return new Undefined(null, 'undefined: no smallest or largest item, the sequence is empty');
  const key = attributeGetter(attribute, truthy(caseSensitive));
  let best = items[0];
  let bestKey = key(best);
  spend(items.length);
  for (const item of items.slice(1)) {
    const k = key(item);
    if (order(k, bestKey) * sign > 0) (best = item), (bestKey = k);
  }
  return best;
}
// What unique compares, as Python's set: 1 == 1.0 == True; lists and dicts are unhashable.
const NONE_KEY = Symbol('None');
function setKey(v) {
  if (typeof v === 'string') return v;
  if (isNumber(v)) return num(v) + 0;
  if (v === null) return NONE_KEY;
  if (isTuple(v)) return '\u0000tuple' + JSON.stringify(v.map((x) => (typeof setKey(x) === 'string' || typeof setKey(x) === 'number' ? setKey(x) : null)));
  const r = RANGES.get(v); // equal when they hold the same numbers
  if (r) return v.length < 2 ? `\u0000range:${v.length}:${v.length ? v[0] : ''}` : `\u0000range:${v[0]}:${r[2]}:${v.length}`;
  if (v instanceof Undefined) needValue(v);
  if (v instanceof Map || Array.isArray(v)) {
    if (ITERATORS.has(v)) return v; // compared by identity
    fail(`unhashable type: '${typeName(v)}'`);
  }
  return v;
}

function urlQuote(value, forQuery) {
  const safe = forQuery ? /[A-Za-z0-9_.~-]/ : /[A-Za-z0-9_.~/-]/;
  const text = toStr(value);
  checkLength(text.length * 3);
  const bytes = Buffer.from(text, 'utf8');
  spend(bytes.length);
  let out = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && safe.test(ch) ? ch : '%' + hex(byte, 2).toUpperCase();
  }
  return forQuery ? out.replace(/%20/g, '+') : out;
}
function urlencode(value) {
  if (typeof value === 'string' || !(Array.isArray(value) || value instanceof Map || value instanceof Undefined)) return urlQuote(value, false);
  const pairs = value instanceof Map ? Array.from(value) : iterate(value).map((item) => {
    const pair = iterate(item);
    if (pair.length !== 2) fail('urlencode needs a dict or a list of pairs');
    return pair;
  });
  return joinChecked(pairs.map(([k, v]) => `${urlQuote(k, true)}=${urlQuote(v, true)}`), '&');
}

// Python's json.dumps(value, sort_keys=True, indent=…), then Jinja's HTML-safe escapes.
function toJson(value, indent) {
  const unit = indent === null ? null : typeof indent === 'string' ? indent : ' '.repeat(Math.max(0, intArgument(indent, 'indent')));
  const parts = [];
  let size = 0;
  const put = (s) => {
    size += s.length;
    if (size > LIMITS.outputChars) fail(`a text longer than ${LIMITS.outputChars / MiB} MiB`);
    parts.push(s);
  };
  const container = (open, close, entries, level, write) => {
    if (!entries.length) return put(open + close);
    put(open);
    const inner = unit === null ? '' : '\n' + unit.repeat(level + 1);
    entries.forEach((e, i) => (put(i ? (unit === null ? ', ' : ',') + inner : inner), write(e)));
    put(unit === null ? close : '\n' + unit.repeat(level) + close);
  };
  const walk = (x, level) => {
    spend(1);
    if (x === null) return put('null');
    if (typeof x === 'boolean') return put(String(x));
    if (typeof x === 'number') return put(String(x));
    if (x instanceof Float) return put(Number.isFinite(x.value) ? floatRepr(x.value) : Number.isNaN(x.value) ? 'NaN' : x.value > 0 ? 'Infinity' : '-Infinity');
    if (typeof x === 'string') return put(jsonAscii(x));
    if (Array.isArray(x) && (seqKind(x) === 'list' || seqKind(x) === 'tuple')) return container('[', ']', x, level, (item) => walk(item, level + 1));
    if (x instanceof Map) {
      const keys = Array.from(x.keys()).sort((a, b) => order(a, b) || 0);
      return container('{', '}', keys, level, (k) => (put(jsonAscii(String(k)) + ': '), walk(x.get(k), level + 1)));
    }
    if (x instanceof Undefined) need(x);
    fail(`cannot convert ${typeName(x)} to JSON`);
  };
  walk(value, 0);
  return parts.join('').replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/'/g, '\\u0027');
}
function jsonAscii(s) { // Python json's ensure_ascii string
  spend(s.length);
  const simple = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const c = s.charCodeAt(i);
    if (ch === '"' || ch === '\\' || ch === '\n' || ch === '\r' || ch === '\t' || ch === '\b' || ch === '\f') out += simple[ch];
    else if (c < 0x20 || c > 0x7e) out += '\\u' + hex(c, 4);
    else out += ch;
  }
  return out + '"';
}

function pathArgument(v) {
  needValue(v);
  if (typeof v !== 'string') fail(`expected a path string, not ${typeName(v)}`);
  return spendText(v), v;
}
// Python's str.splitlines() (no line ends kept).
function splitLines(s) {
  const lines = s.split(/\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return s === '' ? [] : lines;
}
function indent(s, width, first, blank) {
  needValue(s);
  if (typeof s !== 'string') fail(`indent needs a string, not ${typeName(s)}`);
  spendText(s);
  let unit;
  if (typeof width === 'string') unit = width;
  else {
    const w = intArgument(width, 'indent width');
    checkLength(Math.max(0, w));
    unit = ' '.repeat(Math.max(0, w));
  }
  const lines = splitLines(s + '\n');
  checkLength(s.length + (lines.length + 1) * unit.length);
  let rv;
  if (truthy(blank)) rv = lines.join('\n' + unit);
  else {
    rv = lines.shift();
    if (lines.length) rv += '\n' + lines.map((line) => (line ? unit + line : line)).join('\n');
  }
  return truthy(first) ? unit + rv : rv;
}

const p = (name, dflt = REQUIRED) => [name, dflt];
const FILTERS = new Map(Object.entries({
  default: [[p('default_value', ''), p('boolean', false)], (v, dflt, boolean) => (v instanceof Undefined || (truthy(boolean) && !truthy(v)) ? dflt : v)],
  lower: [[], (v) => toStr(v).toLowerCase()],
  upper: [[], (v) => toStr(v).toUpperCase()],
  capitalize: [[], (v) => capitalize(toStr(v))],
  title: [[], (v) => title(toStr(v))],
  trim: [[p('chars', null)], (v, characters) => {
    if (characters !== null && typeof characters !== 'string') fail(`trim characters must be a string, not ${typeName(characters)}`);
    return strip(toStr(v), characters === null ? null : Array.from(characters));
  }],
  replace: [[p('old'), p('new'), p('count', null)], (v, old, replacement, count) => replace(toStr(v), toStr(old), toStr(replacement), count)],
  int: [[p('default', 0), p('base', 10)], (v, dflt, base) => toInt(v, dflt, base)],
  float: [[p('default', new Float(0))], (v, dflt) => toFloat(v, dflt)],
  string: [[], (v) => toStr(v)],
  length: [[], (v) => length(v)],
  join: [[p('d', ''), p('attribute', null)], (v, sep, attribute) => {
    const get = attributeGetter(attribute, true);
    return joinChecked(iterate(v).map((item) => toStr(get(item))), toStr(sep));
  }],
  first: [[], (v) => {
    const items = typeof v === 'string' ? (v ? [String.fromCodePoint(v.codePointAt(0))] : []) : iterate(v);
    return items.length ? items[0] : new Undefined(null, 'undefined: no first item, the sequence is empty');
  }],
  last: [[], (v) => {
    if (isIterator(v)) fail('last needs a sequence, not an iterator: add "| list" first');
    const items = typeof v === 'string' ? chars(v) : iterate(v);
    return items.length ? items[items.length - 1] : new Undefined(null, 'undefined: no last item, the sequence is empty');
  }],
  list: [[], (v) => checkedList(iterate(v).slice())],
  sort: [[p('reverse', false), p('case_sensitive', false), p('attribute', null)], (v, reverse, caseSensitive, attribute) => {
    const items = iterate(v);
    const key = sortKeyGetter(attribute, truthy(caseSensitive));
    const keyed = items.map((item) => [key(item), item]);
    const sign = truthy(reverse) ? -1 : 1;
    spend(items.length * Math.ceil(Math.log2(items.length + 1)));
    keyed.sort((a, b) => sign * (order(a[0], b[0]) || 0));
    return keyed.map((k) => k[1]);
  }],
  unique: [[p('case_sensitive', false), p('attribute', null)], (v, caseSensitive, attribute) => {
    const key = attributeGetter(attribute, truthy(caseSensitive));
    const seen = new Set();
    const out = [];
    for (const item of iterate(v)) {
      const k = setKey(key(item));
      if (!seen.has(k)) seen.add(k), out.push(item);
    }
    return iterator(out);
  }],
  reverse: [[], (v) => {
    if (typeof v === 'string') return chars(v).reverse().join('');
    if (v instanceof Undefined) return need(v), iterator([]);
    if (Array.isArray(v) || v instanceof Map) return iterator(iterate(v).slice().reverse());
    fail(`reverse needs a string or a sequence, not ${typeName(v)}`);
  }],
  abs: [[], (v) => {
    needValue(v);
    if (v instanceof Float) return new Float(Math.abs(v.value));
    if (isInt(v)) return Math.abs(num(v));
    fail(`bad operand type for abs(): ${typeName(v)}`);
  }],
  round: [[p('precision', 0), p('method', 'common')], (v, precision, method) => roundValue(v, precision, method)],
  min: [[p('case_sensitive', false), p('attribute', null)], (v, cs, attribute) => minMax(v, cs, attribute, -1)],
  max: [[p('case_sensitive', false), p('attribute', null)], (v, cs, attribute) => minMax(v, cs, attribute, 1)],
  sum: [[p('attribute', null), p('start', 0)], (v, attribute, start) => {
    if (typeof start === 'string') fail("sum() can't sum strings: use join");
    const get = attributeGetter(attribute, true);
    return iterate(v).reduce((total, item) => arith('+', total, get(item)), start);
  }],
  format: [null, (v, args, kwargs) => {
    if (args.length && kwargs.size) fail("format can't take both positional and keyword arguments");
    return percentFormat(toStr(v), kwargs.size ? kwargs : tuple(args));
  }],
  indent: [[p('width', 4), p('first', false), p('blank', false)], indent],
  urlencode: [[], urlencode],
  tojson: [[p('indent', null)], toJson],
  basename: [[], (v) => {
    const s = pathArgument(v);
    return s.slice(s.lastIndexOf('/') + 1);
  }],
  dirname: [[], (v) => {
    const s = pathArgument(v);
    let head = s.slice(0, s.lastIndexOf('/') + 1);
    if (head && head !== '/'.repeat(head.length)) {
      let end = head.length;
      while (end > 0 && head[end - 1] === '/') end--;
      head = head.slice(0, end);
    }
    return head;
  }],
}));
FILTERS.set('d', FILTERS.get('default'));
FILTERS.set('count', FILTERS.get('length'));

const isOdd = (v) => equal(arith('%', v, 2), 1);
const TESTS = new Map(Object.entries({
  defined: [[], (v) => !(v instanceof Undefined)],
  undefined: [[], (v) => v instanceof Undefined],
  none: [[], (v) => v === null],
  boolean: [[], (v) => typeof v === 'boolean'],
  true: [[], (v) => v === true],
  false: [[], (v) => v === false],
  integer: [[], (v) => typeof v === 'number'],
  float: [[], (v) => v instanceof Float],
  number: [[], (v) => isNumber(v)],
  string: [[], (v) => typeof v === 'string'],
  mapping: [[], (v) => v instanceof Map || v instanceof HostVars],
  sequence: [[], (v) => typeof v === 'string' || (Array.isArray(v) && !ITERATORS.has(v)) || v instanceof Map || (v instanceof Undefined && !v.strict)],
  iterable: [[], (v) => (need(v), typeof v === 'string' || Array.isArray(v) || v instanceof Map || v instanceof Loop || v instanceof Undefined)],
  lower: [[], (v) => isCase(toStr(v), LOWER, UPPER)],
  upper: [[], (v) => isCase(toStr(v), UPPER, LOWER)],
  odd: [[], isOdd],
  even: [[], (v) => equal(arith('%', v, 2), 0)],
  divisibleby: [[p('num')], (v, n) => equal(arith('%', v, n), 0)],
  eq: [[p('other')], (v, other) => equal(v, other)],
  ne: [[p('other')], (v, other) => !equal(v, other)],
  lt: [[p('other')], (v, other) => compare('<', v, other)],
  le: [[p('other')], (v, other) => compare('<=', v, other)],
  gt: [[p('other')], (v, other) => compare('>', v, other)],
  ge: [[p('other')], (v, other) => compare('>=', v, other)],
  in: [[p('seq')], (v, seq) => contains(seq, v)],
}));
for (const [alias, name] of [['equalto', 'eq'], ['lessthan', 'lt'], ['greaterthan', 'gt']]) TESTS.set(alias, TESTS.get(name));

// Checks a call's shape (parse time) and binds its arguments (render time).
function bindArguments(kind, name, params, args, kwargs, line) {
  if (params === null) return [args, kwargs];
  const bound = params.map((param) => param[1]);
  if (args.length > params.length) fail(`${kind} '${name}' takes at most ${params.length} argument(s)`, line);
  args.forEach((a, i) => (bound[i] = a));
  for (const key of kwargs.keys()) {
    const i = params.findIndex((param) => param[0] === key);
    if (i < 0) fail(`${kind} '${name}' has no argument '${key}'`, line);
    if (i < args.length) fail(`${kind} '${name}' got argument '${key}' twice`, line);
    bound[i] = kwargs.get(key);
  }
  bound.forEach((b, i) => b === REQUIRED && fail(`${kind} '${name}' needs argument '${params[i][0]}'`, line));
  return bound;
}

// ---------------------------------------------------------------------------------------------
// Lexer: Jinja's rules (jinja2/lexer.py) for the delimiters, whitespace control and tokens.

const RAW_BEGIN = new RegExp(`\\{%([-+]?)[${PY_SPACE}]*raw[${PY_SPACE}]*(?:-%\\}[${PY_SPACE}]*|%\\})`, 'y');
const RAW_END = new RegExp(`\\{%([-+]?)[${PY_SPACE}]*endraw[${PY_SPACE}]*(?:\\+%\\}|-%\\}[${PY_SPACE}]*|%\\}\\n?)`, 'y');
const NAME = /[\p{XID_Start}_]\p{XID_Continue}*/uy;
const STRING = /'([^'\\]*(?:\\[\s\S][^'\\]*)*)'|"([^"\\]*(?:\\[\s\S][^"\\]*)*)"/y;
const OPERATOR = /\/\/|\*\*|==|!=|>=|<=|[-+/*%~[\](){}=.:|,;<>]/y;
const CLOSING = new Map([['(', ')'], ['[', ']'], ['{', '}']]);
const isDigit = (ch) => ch >= '0' && ch <= '9';

// Jinja's float and integer literals, scanned without backtracking: [type, text] or null.
function scanNumber(s, i) {
  if (!isDigit(s[i])) return null;
  const digitRun = (j, ok) => { // digits, single underscores between them
    if (!ok(s[j])) return j;
    j++;
    for (;;) {
      if (ok(s[j])) j++;
      else if (s[j] === '_' && ok(s[j + 1])) j += 2;
      else return j;
    }
  };
  if (s[i - 1] !== '.') {
    const whole = digitRun(i, isDigit);
    let j = whole;
    let fraction = false;
    if (s[j] === '.' && isDigit(s[j + 1])) (j = digitRun(j + 1, isDigit)), (fraction = true);
    if (s[j] === 'e' || s[j] === 'E') {
      const k = s[j + 1] === '+' || s[j + 1] === '-' ? j + 2 : j + 1;
      if (isDigit(s[k])) return ['float', s.slice(i, digitRun(k, isDigit))];
    }
    if (fraction) return ['float', s.slice(i, j)];
  }
  const prefixed = { b: (c) => c === '0' || c === '1', o: (c) => c >= '0' && c <= '7', x: (c) => /^[0-9a-fA-F]$/.test(c || '') };
  const kind = s[i] === '0' && s[i + 1] ? prefixed[s[i + 1].toLowerCase()] : null;
  if (kind) {
    let j = i + 2;
    while ((s[j] === '_' && kind(s[j + 1])) || kind(s[j])) j += s[j] === '_' ? 2 : 1;
    if (j > i + 2) return ['integer', s.slice(i, j)];
  }
  if (s[i] === '0') return ['integer', s.slice(i, digitRun(i, (c) => c === '0'))];
  return ['integer', s.slice(i, digitRun(i, isDigit))];
}

// Python's string literal: backslash-escape non-ASCII, then decode "unicode-escape".
function pythonString(body, line) {
  let ascii = '';
  for (const ch of body) {
    const c = ch.codePointAt(0);
    ascii += c < 0x80 ? ch : c < 0x100 ? '\\x' + hex(c, 2) : c < 0x10000 ? '\\u' + hex(c, 4) : '\\U' + hex(c, 8);
  }
  const simple = new Map([['\\', '\\'], ["'", "'"], ['"', '"'], ['a', '\x07'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t'], ['v', '\x0b']]);
  let out = '';
  for (let i = 0; i < ascii.length; i++) {
    const ch = ascii[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = ascii[++i];
    if (e === undefined) fail('\\ at end of string', line);
    if (e === '\n') continue;
    if (simple.has(e)) out += simple.get(e);
    else if (e >= '0' && e <= '7') {
      let j = i;
      while (j < i + 3 && ascii[j] >= '0' && ascii[j] <= '7') j++;
      out += String.fromCodePoint(parseInt(ascii.slice(i, j), 8));
      i = j - 1;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const width = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const digits = ascii.slice(i + 1, i + 1 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(digits)) fail(`truncated \\${e} escape in a string`, line);
      const code = parseInt(digits, 16);
      if (code > 0x10ffff) fail('illegal Unicode character in a string', line);
      out += String.fromCodePoint(code);
      i += width;
    } else if (e === 'N') fail(`\\N{…} escapes ${ARE_NOT_SUPPORTED}`, line);
    else out += '\\' + e;
  }
  return out;
}

// In a notebook the tags sit inside JSON strings: tokens are read from the cell text (JSON
// escapes decoded), with a map back to positions in the file. Data is always taken raw.
const JSON_ESCAPES = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
function cellTextView(raw) {
  if (!raw.includes('\\')) return { text: raw, toRaw: (i) => i, fromRaw: (i) => i };
  const parts = [];
  const map = new Int32Array(raw.length + 1);
  let d = 0;
  let i = 0;
  while (i < raw.length) {
    let j = raw.indexOf('\\', i);
    if (j < 0) j = raw.length;
    parts.push(raw.slice(i, j));
    while (i < j) map[d++] = i++;
    if (i >= raw.length) break;
    let ch = JSON_ESCAPES.get(raw[i + 1]);
    let width = 2;
    if (ch === undefined && raw[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(raw.slice(i + 2, i + 6))) {
      ch = String.fromCharCode(parseInt(raw.slice(i + 2, i + 6), 16));
      width = 6;
    }
    if (ch === undefined) (ch = '\\'), (width = 1);
    parts.push(ch);
    map[d++] = i;
    i += width;
  }
  map[d] = raw.length;
  const fromRaw = (r) => { // first decoded index at or after raw position r
    let lo = 0;
    let hi = d;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return { text: parts.join(''), toRaw: (k) => map[k], fromRaw };
}

function tokenize(text, notebook) {
  const view = notebook ? cellTextView(text) : { text, toRaw: (i) => i, fromRaw: (i) => i };
  const src = view.text;
  const tokens = [];
  let line = 1;
  let nextNewline = text.indexOf('\n');
  const lineAt = (rawPos) => { // positions only move forward
    while (nextNewline >= 0 && nextNewline < rawPos) (line++), (nextNewline = text.indexOf('\n', nextNewline + 1));
    return line;
  };
  const data = (value, rawPos) => value && tokens.push({ type: 'data', value, line: lineAt(rawPos) });
  const skipSpace = (rawPos) => {
    while (rawPos < text.length && isSpaceCode(text.charCodeAt(rawPos))) rawPos++;
    return rawPos;
  };

  let pos = 0;
  while (pos < text.length) {
    let at = text.indexOf('{', pos);
    while (at >= 0 && !'{%#'.includes(text[at + 1] || 'x')) at = text.indexOf('{', at + 1);
    if (at < 0) {
      data(text.slice(pos), pos);
      break;
    }
    const before = text.slice(pos, at);
    const kind = text[at + 1];
    RAW_BEGIN.lastIndex = at;
    const raw = kind === '%' && RAW_BEGIN.exec(text);
    if (raw) {
      data(raw[1] === '-' ? rstripSpace(before) : before, pos);
      const start = RAW_BEGIN.lastIndex;
      let end = text.indexOf('{%', start);
      let m = null;
      while (end >= 0 && !((RAW_END.lastIndex = end), (m = RAW_END.exec(text)))) end = text.indexOf('{%', end + 1);
      if (!m) fail('missing {% endraw %}', lineAt(at));
      data(m[1] === '-' ? rstripSpace(text.slice(start, end)) : text.slice(start, end), start);
      pos = RAW_END.lastIndex;
      continue;
    }
    const sign = text[at + 2] === '-' || text[at + 2] === '+' ? text[at + 2] : '';
    data(sign === '-' ? rstripSpace(before) : before, pos);
    const contentStart = at + 2 + sign.length;
    if (kind === '#') {
      const close = text.indexOf('#}', contentStart);
      if (close < 0) fail('missing end of comment tag #}', lineAt(at));
      const endSign = close > contentStart && (text[close - 1] === '-' || text[close - 1] === '+') ? text[close - 1] : '';
      pos = close + 2;
      if (endSign === '-') pos = skipSpace(pos);
      else if (!endSign && text[pos] === '\n') pos++; // trim_blocks
      continue;
    }
    const block = kind === '%';
    tokens.push({ type: block ? 'block_begin' : 'variable_begin', line: lineAt(at), s: view.fromRaw(at), e: view.fromRaw(contentStart) });
    pos = lexTag(view.fromRaw(contentStart), block);
  }
  tokens.push({ type: 'eof', line: lineAt(text.length), s: src.length, e: src.length });
  return { tokens, source: src };

  function lexTag(q, block) {
    const balance = [];
    for (;;) {
      const tokenLine = lineAt(view.toRaw(Math.min(q, src.length)));
      if (q >= src.length) fail(`unexpected end of template inside ${block ? '{% %}' : '{{ }}'}`, tokenLine);
      const sign = src[q] === '-' || (block && src[q] === '+') ? src[q] : '';
      if (!balance.length && src.startsWith(block ? '%}' : '}}', q + sign.length)) {
        tokens.push({ type: block ? 'block_end' : 'variable_end', line: tokenLine, s: q, e: q + sign.length + 2 });
        const after = view.toRaw(q + sign.length + 2);
        if (sign === '-') return skipSpace(after);
        if (block && !sign && text[after] === '\n') return after + 1; // trim_blocks
        return after;
      }
      if (isSpaceCode(src.charCodeAt(q))) {
        q++;
        continue;
      }
      const number = scanNumber(src, q);
      if (number) {
        const [type, literal] = number;
        const clean = literal.replace(/_/g, '');
        let value;
        if (type === 'float') value = new Float(Number(clean));
        else {
          const big = BigInt(/^0[bBoOxX]/.test(clean) ? clean.slice(0, 2).toLowerCase() + clean.slice(2) : clean);
          if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail(`integer literal ${literal} is larger than wod's renderer supports (2**53)`, tokenLine);
          value = Number(big);
        }
        tokens.push({ type, value, line: tokenLine, s: q, e: q + literal.length });
        q += literal.length;
        continue;
      }
      NAME.lastIndex = q;
      let m = NAME.exec(src);
      if (m) {
        tokens.push({ type: 'name', value: m[0], line: tokenLine, s: q, e: NAME.lastIndex });
        q = NAME.lastIndex;
        continue;
      }
      STRING.lastIndex = q;
      m = STRING.exec(src);
      if (m) {
        const body = m[1] !== undefined ? m[1] : m[2];
        tokens.push({ type: 'string', value: pythonString(body, tokenLine), line: tokenLine, s: q, e: STRING.lastIndex });
        q = STRING.lastIndex;
        continue;
      }
      OPERATOR.lastIndex = q;
      m = OPERATOR.exec(src);
      if (!m) fail(`unexpected character ${strRepr(src[q])}`, tokenLine);
      const op = m[0];
      if (CLOSING.has(op)) balance.push(CLOSING.get(op));
      else if (op === ')' || op === ']' || op === '}') {
        if (!balance.length) fail(`unexpected '${op}'`, tokenLine);
        const expected = balance.pop();
        if (expected !== op) fail(`unexpected '${op}', expected '${expected}'`, tokenLine);
      }
      tokens.push({ type: op, value: op, line: tokenLine, s: q, e: OPERATOR.lastIndex });
      q = OPERATOR.lastIndex;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parser: Jinja's grammar and precedence (jinja2/parser.py), producing plain node objects.

const JINJA_TAGS = new Set(['macro', 'call', 'filter', 'include', 'import', 'from', 'extends', 'block', 'with', 'autoescape', 'print', 'do', 'break', 'continue', 'trans', 'pluralize']);
const END_TAGS = new Set(['elif', 'else', 'endif', 'endfor', 'endset', 'endraw', 'endmacro', 'endcall', 'endfilter', 'endblock', 'endwith', 'endautoescape', 'endtrans']);

class Parser {
  constructor(tokens, source) {
    this.tokens = tokens;
    this.source = source;
    this.i = 0;
    this.depth = 0;
  }
  get cur() {
    return this.tokens[this.i];
  }
  look() {
    return this.tokens[Math.min(this.i + 1, this.tokens.length - 1)];
  }
  next() {
    const t = this.tokens[this.i];
    if (t.type !== 'eof') this.i++;
    return t;
  }
  isName(value, t = this.cur) {
    return t.type === 'name' && t.value === value;
  }
  skip(type) {
    if (this.cur.type !== type) return false;
    this.i++;
    return true;
  }
  skipName(value) {
    if (!this.isName(value)) return false;
    this.i++;
    return true;
  }
  expect(type) {
    const t = this.cur;
    if (t.type !== type) fail(`expected ${describeType(type)}, got ${describeToken(t)}`, t.line);
    return this.next();
  }
  expectName(value) {
    if (!this.isName(value)) fail(`expected '${value}', got ${describeToken(this.cur)}`, this.cur.line);
    return this.next();
  }
  enter(line) {
    if (++this.depth > LIMITS.nesting) fail(`nesting deeper than ${LIMITS.nesting} levels`, line);
  }
  leave() {
    this.depth--;
  }
  // Finishes a node: its line and source span, and its depth, which bounds evaluation.
  node(fields, first, children = []) {
    let depth = 0;
    for (const child of children) if (child && child.depth > depth) depth = child.depth;
    const node = Object.assign(fields, { line: first.line, s: first.s, e: this.tokens[Math.max(0, this.i - 1)].e, depth: depth + 1 });
    if (node.depth > LIMITS.nesting) fail(`an expression nested deeper than ${LIMITS.nesting} levels`, first.line);
    return node;
  }

  parseTemplate() {
    return this.subparse(null);
  }
  subparse(ends) {
    const body = [];
    for (;;) {
      const t = this.cur;
      if (t.type === 'eof') {
        if (ends) fail(`unexpected end of template: expected ${ends.map((n) => `{% ${n} %}`).join(' or ')}`, t.line);
        return body;
      }
      if (t.type === 'data') {
        body.push({ type: 'text', value: t.value });
        this.next();
      } else if (t.type === 'variable_begin') {
        this.next();
        body.push({ type: 'print', expr: this.parseTuple(true), line: t.line });
        this.expect('variable_end');
      } else {
        this.next(); // block_begin
        if (ends && this.cur.type === 'name' && ends.includes(this.cur.value)) return body;
        body.push(this.parseStatement());
        this.expect('block_end');
      }
    }
  }
  parseStatements(ends, dropNeedle) {
    this.skip(':');
    this.expect('block_end');
    const body = this.subparse(ends);
    if (dropNeedle) this.next();
    return body;
  }
  parseStatement() {
    const t = this.cur;
    if (t.type !== 'name') fail(`tag name expected, got ${describeToken(t)}`, t.line);
    if (t.value === 'if') return this.parseIf();
    if (t.value === 'for') return this.parseFor();
    if (t.value === 'set') return this.parseSet();
    if (END_TAGS.has(t.value)) fail(`unexpected {% ${t.value} %}`, t.line);
    if (JINJA_TAGS.has(t.value)) fail(`{% ${t.value} %} ${IS_NOT_SUPPORTED}`, t.line);
    fail(`unknown tag '${t.value}'`, t.line);
  }
  parseIf() {
    const line = this.next().line;
    this.enter(line);
    const branches = [];
    let elseBody = [];
    let test = this.parseTuple(false);
    for (;;) {
      branches.push({ test, body: this.parseStatements(['elif', 'else', 'endif']) });
      const t = this.next();
      if (t.value === 'elif') {
        test = this.parseTuple(false);
        continue;
      }
      if (t.value === 'else') elseBody = this.parseStatements(['endif'], true);
      break;
    }
    this.leave();
    return { type: 'if', branches, elseBody, line };
  }
  parseFor() {
    const line = this.next().line;
    this.enter(line);
    const target = this.parseAssignTarget(['in']);
    if (target.names.includes('loop')) fail("can't assign to the special loop variable in a for loop", line);
    this.expectName('in');
    const iter = this.parseTuple(false, ['recursive']);
    const filter = this.skipName('if') ? this.parseExpression(true) : null;
    if (this.isName('recursive')) fail(`recursive loops ${ARE_NOT_SUPPORTED}`, line);
    const body = this.parseStatements(['endfor', 'else']);
    const elseBody = this.next().value === 'endfor' ? [] : this.parseStatements(['endfor'], true);
    this.leave();
    return { type: 'for', target, iter, filter, body, elseBody, line };
  }
  parseSet() {
    const line = this.next().line;
    if (this.look().type === '.') fail(`namespace assignments ({% set ns.x = … %}) ${ARE_NOT_SUPPORTED}`, line);
    const target = this.parseAssignTarget(null);
    if (!this.skip('=')) fail(`set blocks ({% set x %}…{% endset %}) ${ARE_NOT_SUPPORTED}`, line);
    return { type: 'set', target, expr: this.parseTuple(true), line };
  }
  // Names only: `x`, or `a, b` which unpacks.
  parseAssignTarget(extraEnds) {
    const names = [];
    let isTupleTarget = false;
    for (;;) {
      if (names.length) this.expect(',');
      if (this.isTupleEnd(extraEnds)) break;
      const t = this.cur;
      if (t.type === '(') fail(`parenthesized assignment targets ${ARE_NOT_SUPPORTED}`, t.line);
      if (t.type !== 'name' || ['true', 'false', 'True', 'False', 'none', 'None'].includes(t.value)) fail(`can't assign to ${describeToken(t)}`, t.line);
      names.push(this.next().value);
      if (this.cur.type !== ',') break;
      isTupleTarget = true;
    }
    if (!names.length) fail(`expected a name, got ${describeToken(this.cur)}`, this.cur.line);
    return { names, unpack: isTupleTarget };
  }
  isTupleEnd(extraEnds) {
    const t = this.cur;
    if (t.type === 'variable_end' || t.type === 'block_end' || t.type === ')') return true;
    return !!extraEnds && t.type === 'name' && extraEnds.includes(t.value);
  }
  parseTuple(withCondexpr, extraEnds, explicitParens) {
    const first = this.cur;
    const items = [];
    let isTupleValue = false;
    for (;;) {
      if (items.length) this.expect(',');
      if (this.isTupleEnd(extraEnds)) break;
      items.push(this.parseExpression(withCondexpr));
      if (this.cur.type !== ',') break;
      isTupleValue = true;
    }
    if (!isTupleValue) {
      if (items.length) return items[0];
      if (!explicitParens) fail(`expected an expression, got ${describeToken(this.cur)}`, this.cur.line);
    }
    return this.node({ type: 'tuple', items }, first, items);
  }
  parseExpression(withCondexpr = true) {
    this.enter(this.cur.line);
    const node = withCondexpr ? this.parseCondexpr() : this.parseOr();
    this.leave();
    return node;
  }
  parseCondexpr() {
    const first = this.cur;
    let expr = this.parseOr();
    while (this.skipName('if')) {
      const test = this.parseOr();
      const otherwise = this.skipName('else') ? this.parseCondexpr() : null;
      expr = this.node({ type: 'cond', test, then: expr, otherwise }, first, [test, expr, otherwise]);
    }
    return expr;
  }
  parseOr() {
    const first = this.cur;
    let left = this.parseAnd();
    while (this.skipName('or')) {
      const right = this.parseAnd();
      left = this.node({ type: 'or', left, right }, first, [left, right]);
    }
    return left;
  }
  parseAnd() {
    const first = this.cur;
    let left = this.parseNot();
    while (this.skipName('and')) {
      const right = this.parseNot();
      left = this.node({ type: 'and', left, right }, first, [left, right]);
    }
    return left;
  }
  parseNot() {
    const first = this.cur;
    if (!this.skipName('not')) return this.parseCompare();
    this.enter(first.line);
    const operand = this.parseNot();
    this.leave();
    return this.node({ type: 'not', operand }, first, [operand]);
  }
  parseCompare() {
    const first = this.cur;
    const expr = this.parseMath1();
    const ops = [];
    for (;;) {
      const t = this.cur;
      let op = null;
      if (['==', '!=', '<', '<=', '>', '>='].includes(t.type)) (op = t.type), this.next();
      else if (this.skipName('in')) op = 'in';
      else if (this.isName('not') && this.isName('in', this.look())) (op = 'notin'), this.next(), this.next();
      else break;
      ops.push({ op, expr: this.parseMath1() });
    }
    if (!ops.length) return expr;
    return this.node({ type: 'compare', expr, ops }, first, [expr, ...ops.map((o) => o.expr)]);
  }
  parseBinary(ops, operand) {
    const first = this.cur;
    let left = operand();
    while (ops.includes(this.cur.type)) {
      const op = this.next().type;
      const right = operand();
      left = this.node({ type: 'binop', op, left, right }, first, [left, right]);
    }
    return left;
  }
  parseMath1() {
    return this.parseBinary(['+', '-'], () => this.parseConcat());
  }
  parseConcat() {
    const first = this.cur;
    const items = [this.parseMath2()];
    while (this.skip('~')) items.push(this.parseMath2());
    return items.length === 1 ? items[0] : this.node({ type: 'concat', items }, first, items);
  }
  parseMath2() {
    return this.parseBinary(['*', '/', '//', '%'], () => this.parsePow());
  }
  parsePow() {
    return this.parseBinary(['**'], () => this.parseUnary(true));
  }
  parseUnary(withFilter) {
    const first = this.cur;
    let node;
    if (first.type === '-' || first.type === '+') {
      this.next();
      this.enter(first.line);
      const operand = this.parseUnary(false);
      this.leave();
      node = this.node({ type: 'sign', sign: first.type === '-' ? -1 : 1, operand }, first, [operand]);
    } else node = this.parsePrimary();
    node = this.parsePostfix(node, first);
    return withFilter ? this.parseFilterExpr(node, first) : node;
  }
  parsePrimary() {
    const t = this.cur;
    if (t.type === 'name') {
      this.next();
      if (['true', 'True', 'false', 'False'].includes(t.value)) return this.node({ type: 'const', value: t.value === 'true' || t.value === 'True' }, t);
      if (t.value === 'none' || t.value === 'None') return this.node({ type: 'const', value: null }, t);
      return this.node({ type: 'name', name: t.value }, t);
    }
    if (t.type === 'string') {
      let value = '';
      while (this.cur.type === 'string') value += this.next().value;
      return this.node({ type: 'const', value }, t);
    }
    if (t.type === 'integer' || t.type === 'float') return this.next(), this.node({ type: 'const', value: t.value }, t);
    if (t.type === '(') {
      this.next();
      const inner = this.parseTuple(true, null, true);
      this.expect(')');
      return inner;
    }
    if (t.type === '[') {
      this.next();
      const items = [];
      while (this.cur.type !== ']') {
        if (items.length) this.expect(',');
        if (this.cur.type === ']') break;
        items.push(this.parseExpression());
      }
      this.expect(']');
      return this.node({ type: 'list', items }, t, items);
    }
    if (t.type === '{') {
      this.next();
      const pairs = [];
      while (this.cur.type !== '}') {
        if (pairs.length) this.expect(',');
        if (this.cur.type === '}') break;
        const key = this.parseExpression();
        this.expect(':');
        pairs.push([key, this.parseExpression()]);
      }
      this.expect('}');
      return this.node({ type: 'dict', pairs }, t, pairs.flat());
    }
    fail(`unexpected ${describeToken(t)}`, t.line);
  }
  parsePostfix(node, first) {
    for (;;) {
      const t = this.cur;
      if (t.type === '.' || t.type === '[') node = this.parseSubscript(node, first);
      else if (t.type === '(') node = this.parseCall(node, first);
      else return node;
    }
  }
  parseFilterExpr(node, first) {
    for (;;) {
      const t = this.cur;
      if (t.type === '|') node = this.parseFilter(node, first);
      else if (this.isName('is')) node = this.parseTest(node, first);
      else if (t.type === '(') node = this.parseCall(node, first);
      else return node;
    }
  }
  parseSubscript(node, first) {
    const t = this.next();
    if (t.type === '.') {
      const attr = this.next();
      if (attr.type === 'name') return this.node({ type: 'getattr', obj: node, name: attr.value }, first, [node]);
      if (attr.type !== 'integer') fail(`expected a name or number after '.', got ${describeToken(attr)}`, attr.line);
      const key = this.node({ type: 'const', value: attr.value }, attr);
      return this.node({ type: 'getitem', obj: node, key }, first, [node]);
    }
    const args = [];
    while (this.cur.type !== ']') {
      if (args.length) this.expect(',');
      args.push(this.parseSubscribed());
    }
    this.expect(']');
    if (args.length === 1 && args[0].type === 'slice') {
      const [start, stop, step] = args[0].parts;
      return this.node({ type: 'slice', obj: node, start, stop, step }, first, [node, start, stop, step]);
    }
    if (args.some((a) => a.type === 'slice')) fail(`multiple slices ${ARE_NOT_SUPPORTED}`, t.line);
    const key = args.length === 1 ? args[0] : this.node({ type: 'tuple', items: args }, t, args);
    return this.node({ type: 'getitem', obj: node, key }, first, [node, key]);
  }
  parseSubscribed() {
    const parts = [];
    if (this.cur.type === ':') {
      this.next();
      parts.push(null);
    } else {
      const node = this.parseExpression();
      if (this.cur.type !== ':') return node;
      this.next();
      parts.push(node);
    }
    if (this.cur.type === ':') parts.push(null);
    else if (this.cur.type !== ']' && this.cur.type !== ',') parts.push(this.parseExpression());
    else parts.push(null);
    if (this.cur.type === ':') {
      this.next();
      parts.push(this.cur.type !== ']' && this.cur.type !== ',' ? this.parseExpression() : null);
    } else parts.push(null);
    return { type: 'slice', parts };
  }
  parseCallArgs() {
    const open = this.expect('(');
    const args = [];
    const kwargs = new Map();
    let requireComma = false;
    while (this.cur.type !== ')') {
      if (requireComma) {
        this.expect(',');
        if (this.cur.type === ')') break;
      }
      if (this.cur.type === '*' || this.cur.type === '**') fail(`*args and **kwargs in calls ${ARE_NOT_SUPPORTED}`, this.cur.line);
      if (this.cur.type === 'name' && this.look().type === '=') {
        const key = this.next().value;
        this.next();
        kwargs.set(key, this.parseExpression());
      } else {
        if (kwargs.size) fail('invalid syntax for a function call: positional argument after keyword argument', open.line);
        args.push(this.parseExpression());
      }
      requireComma = true;
    }
    this.expect(')');
    return { args, kwargs };
  }
  // The only call is range(); everything else is refused here, at parse time.
  parseCall(node, first) {
    const t = this.cur;
    if (node.type !== 'name' || node.name !== 'range') {
      const what = this.source.slice(node.s, node.e);
      if (node.type === 'getattr') fail(`method calls such as ${what}() ${ARE_NOT_SUPPORTED}: use a filter instead (e.g. x | upper, not x.upper())`, t.line);
      fail(`calling ${what}() ${IS_NOT_SUPPORTED}: the only function is range()`, t.line);
    }
    const { args, kwargs } = this.parseCallArgs();
    if (kwargs.size || !args.length || args.length > 3) fail('range() takes 1 to 3 positional arguments', t.line);
    return this.node({ type: 'range', args }, first, args);
  }
  parseFilter(node, first) {
    while (this.skip('|')) {
      const t = this.expect('name');
      let name = t.value;
      while (this.skip('.')) name += '.' + this.expect('name').value;
      const spec = FILTERS.get(name);
      if (!spec) fail(`filter '${name}' ${IS_NOT_SUPPORTED}`, t.line);
      const { args, kwargs } = this.cur.type === '(' ? this.parseCallArgs() : { args: [], kwargs: new Map() };
      bindArguments('filter', name, spec[0], args, kwargs, t.line);
      node = this.node({ type: 'filter', name, value: node, args, kwargs }, first, [node, ...args, ...kwargs.values()]);
    }
    return node;
  }
  parseTest(node, first) {
    const is = this.next();
    const negated = this.skipName('not');
    const t = this.expect('name');
    let name = t.value;
    while (this.skip('.')) name += '.' + this.expect('name').value;
    const spec = TESTS.get(name);
    if (!spec) fail(`test '${name}' ${IS_NOT_SUPPORTED}`, t.line);
    let args = [];
    let kwargs = new Map();
    if (this.cur.type === '(') ({ args, kwargs } = this.parseCallArgs());
    else if (['name', 'string', 'integer', 'float', '(', '[', '{'].includes(this.cur.type) && !['else', 'or', 'and'].some((n) => this.isName(n))) {
      if (this.isName('is')) fail('tests cannot be chained with is', this.cur.line);
      const argFirst = this.cur;
      args = [this.parsePostfix(this.parsePrimary(), argFirst)];
    }
    bindArguments('test', name, spec[0], args, kwargs, t.line);
    const test = this.node({ type: 'test', name, value: node, args, kwargs }, first, [node, ...args, ...kwargs.values()]);
    return negated ? this.node({ type: 'not', operand: test }, is, [test]) : test;
  }
}
function describeType(type) {
  return { variable_end: "'}}'", block_end: "'%}'", name: 'a name', eof: 'end of template' }[type] || `'${type}'`;
}
function describeToken(t) {
  if (t.type === 'name') return `'${t.value}'`;
  if (t.type === 'string') return 'a string';
  if (t.type === 'integer' || t.type === 'float') return 'a number';
  if (t.type === 'variable_end') return 'end of print statement }}';
  if (t.type === 'block_end') return 'end of statement block %}';
  if (t.type === 'eof') return 'end of template';
  if (t.type === 'data') return 'template text';
  return `'${t.type}'`;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

// Jinja globals a template might reach for; names, not values, in the error.
const JINJA_GLOBALS = new Set(['lipsum', 'cycler', 'joiner', 'namespace', 'dict', 'self', 'range', 'super', 'caller', 'varargs', 'kwargs']);

class Scope {
  constructor(parent, vars = new Map()) {
    this.parent = parent;
    this.vars = vars;
  }
}

class Renderer {
  constructor(source, context, notebook) {
    this.source = source;
    this.notebook = notebook;
    this.root = new Scope(null, context);
    this.hostvars = new HostVars(context);
    this.out = [];
    this.size = 0;
    this.iterations = 0;
    this.line = 1;
  }
  // The source of an expression, for messages (never its value).
  describe(node) {
    const text = this.source.slice(node.s, Math.min(node.e, node.s + 200)).replace(/\s+/g, ' ').trim();
    return text.length > 80 || node.e > node.s + 200 ? text.slice(0, 77) + '...' : text;
  }
  write(s) {
    if (!s) return;
    this.size += s.length;
    if (this.size > LIMITS.outputChars) fail(`the output is larger than ${LIMITS.outputChars / MiB} MiB`);
    this.out.push(s);
  }
  run(body) {
    this.exec(body, new Scope(this.root));
    return this.out.join('');
  }
  exec(body, scope) {
    for (const node of body) {
      if (node.type === 'text') this.write(node.value);
      else if (node.type === 'print') {
        const value = this.expr(node.expr, scope);
        this.line = node.line;
        const text = toStr(value);
        if (this.notebook) {
          if (this.size + text.length > LIMITS.outputChars) fail(`the output is larger than ${LIMITS.outputChars / MiB} MiB`);
          this.write(JSON.stringify(text).slice(1, -1));
        } else this.write(text);
      } else if (node.type === 'if') {
        const branch = node.branches.find((b) => {
          const v = this.expr(b.test, scope);
          this.line = b.test.line;
          return truthy(v);
        });
        this.exec(branch ? branch.body : node.elseBody, scope);
      } else if (node.type === 'for') this.execFor(node, scope);
      else {
        const value = this.expr(node.expr, scope);
        this.line = node.line;
        this.assign(node.target, value, scope);
      }
    }
  }
  assign(target, value, scope) {
    if (!target.unpack) return scope.vars.set(target.names[0], value);
    const items = iterate(value);
    if (items.length !== target.names.length) fail(`cannot unpack ${items.length} values into ${target.names.length} names`);
    target.names.forEach((name, i) => scope.vars.set(name, items[i]));
  }
  countIteration() {
    if (++this.iterations > LIMITS.loopIterations) fail(`more than ${LIMITS.loopIterations} loop iterations`);
  }
  execFor(node, scope) {
    const iterable = this.expr(node.iter, scope);
    this.line = node.line;
    let items = iterate(iterable);
    const bind = (item) => {
      const inner = new Scope(scope);
      this.assign(node.target, item, inner);
      return inner;
    };
    if (node.filter) {
      items = items.filter((item) => {
        this.countIteration();
        return truthy(this.expr(node.filter, bind(item)));
      });
    }
    if (!items.length) return this.exec(node.elseBody, new Scope(scope));
    for (let i = 0; i < items.length; i++) {
      this.countIteration();
      const inner = bind(items[i]);
      inner.vars.set('loop', new Loop(items, i));
      this.exec(node.body, inner);
    }
  }
  lookup(node, scope) {
    for (let s = scope; s; s = s.parent) if (s.vars.has(node.name)) return s.vars.get(node.name);
    if (node.name === 'hostvars') return this.hostvars;
    if (JINJA_GLOBALS.has(node.name)) fail(`'${node.name}' ${IS_NOT_SUPPORTED}`, node.line);
    return new Undefined(node.name, null, true, node.name);
  }
  args(nodes, scope) {
    return nodes.map((n) => this.expr(n, scope));
  }
  expr(n, scope) {
    spend(1);
    this.line = n.line;
    switch (n.type) {
      case 'const': return n.value;
      case 'name': return this.lookup(n, scope);
      case 'tuple': return tuple(this.args(n.items, scope));
      case 'list': return this.args(n.items, scope);
      case 'dict': {
        const map = new Map();
        for (const [k, v] of n.pairs) {
          const key = this.expr(k, scope);
          if (typeof key !== 'string' && typeof key !== 'number') fail(`dict keys must be strings or integers in wod's renderer, not ${typeName(key)}`, k.line);
          map.set(key, this.expr(v, scope));
        }
        return map;
      }
      case 'getattr': {
        const obj = this.expr(n.obj, scope);
        this.line = n.line;
        return this.getAttribute(obj, n);
      }
      case 'getitem': {
        const obj = this.expr(n.obj, scope);
        const key = this.expr(n.key, scope);
        this.line = n.line;
        return getItem(obj, key, () => this.describe(n));
      }
      case 'slice': {
        const obj = this.expr(n.obj, scope);
        const [start, stop, step] = [n.start, n.stop, n.step].map((x) => (x ? this.expr(x, scope) : null));
        this.line = n.line;
        return sliceValue(obj, start, stop, step);
      }
      case 'not': return !truthy(this.expr(n.operand, scope));
      case 'and': {
        const left = this.expr(n.left, scope);
        return truthy(left) ? this.expr(n.right, scope) : left;
      }
      case 'or': {
        const left = this.expr(n.left, scope);
        return truthy(left) ? left : this.expr(n.right, scope);
      }
      case 'cond':
        if (truthy(this.expr(n.test, scope))) return this.expr(n.then, scope);
        return n.otherwise ? this.expr(n.otherwise, scope) : new Undefined(null, null, false);
      case 'binop': {
        const left = this.expr(n.left, scope);
        const right = this.expr(n.right, scope);
        this.line = n.line;
        return arith(n.op, left, right);
      }
      case 'sign': {
        const v = this.expr(n.operand, scope);
        this.line = n.line;
        return negate(v, n.sign);
      }
      case 'concat': {
        const parts = this.args(n.items, scope);
        this.line = n.line;
        return joinChecked(parts.map(toStr), '');
      }
      case 'compare': {
        let left = this.expr(n.expr, scope);
        for (const { op, expr } of n.ops) {
          const right = this.expr(expr, scope);
          this.line = n.line;
          if (!compare(op, left, right)) return false;
          left = right;
        }
        return true;
      }
      case 'range': {
        const args = this.args(n.args, scope);
        this.line = n.line;
        return range(args);
      }
      case 'filter':
      case 'test': {
        const value = this.expr(n.value, scope);
        const args = this.args(n.args, scope);
        const kwargs = new Map();
        for (const [k, v] of n.kwargs) kwargs.set(k, this.expr(v, scope));
        this.line = n.line;
        const [params, fn] = (n.type === 'filter' ? FILTERS : TESTS).get(n.name);
        if (n.type === 'filter' && n.name !== 'default' && n.name !== 'd') need(value);
        return fn(value, ...bindArguments(n.type, n.name, params, args, kwargs, n.line));
      }
    }
    fail(`unknown expression ${n.type}`);
  }
  getAttribute(obj, n) {
    const name = n.name;
    if (name.startsWith('_')) fail(`'${this.describe(n)}': attribute names starting with '_' ${ARE_NOT_SUPPORTED}`);
    if (obj instanceof Undefined) needValue(obj);
    if (obj instanceof Loop) return loopAttribute(obj, name);
    if (obj instanceof HostVars) return obj.vars;
    const methods = PY_ATTRIBUTE_SETS.get(typeName(obj));
    if (methods && methods.has(name)) {
      fail(`'${this.describe(n)}' is a Python ${typeName(obj)} method or attribute; those ${ARE_NOT_SUPPORTED} (use a filter, or ['${name}'] for a key)`);
    }
    if (obj instanceof Map && obj.has(name)) return obj.get(name);
    return new Undefined(this.describe(n), null, true, obj instanceof Map && CONTEXTS.has(obj) ? name : null);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering text, files and folders

function renderText(text, context, notebook, file) {
  if (typeof text !== 'string') throw new TypeError('template text must be a string');
  let renderer = null;
  meter = { work: 0 };
  try {
    if (text.length > LIMITS.templateChars) fail(`the template is larger than ${LIMITS.templateChars / MiB} MiB`, 1);
    const normalized = text.replace(/\r\n?/g, '\n'); // as Jinja and Ansible read templates
    const { tokens, source } = tokenize(normalized, notebook);
    const body = new Parser(tokens, source).parseTemplate();
    renderer = new Renderer(source, context, notebook);
    return renderer.run(body);
  } catch (e) {
    const line = (e && e.line) || (renderer ? renderer.line : 1);
    if (e instanceof Problem) throw Object.assign(new TemplateError(file, line, e.reason), e.variable ? { variable: e.variable } : {});
    if (e instanceof RangeError) throw new TemplateError(file, line, 'the template is too complex to render (nesting or size)');
    if (e instanceof TypeError) throw new TemplateError(file, line, `internal error of wod's renderer: ${e.message}`); // a bug: report it, never crash the plan
    throw e;
  } finally {
    meter = { work: 0 };
  }
}

function renderTemplate(text, vars, options = {}) {
  const file = options.file === undefined ? '<template>' : String(options.file);
  const notebook = options.notebook === undefined ? file.endsWith('.ipynb') : !!options.notebook;
  return renderText(text, contextOf(vars), notebook, file);
}

function isRendered(relativePath) {
  const parts = String(relativePath).split(/[\\/]/);
  const base = parts[parts.length - 1];
  if (parts.includes('.ipynb_checkpoints') || base.endsWith('-checkpoint.ipynb')) return false;
  if (base.startsWith('.')) return false; // WoD finds templates with Ansible's find, which skips hidden files
  return RENDERED_NAMES.includes(base) || RENDERED_SUFFIXES.some((suffix) => base.endsWith(suffix));
}
// Jupyter's autosaves of the author are not workshop content.
const isCheckpoint = (name) => name === '.ipynb_checkpoints' || name.endsWith('-checkpoint.ipynb');
// A workshop's own e-mail texts (infra/notify/texts.ts) are for the platform, not for learners' homes.
const MAIL_DIR = 'wod-mail';

// Every entry under dir, parents before children, never following a symlink.
function* walk(dir) {
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop();
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs = [];
    for (const entry of entries) {
      if (isCheckpoint(entry.name) || (!rel && entry.name === MAIL_DIR)) continue;
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const kind = entry.isSymbolicLink() ? 'symlink' : entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
      yield { rel: relPath, abs: path.join(dir, relPath), kind };
      if (kind === 'dir') subdirs.push(relPath);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
  }
}

const O_NOFOLLOW = fs.constants.O_NOFOLLOW || 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK || 0;
// Opens a regular file without following a link or blocking on a FIFO.
function openRegular(abs, rel) {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new TemplateError(rel, 0, 'not a regular file');
  }
  return { fd, stat, mode: stat.mode & 0o100 ? 0o755 : 0o644 };
}
function readAll(fd, size) {
  const buffer = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, buffer, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function renderFile(abs, rel, context) {
  const { fd, stat, mode } = openRegular(abs, rel);
  let bytes;
  try {
    if (stat.size > LIMITS.templateChars) throw new TemplateError(rel, 0, `larger than ${LIMITS.templateChars / MiB} MiB, too big to render`);
    bytes = readAll(fd, stat.size);
  } finally {
    fs.closeSync(fd);
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    const loose = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    throw new TemplateError(rel, loose.slice(0, loose.indexOf('\ufffd')).split('\n').length, 'not valid UTF-8 text');
  }
  const notebook = rel.endsWith('.ipynb');
  const rendered = renderText(text, context, notebook, rel);
  if (LONE_SURROGATE.test(rendered)) throw new TemplateError(rel, 0, 'the rendered text contains an unpaired surrogate, which is not valid UTF-8');
  if (notebook) checkNotebook(rendered, rel);
  return { text: rendered, mode };
}

// WoD renders the whole notebook file, then Jupyter reads it: the result must be a notebook.
function checkNotebook(rendered, rel) {
  let nb;
  try {
    nb = JSON.parse(rendered);
  } catch (e) {
    const at = jsonErrorOffset(rendered);
    const line = at < 0 ? 0 : rendered.slice(0, at).split('\n').length;
    throw new TemplateError(rel, line, `the rendered notebook is not valid JSON (at line ${line} of the rendered text)`);
  }
  if (!nb || typeof nb !== 'object' || Array.isArray(nb) || typeof nb.nbformat !== 'number' || !Array.isArray(nb.cells)) {
    throw new TemplateError(rel, 0, 'the rendered notebook is not a Jupyter notebook (an object with a numeric nbformat and a cells array)');
  }
}
// Where a text stops being JSON (-1 if it is JSON): error messages name a line, never content.
function jsonErrorOffset(s) {
  const stack = [];
  let i = 0;
  let want = 'value';
  const SCALAR = /"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const scalar = () => ((SCALAR.lastIndex = i), SCALAR.exec(s) ? ((i = SCALAR.lastIndex), true) : false);
  for (;;) {
    while (i < s.length && ' \t\n\r'.includes(s[i])) i++;
    if (want === 'value' || want === 'valueOrClose') {
      if (want === 'valueOrClose' && s[i] === ']') (i++, stack.pop(), (want = 'after'));
      else if (s[i] === '[') (stack.push(']'), i++, (want = 'valueOrClose'));
      else if (s[i] === '{') (stack.push('}'), i++, (want = 'keyOrClose'));
      else if (scalar()) want = 'after';
      else return i;
    } else if (want === 'key' || want === 'keyOrClose') {
      if (want === 'keyOrClose' && s[i] === '}') (i++, stack.pop(), (want = 'after'));
      else {
        if (s[i] !== '"' || !scalar()) return i;
        while (i < s.length && ' \t\n\r'.includes(s[i])) i++;
        if (s[i] !== ':') return i;
        i++;
        want = 'value';
      }
    } else {
      if (!stack.length) return i < s.length ? i : -1;
      const close = stack[stack.length - 1];
      if (s[i] === ',') (i++, (want = close === ']' ? 'value' : 'key'));
      else if (s[i] === close) (i++, stack.pop());
      else return i;
    }
  }
}

// Undefined variables checkFolder stands in for in one file before it gives up on the rest.
const MAX_STAND_INS = 100;

// Every problem of every file. An undefined variable does not hide the next one: it is reported,
// then stood in for (a placeholder text) and the file rendered again, so an author sees every
// undefined variable of a file, each at its first use, in one run. A problem found only with a
// stand-in in place says so (it may come from the placeholder).
function checkFolder(srcDir, vars) {
  const context = contextOf(vars);
  const problems = [];
  for (const entry of walk(srcDir)) {
    if (entry.kind === 'symlink') problems.push({ file: entry.rel, line: 0, reason: 'symlink, not copied' });
    else if (entry.kind === 'other') problems.push({ file: entry.rel, line: 0, reason: 'not a regular file, not copied' });
    if (entry.kind !== 'file' || !isRendered(entry.rel)) continue;
    const standIns = new Map();
    let withStandIns = context;
    for (let n = 0; ; n++) {
      try {
        renderFile(entry.abs, entry.rel, withStandIns);
        break;
      } catch (e) {
        if (!(e instanceof TemplateError)) {
          problems.push({ file: entry.rel, line: 0, reason: `cannot read the file (${e.code || 'error'})` });
          break;
        }
        if (e.variable && standIns.has(e.variable)) break; // a stand-in that does not take (never expected)
        const found = n > 0 && !e.variable ? ' (found with stand-ins for the undefined variables above)' : '';
        problems.push({ file: e.file, line: e.line, reason: e.reason + found });
        if (!e.variable || n >= MAX_STAND_INS) break;
        standIns.set(e.variable, `sample-${e.variable}`);
        withStandIns = contextOf(Object.fromEntries([...Object.entries(vars), ...standIns]));
      }
    }
  }
  return problems;
}

function writeNew(file, mode, write) {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, mode);
  try {
    fs.fchmodSync(fd, mode); // exact mode whatever the umask
    write(fd);
  } finally {
    fs.closeSync(fd);
  }
}
function writeAll(fd, buffer) {
  for (let done = 0; done < buffer.length; ) done += fs.writeSync(fd, buffer, done, buffer.length - done);
}
function copyFile(abs, rel, out) {
  const { fd, mode } = openRegular(abs, rel);
  try {
    const chunk = Buffer.alloc(MiB);
    writeNew(out, mode, (target) => {
      for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) writeAll(target, chunk.subarray(0, n));
    });
  } finally {
    fs.closeSync(fd);
  }
}

function renderFolder(srcDir, destDir, vars) {
  const context = contextOf(vars);
  const dest = path.resolve(destDir);
  const building = `${dest}.rendering`;
  fs.rmSync(building, { recursive: true, force: true }); // left by an interrupted run
  let rendered = 0;
  let copied = 0;
  try {
    const makeDir = (dir) => (fs.mkdirSync(dir, { mode: 0o755 }), fs.chmodSync(dir, 0o755));
    makeDir(building);
    for (const entry of walk(srcDir)) {
      const out = path.join(building, entry.rel);
      if (entry.kind === 'dir') makeDir(out);
      else if (entry.kind !== 'file') continue; // symlinks and special files are never copied
      else if (isRendered(entry.rel)) {
        const { text, mode } = renderFile(entry.abs, entry.rel, context);
        writeNew(out, mode, (fd) => writeAll(fd, Buffer.from(text, 'utf8')));
        rendered++;
      } else {
        copyFile(entry.abs, entry.rel, out);
        copied++;
      }
    }
    fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(building, dest);
  } catch (e) {
    fs.rmSync(building, { recursive: true, force: true });
    throw e;
  }
  return { rendered, copied };
}

// ---------------------------------------------------------------------------------------------
// CLI: node render.js render --src DIR --dest DIR | check --src DIR   (variables: JSON on stdin)

function main(argv) {
  const usage = 'usage: render.js render --src DIR --dest DIR | render.js check --src DIR  (variables: one JSON object on stdin)';
  const [command, ...rest] = argv;
  const flags = new Map();
  for (let i = 0; i < rest.length; i += 2) flags.set(rest[i], rest[i + 1]);
  const known = command === 'render' ? ['--src', '--dest'] : ['--src'];
  if (!['render', 'check'].includes(command) || rest.length !== known.length * 2 || !known.every((f) => flags.get(f))) {
    process.stderr.write(`render: ${usage}\n`);
    return 2;
  }
  let vars;
  try {
    const input = fs.readFileSync(0);
    if (input.length > LIMITS.variablesBytes) throw new Error();
    vars = JSON.parse(input.toString('utf8'));
    if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new Error();
  } catch (e) {
    process.stderr.write('render: the variables on stdin must be one JSON object\n'); // never echo them
    return 2;
  }
  try {
    if (command === 'render') {
      renderFolder(flags.get('--src'), flags.get('--dest'), vars);
      return 0;
    }
    const problems = checkFolder(flags.get('--src'), vars);
    process.stdout.write(JSON.stringify(problems) + '\n');
    return problems.length ? 1 : 0;
  } catch (e) {
    process.stderr.write(`render: ${e instanceof Error ? e.message : 'failed'}\n`);
    return 1;
  }
}

module.exports = { renderTemplate, TemplateError, isRendered, checkFolder, renderFolder, LIMITS };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
