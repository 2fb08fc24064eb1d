// Every GEMM variant (src/ops/gemm.ts) against the float64 reference over awkward shapes (1×1×1,
// odd sizes, sizes just past a tile, the seed's convolutions seen as GEMMs), and measureGemm.
// A variant that cannot run a shape says why; those are printed, never dropped.
import { GEMM_SHAPES } from './variant_sweep.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { gemm as gemmRef } from './reference/gemm.ts';
import { mulberry32, rand } from './reference/tensor.ts';
import { gemm, gemmPass, measureGemm } from '../src/ops/gemm.ts';
import { capsOf } from '../src/ops/variant.ts';
import { empty, expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

describe('the float64 reference', () => {
  it('matches a hand-computed product and the sum of outer products', () => {
    expect([...gemmRef([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 2, 2, 3)]).toEqual([58, 64, 139, 154]);
    const r = mulberry32(5), m = 3, n = 4, k = 5;
    const a = rand([m, k], r).data, b = rand([k, n], r).data;
    const outer = new Float64Array(m * n);
    for (let t = 0; t < k; t++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) outer[i * n + j]! += a[i * k + t]! * b[t * n + j]!;
    const c = gemmRef(a, b, m, n, k);
    for (let i = 0; i < c.length; i++) expect(c[i]).toBeCloseTo(outer[i]!, 12);
  });
});

const SHAPES = GEMM_SHAPES; // shared with scripts/device-check.ts

const skipped: string[] = [];
afterAll(() => { if (skipped.length) console.log(`unsupported here:\n  ${skipped.join('\n  ')}`); });

describe('every GEMM variant matches the float64 reference', () => {
  for (const v of gemmPass.variants) {
    it(v.name, async () => {
      const g = await gpu();
      let ran = 0;
      for (const [m, n, k] of SHAPES) {
        const why = v.unsupported?.(capsOf(g.device), { m, n, k });
        if (why) { skipped.push(`${v.name} ${m}×${n}×${k}: ${why}`); continue; }
        const r = mulberry32(m * 7919 + n * 31 + k);
        const a = rand([m, k], r).data, b = rand([k, n], r).data;
        await scoped(g, async () => {
          const c = empty(g, m * n, 'c');
          await run(g, gemm(g.device, v, { m, n, k }, { a: upload(g, a, 'a'), b: upload(g, b, 'b'), c }));
          expectClose(await readback(g, c, m * n), gemmRef(a, b, m, n, k), `${v.name} ${m}×${n}×${k}`);
        });
        ran++;
      }
      console.log(`${v.name}: ${ran} of ${SHAPES.length} shapes`);
      expect(ran).toBeGreaterThan(0);
    });
  }
});

describe('measureGemm', () => {
  it('times the fastest variant on a large square problem', async () => {
    const g = await gpu();
    const r = await measureGemm(g.device, g.wait);
    console.log(`gemm ${r.shape.join('×')} ${r.variant}: ${r.gflops.toFixed(2)} GFLOP/s`);
    expect(gemmPass.variants.map((v) => v.name)).toContain(r.variant);
    expect(r.shape[0]).toBeGreaterThanOrEqual(512);
    expect(r.gflops).toBeGreaterThan(0);
  });
});
