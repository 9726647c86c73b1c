// How every command ends: its exit code, or exit 2 with a message for bad input and a stack
// trace only for what nobody expected.
import { ConfigError } from "../config";
import { DatabaseUnreachable } from "../db/connect";

export function runCommand(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e) => {
      const known = e instanceof ConfigError || e instanceof DatabaseUnreachable;
      console.error(`wod: ${known ? e.message : e.stack ?? e}`);
      process.exit(2);
    },
  );
}
