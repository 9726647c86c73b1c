// Checks a learner's SSH public key the way DigitalOcean and sshd would take it.
import { createHash } from "node:crypto";

export type KeyCheck = { ok: true; type: string; fingerprint: string; key: string } | { ok: false; reason: string };

const TYPES = new Set([
  "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
]);

/** Parses `type base64 [comment]`; returns the normalised key and its SHA256 fingerprint. */
export function checkSshKey(text: string | null | undefined): KeyCheck {
  const parts = (text ?? "").trim().split(/\s+/);
  if (parts.length < 2 || !parts[0]) return { ok: false, reason: "SSH key missing or not in 'type base64 comment' form" };
  const [type, b64] = parts;
  if (!TYPES.has(type)) return { ok: false, reason: `SSH key type ${type.slice(0, 40)} is not supported` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { ok: false, reason: "SSH key body is not base64" };
  const blob = Buffer.from(b64, "base64");
  const fields = readStrings(blob);
  if (!fields || fields[0].toString() !== type) return { ok: false, reason: "SSH key body does not match its type" };
  if (type === "ssh-rsa") {
    const modulus = fields[2];
    const bits = (modulus.length - (modulus[0] === 0 ? 1 : 0)) * 8;
    if (bits < 2048) return { ok: false, reason: `RSA key of ${bits} bits is too weak (2048 at least)` };
  }
  if (type === "ssh-ed25519" && fields[1]?.length !== 32) return { ok: false, reason: "ed25519 key has the wrong length" };
  const fingerprint = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
  return { ok: true, type, fingerprint, key: `${type} ${b64}` + (parts[2] ? ` ${parts.slice(2).join(" ")}` : "") };
}

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
