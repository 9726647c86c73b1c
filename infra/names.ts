// Resource names the stack, the guard and the write-back must agree on. Names are identities:
// renaming one replaces live machines.

/** Slots per cohort: a cohort holds the slots 100·shard … 100·shard+99 of one workshop at one location. */
export const COHORT_SLOTS = 100;

/** The shard a slot number falls in; by absolute slot, so a range edit never moves a live slot. */
export const shardOf = (slot: number) => Math.floor(slot / COHORT_SLOTS);

/** A cohort's StudentCohort: `<location>-<WKSHP-Name>-s<shard>`. */
export const cohortName = (location: string, folder: string, shard: number) => `${location}-${folder}-s${shard}`;

/** The cohort's host-side sync command, the resource whose stdout holds the per-slot results. */
export const cohortSyncName = (cohort: string) => `${cohort}-sync`;

/** A learner's StudentServer: `learner-<id>`. */
export const serverName = (learnerId: string) => `learner-${learnerId}`;

/** The server a resource belongs to: children are named `<component name>-<part>`. */
export function ownerName(resourceName: string): string | undefined {
  return /^(learner-[^-]+)(-|$)/.exec(resourceName)?.[1];
}
