// `--actor NAME`, taken by every command: whom the audit trail names instead of the OS user (a
// pipeline passes `--actor github:<login>`). Taken out before a command parses its own options.
import { setActor } from "../audit/record";
import { UsageError } from "./exit";

export function takeActor(args: string[]): string[] {
  const rest: string[] = [];
  let actor: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (a === "--actor" || a.startsWith("--actor=")) {
      actor = a === "--actor" ? args[++i] : a.slice("--actor=".length);
      if (actor === undefined || actor.startsWith("-")) throw new UsageError("option --actor needs a value (who runs this command, e.g. --actor alice)");
      if (!/^[^\x00-\x1f\x7f]{1,200}$/.test(actor) || !actor.trim()) throw new UsageError("--actor: 1 to 200 printable characters");
      continue;
    }
    rest.push(a);
  }
  setActor(actor);
  return rest;
}
