// Preloaded with `node -r` by test/production-install.test.ts: records every package a project
// file (not one inside node_modules) requires or resolves, and appends them to the file named by
// WOD_RECORD_PACKAGES when the process exits.
const fs = require("fs");
const Module = require("module");
const path = require("path");
const seen = new Set();
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const file = resolve.call(this, request, parent, ...rest);
  const from = parent && parent.filename;
  if (from && !from.split(path.sep).includes("node_modules") && file.includes(`${path.sep}node_modules${path.sep}`)) seen.add(file);
  return file;
};
process.on("exit", () => fs.appendFileSync(process.env.WOD_RECORD_PACKAGES, [...seen].map((f) => `${f}\n`).join("")));
