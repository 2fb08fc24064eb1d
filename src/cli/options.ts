// Flag parsing shared by the CLI commands: node:util's parseArgs (strict), number checks that name
// the flag at fault, and model loading (preset or spec file). Every refusal is one line of our own.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.ts';
import { buildModel, PRESETS, type Model } from '../nn/spec.ts';
import { readInput } from './files.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs reads `--lr -1` as a flag missing its value; a value that looks like a negative number
 * is joined to its flag (`--lr=-1`) so that our own check names the flag and the bound.
 */
function joinNegatives(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, next = argv[i + 1];
    const opt = a.startsWith('--') ? options[a.slice(2)] : undefined;
    if (opt?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parse<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: joinNegatives(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '').split('\n')[0]!);
  }
}

/** Like parse, with positional arguments (`kiln predict … image.png`). */
export function parseWithPositionals<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: joinNegatives(argv, options), options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '').split('\n')[0]!);
  }
}

export function num(v: string | undefined, flag: string, def: number,
  o: { int?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
  if (v === undefined) return def;
  const x = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(x) && (!o.int || Number.isInteger(x)) && (o.min === undefined || x >= o.min) &&
    (o.max === undefined || x <= o.max) && (!o.positive || x > 0);
  if (!ok) {
    const what = o.int ? 'an integer' : 'a number';
    const bounds = [o.positive ? '> 0' : o.min !== undefined ? `≥ ${o.min}` : '', o.max !== undefined ? `≤ ${o.max}` : ''].filter(Boolean);
    throw new ConfigError(`${flag} must be ${what}${bounds.length ? ` ${bounds.join(' and ')}` : ''}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/** One of `choices`, or the default; anything else names the flag and the choices. */
export function oneOf<T extends string>(v: string | undefined, flag: string, choices: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (!choices.includes(v as T)) throw new ConfigError(`${flag} must be ${choices.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** The largest seed: Kiln's generators take 32 bits, and silently folding larger ones would repeat runs. */
export const MAX_SEED = 2 ** 32 - 1;

export function isPreset(arg: string | undefined): boolean {
  return PRESETS[arg ?? 'cae'] !== undefined;
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
