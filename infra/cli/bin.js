#!/usr/bin/env node
// `wod` (package.json "bin"): `npx wod plan --json`, `npx wod register …`. Unlike `npm run`,
// npx prints nothing of its own on stdout, so pipelines get pure JSON or text.
require("tsx/cjs/api").register();
const { runCommand } = require("./exit.ts");
const { wod } = require("./wod.ts");
runCommand(() => wod(process.argv.slice(2)));
