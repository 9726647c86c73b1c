// Machines' SSH host keys, known before the machines exist: each is derived from the stack's seed
// and the machine's name, handed to the machine by cloud-init, and pinned in every connection the
// platform makes to it (pulumi-command's `hostKey` restricts the handshake to that key's type and
// accepts only that key: provider/pkg/provider/remote/connection.go, v1.2.1). ECDSA P-256, the key
// type cloud-init's `ssh_keys` and OpenSSH both read as PEM.
import { createECDH, createHmac, createPrivateKey } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export interface HostKey {
  /** PEM (SEC1) private key, for cloud-init's `ssh_keys.ecdsa_private`: a secret. */
  privatePem: string;
  /** `ecdsa-sha2-nistp256 AAAA…`, for `ssh_keys.ecdsa_public`, the connection's `hostKey` and known_hosts. */
  publicKey: string;
}

/** The order of P-256: a private key is a number from 1 to n − 1. */
const N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

export function hostKeyFor(seed: string, machine: string): HostKey {
  if (seed.length < 32) throw new Error("the host key seed must be at least 32 characters");
  // HMAC output is below n but for a chance of about 2^-32; the counter steps past it.
  let d = 0n;
  for (let i = 0; d === 0n || d >= N; i++) {
    d = BigInt(`0x${createHmac("sha256", seed).update(`wod/host-key/v1/${machine}/${i}`).digest("hex")}`);
  }
  const secret = Buffer.from(d.toString(16).padStart(64, "0"), "hex");
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(secret);
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  const b64url = (b: Buffer) => b.toString("base64url");
  const privatePem = createPrivateKey({
    key: { kty: "EC", crv: "P-256", d: b64url(secret), x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
    format: "jwk",
  }).export({ type: "sec1", format: "pem" }) as string;
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from("ecdsa-sha2-nistp256")), str(Buffer.from("nistp256")), str(point)]);
  return { privatePem, publicKey: `ecdsa-sha2-nistp256 ${blob.toString("base64")}` };
}

/** cloud-config lines giving the machine its host key (cloud-init `ssh_keys`). */
export function hostKeyCloudConfig(key: HostKey): string[] {
  return [
    "ssh_keys:",
    "  ecdsa_private: |",
    ...key.privatePem.trim().split("\n").map((l) => `    ${l}`),
    `  ecdsa_public: ${key.publicKey}`,
  ];
}

/** `wod:hostKeys` values: a machine's public key line to pin, or "unpinned". */
export type ConfiguredHostKeys = Record<string, string>;

/**
 * The host key a machine is given (cloud machines: by cloud-init at first boot) and the one its
 * connections pin: the configured key if any ("unpinned" pins none), else the given one. An
 * existing host or a machine created before wod pinned keys keeps the key it has, so only the
 * configuration can name it.
 */
export function hostKeyOf(machine: string, cloud: boolean, seed: pulumi.Input<string>, configured: ConfiguredHostKeys): { given?: pulumi.Output<HostKey>; pin?: pulumi.Output<string> } {
  const given = cloud ? pulumi.secret(pulumi.output(seed).apply((s) => hostKeyFor(s, machine))) : undefined;
  const setting = configured[machine];
  if (setting === "unpinned") return { given };
  if (setting) return { given, pin: pulumi.output(setting) };
  // The public half is no secret: unwrap it so it can be exported and shown in previews.
  return { given, pin: given && pulumi.unsecret(given.apply((k) => k.publicKey)) };
}
