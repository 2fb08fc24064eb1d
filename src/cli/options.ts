// Flag parsing shared by the CLI commands: node:util's parseArgs (strict), plus number checks that
// name the flag at fault. Model loading (preset or spec file) lives here too.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.ts';
import { buildModel, PRESETS, type Model } from '../nn/spec.ts';
import { readInput } from './files.ts';

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function num(v: string | undefined, flag: string, def: number, o: { int?: boolean; min?: number; positive?: boolean } = {}): number {
  if (v === undefined) return def;
  const x = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(x) && (!o.int || Number.isInteger(x)) && (o.min === undefined || x >= o.min) && (!o.positive || x > 0);
  if (!ok) {
    const what = o.int ? 'an integer' : 'a number';
    const bound = o.positive ? ' > 0' : o.min !== undefined ? ` ≥ ${o.min}` : '';
    throw new ConfigError(`${flag} must be ${what}${bound}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/** `cae` (or another preset, sized for `classes` when it classifies) or a path to a JSON spec. */
export function loadModel(arg: string | undefined, classes?: number): Model {
  const name = arg ?? 'cae';
  const preset = PRESETS[name];
  if (preset) return buildModel(preset({ classes }), name);
  if (!name.endsWith('.json')) throw new ConfigError(`--model ${name}: not a preset (${Object.keys(PRESETS).join(', ')}) or a .json spec file`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(readInput(name, '--model')));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`--model ${name}: not valid JSON (${(e as Error).message})`);
  }
  return buildModel(raw, name);
}
