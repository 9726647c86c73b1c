// Resource names the stack, the guard and the write-back must agree on. Names are identities:
// renaming one replaces live machines.

/** A slot's StudentAccount: `<location>-student<N>`. */
export const accountName = (location: string, slot: number) => `${location}-student${slot}`;

/** A learner's StudentServer: `learner-<id>`. */
export const serverName = (learnerId: string) => `learner-${learnerId}`;

/** The account or server a resource belongs to: children are named `<component name>-<part>`. */
export function ownerName(resourceName: string): string | undefined {
  return /^(learner-[^-]+|[a-z][a-z0-9-]*?-student\d+)(-|$)/.exec(resourceName)?.[1];
}
