// Checks a learner's SSH public key the way DigitalOcean and sshd would take it. Never throws:
// whatever a learner typed, the answer is a key or a reason (one bad row is one rejection).
import { createHash } from "node:crypto";

export type KeyCheck = { ok: true; type: string; fingerprint: string; key: string } | { ok: false; reason: string };

/** Per key type, the wire-format fields after the type name (RFC 4253, 5656, 8709; OpenSSH PROTOCOL.u2f). */
const LAYOUT: Record<string, { fields: number; check(f: Buffer[]): string | undefined }> = {
  "ssh-rsa": {
    fields: 2, // e, n
    check: ([, e, n]) => {
      if (!e.length || e.every((b) => b === 0)) return "RSA key has no public exponent";
      const bits = magnitudeBits(n);
      return bits < 2048 ? `RSA key of ${bits} bits is too weak (2048 at least)` : undefined;
    },
  },
  "ssh-ed25519": { fields: 1, check: ([, pk]) => (pk.length === 32 ? undefined : "ed25519 key has the wrong length") },
  "sk-ssh-ed25519@openssh.com": {
    fields: 2, // pk, application
    check: ([, pk]) => (pk.length === 32 ? undefined : "ed25519 security key has the wrong length"),
  },
  "ecdsa-sha2-nistp256": { fields: 2, check: ecdsa("nistp256", 65) },
  "ecdsa-sha2-nistp384": { fields: 2, check: ecdsa("nistp384", 97) },
  "ecdsa-sha2-nistp521": { fields: 2, check: ecdsa("nistp521", 133) },
  "sk-ecdsa-sha2-nistp256@openssh.com": { fields: 3, check: ecdsa("nistp256", 65) },
};

/** Parses `type base64 [comment]`; returns the normalised key and its SHA256 fingerprint. */
export function checkSshKey(text: string | null | undefined): KeyCheck {
  const parts = (typeof text === "string" ? text : "").trim().split(/\s+/);
  if (parts.length < 2 || !parts[0]) return { ok: false, reason: "SSH key missing or not in 'type base64 comment' form" };
  const [type, b64] = parts;
  const layout = Object.hasOwn(LAYOUT, type) ? LAYOUT[type] : undefined;
  if (!layout) return { ok: false, reason: `SSH key type ${printable(type)} is not supported` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) return { ok: false, reason: "SSH key body is not base64" };
  const blob = Buffer.from(b64, "base64");
  const fields = readStrings(blob);
  if (!fields || fields[0].toString("latin1") !== type) return { ok: false, reason: "SSH key body does not match its type" };
  if (fields.length !== 1 + layout.fields) return { ok: false, reason: `SSH key body is truncated or malformed (${type})` };
  const problem = layout.check(fields);
  if (problem) return { ok: false, reason: problem };
  const fingerprint = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
  return { ok: true, type, fingerprint, key: `${type} ${b64}` + (parts[2] ? ` ${parts.slice(2).join(" ")}` : "") };
}

function ecdsa(curve: string, pointLength: number) {
  return ([, name, q]: Buffer[]) => {
    if (name.toString("latin1") !== curve) return `ECDSA key names curve ${printable(name.toString("latin1"))}, not ${curve}`;
    return q.length === pointLength && q[0] === 4 ? undefined : "ECDSA key point is malformed";
  };
}

/** Bits of an SSH mpint's magnitude (leading zero bytes do not count). */
function magnitudeBits(n: Buffer): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  return i === n.length ? 0 : (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]));
}

const printable = (s: string) => JSON.stringify(s.slice(0, 40));

/** The SSH wire format: a sequence of uint32-length-prefixed strings. */
function readStrings(buf: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(i);
    if (i + 4 + len > buf.length) return undefined;
    out.push(buf.subarray(i + 4, i + 4 + len));
    i += 4 + len;
  }
  return out.length ? out : undefined;
}
