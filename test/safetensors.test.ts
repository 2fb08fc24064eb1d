// safetensors reader/writer: round trips, every malformed-header case the Rust crate refuses,
// and the PyTorch fixtures (written by scripts/make_fixtures.py) parse and agree with each other.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, ShapeError } from '../src/errors.ts';
import { parseSafetensors, serializeSafetensors, type Tensor } from '../src/io/safetensors.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const readFixture = (name: string) => new Uint8Array(readFileSync(new URL(name, FIXTURES)));

/** Build a file by hand: header (object or raw text), data section length, optional length override. */
function raw(header: unknown, dataBytes: number, headerLen?: number | bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  return out;
}

function refused(bytes: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(bytes, 'bad.safetensors');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(/^bad\.safetensors: /);
  expect((err as Error).message).toMatch(pattern);
}

const f32 = (shape: number[], begin: number) => ({ dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });

describe('serializeSafetensors / parseSafetensors', () => {
  it('round-trips tensors and metadata, sorted by name, header padded to 8', () => {
    const tensors: Record<string, Tensor> = {
      'b.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, Infinity]) },
      a: { shape: [], data: Float32Array.from([42]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
      'é': { shape: [1], data: Float32Array.from([NaN]) },
    };
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    expect(Object.keys(header)).toEqual(['__metadata__', 'a', 'b.weight', 'empty', 'é']);
    expect(header['b.weight'].data_offsets).toEqual([4, 28]);

    const { tensors: back, metadata } = parseSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...back.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.data).toEqual(t.data);
    }
    expect(Object.is(back.get('b.weight')!.data[4], -0)).toBe(true);
  });

  it('accepts a Map, no metadata, and an unaligned input view; output is aligned copies', () => {
    const bytes = serializeSafetensors(new Map([['x', { shape: [3], data: Float32Array.from([1, 2, 3]) }]]));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const { tensors, metadata } = parseSafetensors(shifted.subarray(1));
    expect(metadata).toEqual({});
    const x = tensors.get('x')!;
    expect(x.data.byteOffset % 4).toBe(0);
    expect(Array.from(x.data)).toEqual([1, 2, 3]);
    expect(x.data.buffer).not.toBe(shifted.buffer); // a copy, not a view into the input
  });

  it('refuses to write data that does not match its shape', () => {
    expect(() => serializeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(ShapeError);
    expect(() => serializeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow(FormatError);
  });
});

describe('parseSafetensors refuses malformed files', () => {
  const ok = { w: f32([2], 0) };
  it('file shorter than 8 bytes', () => refused(new Uint8Array(5), /shorter than the 8-byte/));
  it('header length over 100 MB', () => refused(raw(ok, 8, 100_000_001), /exceeds the 100000000-byte limit/));
  it('header length beyond the file', () => refused(raw(ok, 8, 1000), /beyond the end/));
  it('header length near 2^64', () => refused(raw(ok, 8, 2n ** 64n - 1n), /exceeds/));
  it('header not UTF-8', () => {
    const b = raw('{"a":"xx"}', 0);
    b[14] = 0xff;
    refused(b, /not valid UTF-8/);
  });
  it("header not starting with '{'", () => refused(raw(' {}', 0), /must start with '\{'/));
  it('header not JSON', () => refused(raw('{"w":', 0), /not valid JSON/));
  it('entry not an object', () => refused(raw({ w: [1, 2] }, 0), /"w": entry is not an object/));
  it('missing dtype', () => refused(raw({ w: { shape: [2], data_offsets: [0, 8] } }, 8), /"w": missing dtype/));
  it('missing shape', () => refused(raw({ w: { dtype: 'F32', data_offsets: [0, 8] } }, 8), /"w": missing shape/));
  it('missing data_offsets', () => refused(raw({ w: { dtype: 'F32', shape: [2] } }, 8), /"w": missing data_offsets/));
  it('negative or fractional shape', () => {
    refused(raw({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /shape must be an array of non-negative integers/);
    refused(raw({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, 8), /shape must be/);
  });
  it('data_offsets not [begin, end]', () => {
    refused(raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, 8), /data_offsets must be \[begin, end\]/);
    refused(raw({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /end 0 is before begin 8/);
  });
  it('non-F32 dtype, naming tensor and dtype', () => {
    refused(raw({ 'conv.w': { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4), /"conv\.w": dtype F16 is not supported/);
  });
  it('shape/offset size mismatch', () => {
    refused(raw({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 8] } }, 8), /needs 16 bytes of F32 but data_offsets span 8/);
  });
  it('gap between tensors', () => refused(raw({ a: f32([1], 0), b: f32([1], 8) }, 12), /"b": .*begin 8 should be 4 \(gap/));
  it('overlapping tensors', () => refused(raw({ a: f32([2], 0), b: f32([2], 4) }, 12), /"b": .*begin 4 should be 8 \(overlap/));
  it('first tensor not at offset 0', () => refused(raw({ a: f32([1], 4) }, 8), /begin 4 should be 0/));
  it('data section longer than the tensors', () => refused(raw(ok, 12), /cover 8 bytes but the data section is 12/));
  it('data section truncated', () => refused(raw(ok, 4), /cover 8 bytes but the data section is 4/));
  it('__metadata__ not string to string', () => {
    refused(raw({ __metadata__: { epoch: 3 }, ...ok }, 8), /__metadata__ value for "epoch" is not a string/);
    refused(raw({ __metadata__: ['x'], ...ok }, 8), /__metadata__ must be an object/);
  });
});

describe('PyTorch fixtures', () => {
  const fb = parseSafetensors(readFixture('cae_forward_backward.safetensors'), 'cae_forward_backward.safetensors');
  const train = parseSafetensors(readFixture('cae_train.safetensors'), 'cae_train.safetensors');
  const params = ['conv1.0.weight', 'conv1.0.bias', 'conv2.0.weight', 'conv2.0.bias',
    'transconv1.0.weight', 'transconv1.0.bias', 'transconv2.0.weight', 'transconv2.0.bias'];
  const get = (f: typeof fb, k: string) => {
    const t = f.tensors.get(k);
    if (!t) throw new Error(`fixture lacks ${k}`);
    return t;
  };

  it('a file written by Python parses, with the expected keys, shapes and metadata', () => {
    expect(fb.metadata['torch_version']).toMatch(/^\d+\.\d+/);
    expect(get(fb, 'images_u8').shape).toEqual([8, 3, 32, 32]);
    expect(get(fb, 'output').shape).toEqual([8, 3, 32, 32]);
    expect(get(fb, 'init.conv2.0.weight').shape).toEqual([32, 16, 3, 3]);
    expect(get(fb, 'grad.transconv1.0.weight').shape).toEqual([32, 16, 2, 2]);
    expect(get(fb, 'act.conv1.2').shape).toEqual([1, 16, 16, 16]);
    const n = params.reduce((s, p) => s + get(fb, `init.${p}`).data.length, 0);
    expect(n).toBe(7347);
    for (const run of ['sgd', 'sgdm', 'adam']) for (const p of params) expect(train.tensors.has(`${run}.after.${p}`)).toBe(true);
    expect(get(train, 'adam.losses').shape).toEqual([3]);
    const imgs = get(fb, 'images_u8').data;
    expect(imgs.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
  });

  it('re-serializing reproduces the Python writer byte for byte', () => {
    const bytes = readFixture('cae_train.safetensors');
    const again = serializeSafetensors(train.tensors, train.metadata);
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('fixtures agree with each other: loss = MSE(output, x), SGD step = init - lr * grad', () => {
    const out = get(fb, 'output').data;
    const imgs = get(fb, 'images_u8').data;
    let sum = 0;
    for (let i = 0; i < out.length; i++) sum += (out[i]! - imgs[i]! / 255) ** 2;
    expect(sum / out.length).toBeCloseTo(get(fb, 'loss').data[0]!, 6);
    expect(get(train, 'sgd.losses').data[0]).toBe(get(fb, 'loss').data[0]);
    for (const p of params) {
      const [init, grad, after] = [get(fb, `init.${p}`).data, get(fb, `grad.${p}`).data, get(train, `sgd.after.${p}`).data];
      for (let i = 0; i < init.length; i++) expect(Math.abs(after[i]! - (init[i]! - 0.01 * grad[i]!))).toBeLessThan(1e-7);
    }
  });
});
