// Reading a layer's fields from JSON: defaults, types and bounds from its record's field specs,
// every refusal one line naming the layer and the field.
import { ConfigError } from '../errors.ts';
import type { FieldSpec, Fields } from './types.ts';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function check(at: string, name: string, s: FieldSpec, v: unknown): unknown {
  const fail = (what: string): never => { throw new ConfigError(`${at}: "${name}" must be ${what}, got ${JSON.stringify(v)}`); };
  switch (s.kind) {
    case 'int':
      if (!isInt(v) || v < s.min) fail(`an integer ≥ ${s.min}`);
      return v;
    case 'pair':
      if (isInt(v) && v >= s.min) return v;
      if (Array.isArray(v) && v.length === 2 && v.every((x) => isInt(x) && x >= s.min)) return [v[0], v[1]];
      return fail(`an integer ≥ ${s.min} or [h, w] of them`);
    case 'bool':
      if (typeof v !== 'boolean') fail('true or false');
      return v;
    case 'number-or-null':
    case 'number': {
      if (s.kind === 'number-or-null' && v === null) return v;
      const n = s as { min?: number; max?: number; above?: number; below?: number };
      const bounds = [n.min !== undefined && `≥ ${n.min}`, n.above !== undefined && `> ${n.above}`,
        n.max !== undefined && `≤ ${n.max}`, n.below !== undefined && `< ${n.below}`].filter(Boolean).join(' and ');
      const ok = typeof v === 'number' && Number.isFinite(v) && (n.min === undefined || v >= n.min) && (n.max === undefined || v <= n.max)
        && (n.above === undefined || v > n.above) && (n.below === undefined || v < n.below);
      if (!ok) fail(`a number${bounds ? ` ${bounds}` : ''}${s.kind === 'number-or-null' ? ' or null' : ''}`);
      return v;
    }
  }
}

/** The fields of one layer: given values checked, missing ones defaulted, unknown ones refused. */
export function readFields(at: string, fields: Fields, raw: Record<string, unknown>, common: readonly string[]): Record<string, unknown> {
  for (const k of Object.keys(raw)) {
    if (!common.includes(k) && !(k in fields)) {
      const known = Object.keys(fields);
      throw new ConfigError(`${at}: unknown field "${k}"${known.length ? ` (fields: ${known.join(', ')})` : ' (it takes none)'}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(fields)) {
    const v = raw[name];
    if (v === undefined) {
      if (s.optional) continue;
      if (s.default === undefined) throw new ConfigError(`${at}: "${name}" is required (${s.doc})`);
      out[name] = s.default;
    } else out[name] = check(at, name, s, v);
  }
  return out;
}
