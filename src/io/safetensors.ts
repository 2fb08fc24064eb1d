// safetensors read/write, pure bytes in and out (no fs), so the same code serves the browser demo,
// the Node CLI and the tests. Kiln trains in float32, so only F32 tensors are accepted.
//
// Layout: u64 LE header length N, N bytes of UTF-8 JSON, then the data section. The reader
// applies the checks the Rust `safetensors` crate applies, so a file we accept is one PyTorch's
// tooling would accept too, and a damaged file is refused with a FormatError naming the problem
// instead of producing garbage weights. I64 is read and written for integer counters (batchnorm's
// num_batches_tracked, which PyTorch keeps as int64); their values pass through float32, exact
// below 2^24.
import { FormatError, ShapeError } from '../errors.ts';

export interface Tensor {
  shape: number[];
  data: Float32Array;
  /** Storage type in the file: F32 (the default) or I64 (integer counters). */
  dtype?: 'F32' | 'I64';
}

const WIDTH = { F32: 4, I64: 8 } as const;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The `__metadata__` string map; empty when the file has none. */
  metadata: Record<string, string>;
}

/** Same limit as the Rust crate: headers above 100 MB are refused before decoding. */
export const MAX_HEADER_SIZE = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parse a .safetensors file. `source` (a file name or URL) is put in every error message. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  function fail(problem: string): never {
    throw new FormatError(`${source}: ${problem}`);
  }
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > MAX_HEADER_SIZE) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
  if (8 + headerLen > bytes.byteLength) {
    fail(`header length ${headerLen} runs beyond the end of the ${bytes.byteLength}-byte file`);
  }

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must start with '{' (got ${JSON.stringify(text.slice(0, 8))})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail('header JSON is not an object');
  const entries = header;

  const metadata: Record<string, string> = {};
  const meta = entries['__metadata__'];
  if (meta !== undefined) {
    if (!isObject(meta)) fail('__metadata__ must be an object mapping strings to strings');
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== 'string') fail(`__metadata__ value for "${k}" is not a string`);
      metadata[k] = v;
    }
  }

  interface Info { name: string; shape: number[]; begin: number; end: number; dtype: 'F32' | 'I64' }
  const infos: Info[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (name === '__metadata__') continue;
    if (!isObject(entry)) fail(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (dtype === undefined) fail(`tensor "${name}": missing dtype`);
    if (shape === undefined) fail(`tensor "${name}": missing shape`);
    if (offsets === undefined) fail(`tensor "${name}": missing data_offsets`);
    if (typeof dtype !== 'string') fail(`tensor "${name}": dtype is not a string`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`tensor "${name}": shape must be an array of non-negative integers (got ${JSON.stringify(shape)})`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`tensor "${name}": data_offsets must be [begin, end] non-negative integers (got ${JSON.stringify(offsets)})`);
    }
    if (dtype !== 'F32' && dtype !== 'I64') fail(`tensor "${name}": dtype ${dtype} is not supported (only F32, and I64 for counters)`);
    const width = WIDTH[dtype];
    const begin: number = offsets[0]!;
    const end: number = offsets[1]!;
    if (end < begin) fail(`tensor "${name}": data_offsets end ${end} is before begin ${begin}`);
    const dims: number[] = shape;
    const count = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count * width) || count * width !== end - begin) {
      fail(`tensor "${name}": shape [${dims.join(', ')}] needs ${count * width} bytes of ${dtype} but data_offsets span ${end - begin}`);
    }
    infos.push({ name, shape: [...dims], begin, end, dtype });
  }

  // Like the Rust crate: sorted by offset, tensors must tile the data section exactly.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of infos) {
    if (t.begin !== expected) {
      fail(`tensor "${t.name}": data_offsets begin ${t.begin} should be ${expected} (${t.begin > expected ? 'gap' : 'overlap'} in the data section)`);
    }
    expected = t.end;
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  if (expected !== dataLen) {
    fail(`tensors cover ${expected} bytes but the data section is ${dataLen} bytes (truncated or trailing bytes)`);
  }

  const tensors = new Map<string, Tensor>();
  for (const t of infos) {
    const start = dataStart + t.begin;
    let data: Float32Array;
    if (t.dtype === 'I64') {
      data = new Float32Array((t.end - t.begin) / 8);
      for (let i = 0; i < data.length; i++) data[i] = Number(view.getBigInt64(start + 8 * i, true));
      tensors.set(t.name, { shape: t.shape, data, dtype: 'I64' });
      continue;
    }
    if (LITTLE_ENDIAN) {
      // slice() copies into a fresh, 4-byte-aligned buffer.
      data = new Float32Array(bytes.slice(start, dataStart + t.end).buffer);
    } else {
      data = new Float32Array((t.end - t.begin) / 4);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(start + 4 * i, true);
    }
    tensors.set(t.name, { shape: t.shape, data });
  }
  return { tensors, metadata };
}

const encoder = new TextEncoder();

/** UTF-8 byte order, as Rust sorts `String`s (JS `<` compares UTF-16 units, which differs). */
function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * Write tensors as a .safetensors file. Tensors are laid out sorted by name (as the Python
 * library does); the JSON header is padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  list.sort(([a], [b]) => compareUtf8(a, b));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new FormatError(`safetensors metadata "${k}" is not a string`);
    }
    header['__metadata__'] = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new FormatError('safetensors: "__metadata__" is reserved, not a tensor name');
    if (t.shape.some((d) => !isCount(d))) throw new ShapeError(`tensor "${name}": bad shape [${t.shape.join(', ')}]`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new ShapeError(`tensor "${name}": shape [${t.shape.join(', ')}] holds ${count} values but data has ${t.data.length}`);
    }
    const dtype = t.dtype ?? 'F32';
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + count * WIDTH[dtype]] };
    offset += count * WIDTH[dtype];
  }

  const json = encoder.encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded % 2 ** 32, true);
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);

  let pos = 8 + padded;
  for (const [, t] of list) {
    if (t.dtype === 'I64') {
      for (let i = 0; i < t.data.length; i++) view.setBigInt64(pos + 8 * i, BigInt(Math.round(t.data[i]!)), true);
      pos += 8 * t.data.length;
      continue;
    }
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i]!, true);
    }
    pos += t.data.byteLength;
  }
  return out;
}
