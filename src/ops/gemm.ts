// C[M, N] = A[M, K] · B[K, N] (row-major f32) as a pass with kernel variants (see gemm.wgsl): a
// workgroup-tiled family for real GPUs and a register-tiled subgroup family for adapters where
// loads cost more than arithmetic (SwiftShader). `measureGemm` times them for benchmarks.
import type { Binding } from '../gpu/kernel.ts';
import { WORKGROUP_SIZE } from '../gpu/kernel.ts';
import type { Waiter } from '../gpu/device.ts';
import { makeDispatch, record, shader, type Dispatch, type Shader } from './dispatch.ts';
import { capsOf, type Pass, type Variant } from './variant.ts';
import gemmWgsl from '../../shaders/gemm.wgsl?raw';

export interface GemmArgs { m: number; n: number; k: number }

// The subgroup kernels sit after a marker line: a module with `enable subgroups;` cannot be created
// on a device without the feature, so the tiled kernels are compiled from the part before it.
const MARK = '// ---- subgroup kernels';
const tiledShader = shader('gemm', gemmWgsl.slice(0, gemmWgsl.indexOf(MARK)));
const sgShader: Shader = { name: 'gemm_sg', code: `enable subgroups;\n${shader('gemm_sg', gemmWgsl).code}` };

interface Tile { bm: number; bn: number; bk: number; tt: 4 | 8 }

function tiledVariant(name: string, t: Tile): Variant<GemmArgs> {
  return {
    name,
    build: (d, a, io, label) => {
      const colBlocks = Math.ceil(a.n / t.bn);
      return [makeDispatch(d, tiledShader, 'tiled', label, Math.ceil(a.m / t.bm) * colBlocks * WORKGROUP_SIZE,
        { m: a.m, n: a.n, k: a.k, col_blocks: colBlocks }, { a: io.a!, b: io.b!, c: io.c! },
        { TBM: t.bm, TBN: t.bn, TBK: t.bk, TT: t.tt })];
    },
  };
}

const sg32x8: Variant<GemmArgs> = {
  name: 'sg-32x8',
  unsupported: (caps, a) => (!caps.features.has('subgroups') ? 'no subgroups'
    : a.k % 4 !== 0 || a.n % 4 !== 0 ? `K ${a.k} and N ${a.n} must be multiples of 4 (rows are read as vec4s)` : undefined),
  build: (d, a, io, label) => {
    // Lanes of a workgroup share their 32 rows; no more lanes than N has 8-column blocks (≥ 4: a quad).
    const wgx = Math.min(64, 4 * Math.ceil(Math.ceil(a.n / 8) / 4));
    const colBlocks = Math.ceil(a.n / (8 * wgx));
    return [makeDispatch(d, sgShader, 'sg_32x8', label, Math.ceil(a.m / 32) * colBlocks * WORKGROUP_SIZE,
      { m: a.m, n: a.n, k: a.k, col_blocks: colBlocks }, { a4: io.a!, b4: io.b!, c4: io.c! }, { WGX: wgx })];
  },
};

export const gemmPass: Pass<GemmArgs> = {
  name: 'gemm', inputs: ['a', 'b'], outputs: ['c'],
  key: (a) => `${a.m}x${a.n}x${a.k}`, flops: (a) => 2 * a.m * a.n * a.k,
  variants: [
    tiledVariant('tiled-32x32', { bm: 32, bn: 32, bk: 16, tt: 4 }),
    tiledVariant('tiled-64x64', { bm: 64, bn: 64, bk: 16, tt: 8 }),
    sg32x8,
  ],
};

/** Builds variant `v` of the GEMM on given buffers. */
export function gemm(device: GPUDevice, v: Variant<GemmArgs>, a: GemmArgs, io: { a: Binding; b: Binding; c: Binding }, label = 'gemm'): Dispatch[] {
  return v.build(device, a, io, label);
}

async function timeRuns(device: GPUDevice, wait: Waiter, ds: Dispatch[], runs: number): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const enc = device.createCommandEncoder({ label: 'gemm.timing' });
    const pass = enc.beginComputePass({ label: 'gemm.timing' });
    for (const x of ds) record(pass, x);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await wait(device.queue.onSubmittedWorkDone());
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * The fastest GEMM variant here: every supported variant is ranked on 256³, then the fastest is
 * timed (best of 3 after a warm-up) on 1024³ — or 512³ when one 1024³ run would take over 2 s.
 */
export async function measureGemm(device: GPUDevice, wait: Waiter): Promise<{ gflops: number; variant: string; shape: [number, number, number] }> {
  const caps = capsOf(device);
  const buffers = (s: number) => {
    const make = (label: string, fill: boolean) => {
      const buf = device.createBuffer({ label, size: s * s * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      if (fill) device.queue.writeBuffer(buf, 0, Float32Array.from({ length: s * s }, (_, i) => Math.sin(i * 0.37)));
      return buf;
    };
    return { a: make(`gemm.a${s}`, true), b: make(`gemm.b${s}`, true), c: make(`gemm.c${s}`, false) };
  };
  const run = async (v: Variant<GemmArgs>, s: number, runs: number) => {
    const io = buffers(s);
    const ds = gemm(device, v, { m: s, n: s, k: s }, io, `gemm/${v.name}`);
    await timeRuns(device, wait, ds, 1);
    const ms = runs > 0 ? await timeRuns(device, wait, ds, runs) : 0;
    for (const b of Object.values(io)) b.destroy();
    return ms;
  };
  const ranked: { v: Variant<GemmArgs>; ms: number }[] = [];
  for (const v of gemmPass.variants) {
    if (v.unsupported?.(caps, { m: 256, n: 256, k: 256 })) continue;
    ranked.push({ v, ms: await run(v, 256, 2) });
  }
  ranked.sort((x, y) => x.ms - y.ms);
  const best = ranked[0]!.v;
  // 1024³ is 64× the work of 256³.
  const size = ranked[0]!.ms * 64 > 2000 ? 512 : 1024;
  const ms = await run(best, size, 3);
  return { gflops: (2 * size ** 3) / ms / 1e6, variant: best.name, shape: [size, size, size] };
}
