#!/usr/bin/env node
// Runs every suite (type check and lint; Vitest: references, kernels, engine; Playwright: the demo page in Chromium;
// the consumer suite: the packed tarball installed into a temporary app),
// then prints one closing line, `N passed, N failed`, summed over all of them. Exits non-zero when
// anything failed, when a suite did not report, or when no WebGPU adapter could be opened.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const out = 'test-results';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

function sh(cmd, args, env = {}) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;
}

let passed = 0, failed = 0, broken = false;

// Static checks first (each counts as one test): the types, with noUncheckedIndexedAccess, and the
// linter. A type or lint error fails the run like any failing test.
for (const [name, cmd, args] of [['tsc --noEmit', 'npx', ['tsc', '--noEmit']], ['biome lint', 'npx', ['biome', 'lint']]]) {
  if (sh(cmd, args) === 0) passed++;
  else {
    console.error(`${name} failed`);
    failed++;
  }
}

// Name the adapter first: a run that cannot open one fails here, before any suite.
if (sh('node', ['bin/kiln.mjs', 'adapter']) !== 0) {
  console.error('No WebGPU adapter: the GPU suites cannot run.');
  broken = true;
}

const vitestJson = `${out}/vitest.json`;
const vitestStatus = sh('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numFailedTestSuites ?? 0);
  if (r.numTotalTests === 0) broken = true;
} else broken = true;
if (vitestStatus !== 0 && failed === 0) broken = true;

if (existsSync('playwright.config.ts')) {
  const pwJson = `${out}/playwright.json`;
  const pwStatus = sh('npx', ['playwright', 'test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson });
  if (existsSync(pwJson)) {
    const s = JSON.parse(readFileSync(pwJson, 'utf8')).stats;
    passed += s.expected + (s.flaky ?? 0);
    failed += s.unexpected;
    if (s.expected + s.unexpected === 0) broken = true;
  } else broken = true;
  if (pwStatus !== 0 && failed === 0) broken = true;
}

// Kiln as an installed package: build, pack, install the tarball into a temporary app, run README's
// Embedding examples (Chromium and Node), a strict TypeScript consumer and the installed CLI.
const consumerJson = `${out}/consumer.json`;
const consumerStatus = sh('node', ['scripts/consumer-test.mjs', '--json', consumerJson]);
if (existsSync(consumerJson)) {
  const r = JSON.parse(readFileSync(consumerJson, 'utf8'));
  passed += r.passed;
  failed += r.failed;
  if (r.passed + r.failed === 0) broken = true;
} else broken = true;
if (consumerStatus !== 0 && failed === 0) broken = true;

if (broken) failed += 1; // a suite that could not report counts as a failure, never as silence
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
