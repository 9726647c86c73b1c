// Loads the entry point the way `pulumi up` does (@pulumi/pulumi cmd/run/run.js): ts-node with
// the project's tsconfig.json, the TypeScript it finds, and transpileOnly from its noCheck.
const path = require("path");
const root = process.argv[2];
process.chdir(root);
const tsutils = require(path.join(root, "node_modules/@pulumi/pulumi/tsutils.js"));
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
require(tsnodeRequire).register({ compiler: typescriptRequire, transpileOnly: compilerOptions.noCheck, project: "tsconfig.json", skipProject: false, compilerOptions: {} });
const m = require(path.join(root, "infra/index.ts"));
console.log("loaded:", typeof m);
