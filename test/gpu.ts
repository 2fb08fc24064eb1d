// Test harness for GPU kernels: one Dawn device per test file, every submission inside validation,
// out-of-memory and internal error scopes, and an `uncapturederror` listener — any GPU error fails
// the test. There is no skip path: no adapter means the suite fails.
import { afterAll, expect } from 'vitest';
import { openNodeDevice } from '../src/gpu/node.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { record, type Dispatch } from '../src/ops/dispatch.ts';

let opened: Promise<Gpu> | undefined;
const uncaptured: string[] = [];

export function gpu(): Promise<Gpu> {
  opened ??= openNodeDevice({ label: 'kiln-test' }).then((g) => {
    g.device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
    console.log(`adapter: ${g.adapterName}`);
    return g;
  });
  return opened;
}

afterAll(async () => {
  if (opened) (await opened).close();
  expect(uncaptured, 'uncaptured GPU errors').toEqual([]);
});

const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/** Runs `fn` inside error scopes and waits for the queue; any GPU error is thrown with its message. */
export async function scoped<T>(g: Gpu, fn: () => T | Promise<T>): Promise<T> {
  for (const f of SCOPES) g.device.pushErrorScope(f);
  let result: T | undefined, thrown: unknown, failed = false;
  try {
    result = await fn();
  } catch (e) {
    thrown = e;
    failed = true;
  }
  // The scopes are popped whatever happened; a GPU error is the real cause, so it wins.
  const errors = [];
  for (let i = SCOPES.length - 1; i >= 0; i--) errors.push(await g.wait(g.device.popErrorScope()));
  const msgs = errors.filter((e) => e !== null).map((e) => e!.message);
  if (msgs.length > 0) throw new Error(`GPU error: ${msgs.join(' | ')}`);
  if (failed) throw thrown;
  return result as T;
}

export function upload(g: Gpu, data: ArrayLike<number> | Int32Array, label: string, int = false): GPUBuffer {
  const arr = int ? Int32Array.from(data as ArrayLike<number>) : Float32Array.from(data as ArrayLike<number>);
  const buf = g.device.createBuffer({
    label, size: Math.max(16, arr.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  g.device.queue.writeBuffer(buf, 0, arr);
  return buf;
}

export function empty(g: Gpu, count: number, label: string): GPUBuffer {
  return upload(g, new Float32Array(count), label);
}

/** Records the dispatches in one pass, submits, and waits. */
export async function run(g: Gpu, dispatches: Dispatch[]): Promise<void> {
  const enc = g.device.createCommandEncoder({ label: 'test' });
  const pass = enc.beginComputePass({ label: 'test' });
  for (const d of dispatches) record(pass, d);
  pass.end();
  g.device.queue.submit([enc.finish()]);
  await g.wait(g.device.queue.onSubmittedWorkDone());
}

export async function readback(g: Gpu, buf: GPUBuffer, count: number): Promise<Float32Array> {
  const staging = g.device.createBuffer({ label: 'test.readback', size: count * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = g.device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, staging, 0, count * 4);
  g.device.queue.submit([enc.finish()]);
  await g.wait(staging.mapAsync(GPUMapMode.READ));
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

export async function readbackInt(g: Gpu, buf: GPUBuffer, count: number): Promise<Int32Array> {
  return new Int32Array((await readback(g, buf, count)).buffer);
}

/**
 * GPU result vs float64 reference within atol + rtol·|ref| (1e-4 each by default). Prints the first
 * mismatches and where they are, so a failing sweep case is diagnosable from the log alone.
 */
export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, what: string, atol = 1e-4, rtol = 1e-4): void {
  expect(got.length, `${what}: length`).toBe(ref.length);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const d = Math.abs(got[i]! - r);
    const tol = atol + rtol * Math.abs(r);
    if (!(d <= tol) && !(Number.isNaN(r) && Number.isNaN(got[i]!))) {
      if (bad.length < 5) bad.push(`[${i}] got ${got[i]} want ${r}`);
      worst = Math.max(worst, d / tol);
    }
  }
  expect(bad, `${what}: ${bad.length ? `worst ${worst.toFixed(1)}× tolerance` : ''}`).toEqual([]);
}
