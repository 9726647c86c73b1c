// Entry point for `pulumi preview` / `pulumi up` (Pulumi.yaml `main`): Pulumi calls the
// exported function and turns what it returns into stack outputs.
import { program } from "./program";

export = program;
