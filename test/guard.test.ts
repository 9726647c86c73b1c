// The mass-delete guard on its own (infra/reconcile/guard.ts): a reconcile aborts only when the
// releases no rule explains are above BOTH limits, the count (maxDeletes) and the share of the live
// accounts (maxDeleteShare); either one alone lets a small or a large platform run.
import { describe, expect, it } from "vitest";
import type { DesiredState } from "../infra/desired/types";
import type { Step } from "../infra/reconcile/engine";
import { checkGuards } from "../infra/reconcile/guard";

const desired = { transitions: { expiredRegistrations: [], closedRegistrations: [], endedCohorts: {}, warnServers: [], removeServers: [] } } as unknown as DesiredState;

/** One cohort whose slot table goes from `live` registrations to the first `kept` of them. */
function cohort(live: number, kept: number): Step {
  const slots = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), `${i + 1}#1`]));
  return {
    op: "update", type: "wod:index:StudentCohort", urn: "urn:pulumi:test::wod::wod:index:StudentCohort::eu-WKSHP-Python-s0",
    oldInputs: { slots: slots(live) }, newInputs: { slots: slots(kept) },
  };
}

const guard = { maxDeletes: 2, maxDeleteShare: 0.5 };
const check = (live: number, kept: number) => checkGuards({ steps: [cohort(live, kept)], desired, guard, allowMassDelete: false });

describe("the mass-delete guard", () => {
  it("a share over the limit with a count under it is applied (2 of 3 lost rows: 67 %, but not more than 2)", () => {
    const r = check(3, 1);
    expect(r.releases.unexpected).toHaveLength(2);
    expect(r.reasons).toEqual([]);
  });

  it("a count over the limit with a share under it is applied (3 of 40)", () => {
    expect(check(40, 37).reasons).toEqual([]);
  });

  it("both over the limits aborts with a reason naming the counts, unless this run allows it", () => {
    const r = check(3, 0);
    expect(r.reasons).toEqual([expect.stringMatching(/^3 of 3 live learner accounts would be released .*--allow-mass-delete/)]);
    expect(checkGuards({ steps: [cohort(3, 0)], desired, guard, allowMassDelete: true }).reasons).toEqual([]);
  });
});
