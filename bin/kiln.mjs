#!/usr/bin/env node
// `npm run kiln -- <command>`: loads the TypeScript CLI through Vite's module runner, so the CLI
// imports shaders with `?raw` exactly as the browser build does — one source, no build step.
import { runnerImport } from 'vite';

const here = (p) => new URL(p, import.meta.url).pathname;
const { module } = await runnerImport(here('../src/cli/main.ts'), { configFile: here('../vite.config.ts'), logLevel: 'error' });
// Dawn keeps the event loop alive while a device exists; the CLI closes what it opened and exits.
process.exit(await module.main(process.argv.slice(2)));
