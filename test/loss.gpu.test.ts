// The fused loss family on the GPU against the float64 reference (test/reference/losses.ts): every
// loss × float/label target × sizes (odd ones, partial rows, a CIFAR-sized reconstruction), the
// per-step prepare (valid rows, loss and count slots), the accuracy count, and the edges: BCE at
// y = 0 and 1 exactly, cross-entropy at logits ±100, NaN propagation, out-of-range labels, ties.
import { describe, expect, it } from 'vitest';
import { correctCount, lossGrad, lossValue, type Target } from './reference/losses.ts';
import { mulberry32, rand, tensor, type Tensor } from './reference/tensor.ts';
import { checkLabels, lossDispatches, lossParts, lossPrepare, type LossArgs, type LossKind, type LossStep } from '../src/ops/loss.ts';
import { FormatError, ShapeError } from '../src/errors.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { expectClose, gpu, readback, run, scoped, upload } from './gpu.ts';

const f32 = (t: Tensor): Tensor => tensor(t.shape, Float32Array.from(t.data)); // what the GPU sees

interface Result { loss: Float32Array; dy: Float32Array; correct: Float32Array }

/**
 * Builds the dispatches once (every row valid, slot 0), then for each step: refill the 4-slot loss
 * and count buffers with -1 and dy with 7, prepare, run, read them back.
 */
async function runSteps(g: Gpu, a: LossArgs, y: Tensor, target: Target, steps: LossStep[]): Promise<Result[]> {
  return scoped(g, async () => {
    const by = upload(g, y.data, 'y');
    const bt = target.kind === 'input' ? upload(g, target.t.data, 'target') : upload(g, target.labels, 'labels', true);
    const dy = upload(g, new Float32Array(y.data.length).fill(7), 'dy');
    const partials = upload(g, new Float32Array(lossParts(a)), 'partials');
    const loss = upload(g, [-1, -1, -1, -1], 'loss'), correct = upload(g, [-1, -1, -1, -1], 'correct');
    const ds = lossDispatches(g.device, a, { y: by, target: bt, dy: a.grad === false ? undefined : dy, partials, loss, correct: a.accuracy ? correct : undefined });
    const out: Result[] = [];
    for (const s of steps) {
      for (const b of [loss, correct]) g.device.queue.writeBuffer(b, 0, Float32Array.of(-1, -1, -1, -1));
      g.device.queue.writeBuffer(dy, 0, new Float32Array(y.data.length).fill(7));
      lossPrepare(g.device, ds, a, s);
      await run(g, ds);
      out.push({ loss: await readback(g, loss, 4), dy: await readback(g, dy, y.data.length), correct: await readback(g, correct, 4) });
    }
    for (const b of [by, bt, dy, partials, loss, correct]) b.destroy();
    return out;
  });
}

function expectStep(r: Result, a: LossArgs, y: Tensor, target: Target, s: LossStep, what: string): void {
  const ci = s.correctIndex ?? s.lossIndex;
  expect(Array.from(r.loss).filter((_, i) => i !== s.lossIndex), `${what}: other loss slots`).toEqual([-1, -1, -1]);
  expectClose([r.loss[s.lossIndex]!], [lossValue(a.kind, y, target, s.rows)], `${what}: loss`);
  if (a.grad !== false) expectClose(r.dy, lossGrad(a.kind, y, target, s.rows).data, `${what}: dy`);
  if (a.accuracy && target.kind === 'label') {
    const want = correctCount(y, target.labels, s.rows, a.accuracy === 'probabilities' ? 0.5 : 0);
    expect(r.correct[ci], `${what}: correct`).toBe(want);
    expect(Array.from(r.correct).filter((_, i) => i !== ci), `${what}: other count slots`).toEqual([-1, -1, -1]);
  }
}

/** Inputs in the loss's domain: probabilities inside (0, 1) for BCE, logits up to ±4 for cross-entropy. */
function data(kind: LossKind, targetKind: 'input' | 'label', batch: number, C: number, seed: number): { y: Tensor; target: Target } {
  const rng = mulberry32(seed);
  const y = rand([batch, C], rng);
  if (kind === 'bce') y.data.forEach((v, i) => (y.data[i] = 0.5 + 0.49 * v));
  if (kind === 'cross_entropy') y.data.forEach((v, i) => (y.data[i] = 4 * v));
  if (targetKind === 'label') {
    const limit = kind === 'cross_entropy' ? C : Math.max(C, 2);
    return { y: f32(y), target: { kind: 'label', labels: Array.from({ length: batch }, () => Math.floor(rng() * limit)) } };
  }
  const t = rand([batch, C], rng);
  if (kind === 'bce' || kind === 'cross_entropy') t.data.forEach((v, i) => (t.data[i] = 0.5 + 0.5 * v));
  return { y: f32(y), target: { kind: 'input', t: f32(t) } };
}

const KINDS: LossKind[] = ['mse', 'l1', 'bce', 'cross_entropy'];
const SHAPES: [number, number, number][] = [[1, 1, 1], [5, 1, 3], [7, 3, 5], [13, 37, 11], [32, 10, 32]]; // [batch, C, rows]

describe('loss family on the GPU matches the float64 reference', () => {
  for (const kind of KINDS) {
    for (const targetKind of ['input', 'label'] as const) {
      for (const [batch, C, rows] of SHAPES) {
        it(`${kind}, ${targetKind} target, [${batch}, ${C}]: all rows in slot 0, then ${rows} rows in slot 3`, async () => {
          const g = await gpu();
          const { y, target } = data(kind, targetKind, batch, C, batch * 1000 + C + kind.length);
          const a: LossArgs = { kind, batch, values: C, target: targetKind };
          if (targetKind === 'label') a.accuracy = kind === 'bce' ? 'probabilities' : 'logits';
          const steps: LossStep[] = [{ lossIndex: 0, rows: batch }, { lossIndex: 3, rows, correctIndex: 1 }];
          const r = await runSteps(g, a, y, target, steps);
          steps.forEach((s, i) => expectStep(r[i]!, a, y, target, s, `step ${i}`));
        });
      }
    }
  }

  // A CIFAR-sized reconstruction (32×3×32×32) for the element-wise losses, many classes for cross-entropy.
  for (const [kind, batch, C, rows] of [['mse', 32, 3072, 29], ['l1', 32, 3072, 32], ['bce', 32, 3072, 31], ['cross_entropy', 6, 1000, 5]] as const) {
    it(`${kind}, [${batch}, ${C}], ${rows} valid rows; bit-identical when run again`, async () => {
      const g = await gpu();
      const { y, target } = data(kind, 'input', batch, C, C + batch);
      const a: LossArgs = { kind, batch, values: C, target: 'input' };
      const s: LossStep = { lossIndex: 1, rows };
      const [r1, r2] = await runSteps(g, a, y, target, [s, s]);
      expectStep(r1!, a, y, target, s, kind);
      expect(Array.from(r2!.loss)).toEqual(Array.from(r1!.loss));
      expect(r2!.dy).toEqual(r1!.dy);
    });
  }
});

describe('loss edges', () => {
  it('element-wise losses on rows of whole vec4s against a float target take the vec4 pass', async () => {
    const g = await gpu();
    const buf = (n: number) => g.device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
    const b = { y: buf(64), target: buf(64), dy: buf(64), partials: buf(64), loss: buf(4), correct: buf(4) };
    const entry = (a: LossArgs) => {
      const ds = lossDispatches(g.device, a, b);
      for (const d of ds) d.uniform?.destroy();
      return ds[0]!.kernel.label;
    };
    for (const kind of ['mse', 'l1', 'bce'] as const) {
      expect(entry({ kind, batch: 2, values: 8, target: 'input' })).toBe('loss.pointwise4');
      expect(entry({ kind, batch: 2, values: 6, target: 'input' })).toBe('loss.pointwise');
      expect(entry({ kind, batch: 2, values: 8, target: 'label' })).toBe('loss.pointwise');
    }
    expect(entry({ kind: 'cross_entropy', batch: 2, values: 8, target: 'label' })).toBe('loss.softmax_rows');
    for (const x of Object.values(b)) x.destroy();
  });

  it('BCE at y = 0 and 1 exactly: each log clamped at -100, aten\'s gradient (±1e12/n)', async () => {
    const g = await gpu();
    const y = tensor([7, 1], [0, 1, 0, 1, 0.5, 1e-30, 1 - 2 ** -24]);
    const target: Target = { kind: 'input', t: f32(tensor([7, 1], [0, 0, 1, 1, 0.25, 1, 0])) };
    const a: LossArgs = { kind: 'bce', batch: 7, values: 1, target: 'input' };
    const s = { lossIndex: 0, rows: 7 };
    const [r] = await runSteps(g, a, f32(y), target, [s]);
    expectStep(r!, a, f32(y), target, s, 'bce edges');
    expect(lossValue('bce', f32(y), target)).toBeGreaterThan(200 / 7); // the clamps are in play
  });

  it('cross-entropy at logits ±100 (and ±1e4) is finite and right', async () => {
    const g = await gpu();
    const y = tensor([4, 3], [100, -100, 0, -100, 100, 50, 1e4, -1e4, 0, -100, -100, -100]);
    const target: Target = { kind: 'label', labels: [1, 2, 0, 2] };
    const a: LossArgs = { kind: 'cross_entropy', batch: 4, values: 3, target: 'label', accuracy: 'logits' };
    const s = { lossIndex: 2, rows: 4 };
    const [r] = await runSteps(g, a, y, target, [s]);
    expectStep(r!, a, y, target, s, 'ce ±100');
    expect(Number.isFinite(r!.loss[2])).toBe(true);
  });

  it('accuracy: first maximum wins on ties; thresholds 0.5 (probabilities) and 0 (logits); only valid rows', async () => {
    const g = await gpu();
    const z = tensor([5, 4], [1, 3, 3, 2, /**/ 1, 3, 3, 2, /**/ 5, 5, 5, 5, /**/ 0, 0, 0, 9, /**/ 9, 0, 0, 0]);
    const zt: Target = { kind: 'label', labels: [1, 2, 0, 3, 0] };
    const za: LossArgs = { kind: 'cross_entropy', batch: 5, values: 4, target: 'label', accuracy: 'logits' };
    const [zr] = await runSteps(g, za, z, zt, [{ lossIndex: 0, rows: 4 }]);
    expect(zr!.correct[0]).toBe(3);
    const p = tensor([4, 1], [0.5, 0.51, 0, 0.25]);
    const pt: Target = { kind: 'label', labels: [0, 1, 0, 0] }; // 0.5 is not > 0.5, 0 is not > 0
    for (const [accuracy, want] of [['probabilities', 4], ['logits', 2]] as const) {
      const pa: LossArgs = { kind: 'mse', batch: 4, values: 1, target: 'label', accuracy };
      const [pr] = await runSteps(g, pa, p, pt, [{ lossIndex: 0, rows: 4 }]);
      expect(pr!.correct[0], accuracy).toBe(want);
      expect(pr!.correct[0]).toBe(correctCount(p, pt.labels, 4, accuracy === 'probabilities' ? 0.5 : 0));
    }
  });

  it('a NaN in y or in the target gives a NaN loss (and NaN gradients where it sits)', async () => {
    const g = await gpu();
    // 3 values a row: the scalar pass; 4: the vec4 pass (element-wise losses).
    for (const C of [3, 4]) {
      for (const kind of KINDS) {
        for (const where of ['y', 'target'] as const) {
          const { y, target } = data(kind, 'input', 4, C, 9);
          if (target.kind !== 'input') throw new Error('unreachable');
          (where === 'y' ? y : target.t).data[4] = NaN;
          const a: LossArgs = { kind, batch: 4, values: C, target: 'input' };
          const [r] = await runSteps(g, a, y, target, [{ lossIndex: 0, rows: 4 }]);
          const what = `${kind}, ${C} values, NaN in ${where}`;
          expect(Number.isNaN(r!.loss[0]), `${what}: loss ${r!.loss[0]}`).toBe(true);
          expect(Number.isNaN(r!.dy[4]), `${what}: dy[4] ${r!.dy[4]}`).toBe(true);
          // Rows without a NaN keep finite gradients (cross-entropy: the whole NaN row is NaN).
          expect(Array.from(r!.dy.slice(2 * C)).every(Number.isFinite), `${what}: later rows`).toBe(true);
        }
      }
    }
    // A NaN logit with label targets, and a NaN in a row past the valid ones (which must not count).
    const y = tensor([3, 2], [0.5, NaN, 1, 2, NaN, 0]);
    const a: LossArgs = { kind: 'cross_entropy', batch: 3, values: 2, target: 'label', accuracy: 'logits' };
    const [r1, r2] = await runSteps(g, a, y, { kind: 'label', labels: [1, 1, 0] }, [{ lossIndex: 0, rows: 3 }, { lossIndex: 1, rows: 2 }]);
    expect(Number.isNaN(r1!.loss[0])).toBe(true);
    expect(r1!.correct[0]).toBe(3); // torch.argmax takes a NaN as the maximum: rows 0 and 2 predict their NaN
    expect(correctCount(y, [1, 1, 0], 3, 0)).toBe(3);
    expect(Number.isNaN(r2!.loss[1])).toBe(true);
    const y2 = tensor([3, 2], [0.5, 0, 1, 2, NaN, 0]);
    const [r3] = await runSteps(g, a, y2, { kind: 'label', labels: [1, 1, 0] }, [{ lossIndex: 0, rows: 2 }]);
    expectClose([r3!.loss[0]!], [lossValue('cross_entropy', y2, { kind: 'label', labels: [1, 1, 0] }, 2)], 'NaN row not valid');
  });

  it('BCE outside [0, 1] (PyTorch refuses it) gives NaN, not a finite loss', async () => {
    const g = await gpu();
    for (const v of [-0.25, 1.5]) {
      const a: LossArgs = { kind: 'bce', batch: 2, values: 1, target: 'input' };
      const [r] = await runSteps(g, a, tensor([2, 1], [0.5, v]), { kind: 'input', t: tensor([2, 1], [1, 0]) }, [{ lossIndex: 0, rows: 2 }]);
      expect(Number.isNaN(r!.loss[0]), `y = ${v}`).toBe(true);
    }
  });

  it('an out-of-range label is never an index: its row is NaN; the host refuses such labels first', async () => {
    const g = await gpu();
    for (const kind of KINDS) {
      for (const bad of [3, 0xffffffff]) {
        const a: LossArgs = { kind, batch: 2, values: 3, target: 'label', accuracy: 'logits' };
        const y = tensor([2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        const [r] = await runSteps(g, a, y, { kind: 'label', labels: [0, bad] }, [{ lossIndex: 0, rows: 2 }]);
        expect(Number.isNaN(r!.loss[0]), `${kind}, label ${bad}`).toBe(true);
        expect(Array.from(r!.dy.slice(3)).every(Number.isNaN), `${kind}, label ${bad}: dy of its row`).toBe(true);
        expect(Array.from(r!.dy.slice(0, 3)).every(Number.isFinite), `${kind}, label ${bad}: dy of row 0`).toBe(true);
        expect(r!.correct[0]).toBe(0);
        expect(() => checkLabels(a, [0, bad])).toThrow(FormatError);
      }
    }
    expect(() => checkLabels({ kind: 'bce', values: 1 }, [0, 1, 2])).toThrow(/label 2 at row 2/);
    expect(() => checkLabels({ kind: 'cross_entropy', values: 1 }, [1])).toThrow(FormatError);
    expect(() => checkLabels({ kind: 'bce', values: 1 }, [0, 1])).not.toThrow();
  });

  it('evaluation without a gradient: loss and count only', async () => {
    const g = await gpu();
    const { y, target } = data('cross_entropy', 'label', 9, 10, 5);
    const a: LossArgs = { kind: 'cross_entropy', batch: 9, values: 10, target: 'label', grad: false, accuracy: 'logits' };
    const s = { lossIndex: 1, rows: 7, correctIndex: 2 };
    const [r] = await runSteps(g, a, y, target, [s]);
    expectStep(r!, a, y, target, s, 'eval');
    expect(Array.from(r!.dy).every((v) => v === 7)).toBe(true); // dy untouched
  });

  it('bad configurations are refused before any GPU work', async () => {
    const g = await gpu();
    const b = { y: upload(g, [0], 'y'), target: upload(g, [0], 't'), dy: upload(g, [0], 'dy'), partials: upload(g, [0], 'p'), loss: upload(g, [0], 'l') };
    const ok: LossArgs = { kind: 'mse', batch: 1, values: 1, target: 'input' };
    expect(() => lossDispatches(g.device, { ...ok, values: 0 }, b)).toThrow(ShapeError);
    expect(() => lossDispatches(g.device, { ...ok, kind: 'huber' as LossKind }, b)).toThrow(/unknown kind/);
    expect(() => lossDispatches(g.device, { ...ok, accuracy: 'logits' }, b)).toThrow(/accuracy needs label targets/);
    expect(() => lossDispatches(g.device, ok, { ...b, dy: undefined })).toThrow(/dy must be bound/);
    const ds = lossDispatches(g.device, ok, b);
    expect(() => lossPrepare(g.device, ds, ok, { lossIndex: 0, rows: 0 })).toThrow(/valid rows/);
    expect(() => lossPrepare(g.device, ds, ok, { lossIndex: 0, rows: 2 })).toThrow(/valid rows/);
  });
});
