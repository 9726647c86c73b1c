// Learners' passwords without a resource each: derived from the stack's one password seed (a
// secret RandomPassword) and the registration id. New for every registration, the same on every
// run, never stored anywhere but the secret stdin of the host sync and the secret credentials
// output the write-back reads. Replacing the seed (`pulumi up --replace <seed urn>`) rotates every
// live learner's password on the next sync.
import { createHmac } from "node:crypto";

// No look-alikes (l/1, O/0, I): learners type these from an e-mail.
const LOWER = "abcdefghijkmnopqrstuvwxyz";
const UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS = "23456789";
const ALL = LOWER + UPPER + DIGITS;

/** 12 characters, at least one lower-case letter, one capital and one digit (about 68 bits). */
export function learnerPassword(seed: string, registrationId: string): string {
  if (seed.length < 32) throw new Error("the password seed must be at least 32 characters");
  const b = createHmac("sha256", seed).update(`wod/learner-password/v1/${registrationId}`).digest();
  const chars = [LOWER[b[0] % LOWER.length], UPPER[b[1] % UPPER.length], DIGITS[b[2] % DIGITS.length]];
  for (let i = 3; i < 12; i++) chars.push(ALL[b[i] % ALL.length]);
  // The three guaranteed classes land at positions the hash picks, not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = b[12 + (i % 20)] % (i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

/**
 * Which seed a learner's password came from, without revealing it: the database keeps this (never a
 * password), and `wod notify` derives the password again only with a seed of the same id.
 */
export function passwordSeedId(seed: string): string {
  return createHmac("sha256", seed).update("wod/password-seed-id/v1").digest("hex").slice(0, 16);
}
