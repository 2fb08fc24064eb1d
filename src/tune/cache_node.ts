// The tuning cache in Node: one JSON file, $KILN_CACHE_DIR/tune.json, else
// $XDG_CACHE_HOME/kiln/tune.json, else ~/.cache/kiln/tune.json. Written atomically (temp file and
// rename); a missing or damaged file is an empty cache, never an error.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AdapterChoices, TuneCache } from './cache.ts';

export function defaultCachePath(): string {
  const dir = process.env.KILN_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kiln');
  return join(dir, 'tune.json');
}

interface FileFormat { kiln: 'tune-cache'; adapters: Record<string, { facts?: unknown; choices: AdapterChoices }> }

function readAll(path: string): FileFormat {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as FileFormat;
    if (j && j.kiln === 'tune-cache' && typeof j.adapters === 'object') return j;
  } catch { /* missing or damaged: start afresh */ }
  return { kiln: 'tune-cache', adapters: {} };
}

export function fileCache(path = defaultCachePath(), facts?: unknown): TuneCache {
  return {
    where: path,
    load: async (adapter) => ({ ...(readAll(path).adapters[adapter]?.choices ?? {}) }),
    save: async (adapter, choices) => {
      const all = readAll(path);
      all.adapters[adapter] = { facts, choices };
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(tmp, JSON.stringify(all, null, 1));
        renameSync(tmp, path);
      } catch {
        // A cache that cannot be written only costs the next run its tuning time.
        rmSync(tmp, { force: true });
      }
    },
  };
}
