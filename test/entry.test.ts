// The real `pulumi up` compiles infra/index.ts with Pulumi's own ts-node and tsconfig.json:
// the entry point must load that way, not only under vitest and tsx.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { ROOT } from "../infra/load";

it("the Pulumi entry point loads under Pulumi's ts-node and exports the program", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, "support/pulumi-load.js"), ROOT]);
  expect(stdout.trim()).toBe("loaded: function");
}, 120_000);
