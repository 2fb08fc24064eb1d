// Engine pieces that need no GPU: model specs and their errors, PyTorch-style init, the step plan's
// buffer reuse (checked against liveness computed here independently), weights and checkpoints, the tuner's close-call
// rule and timestamp placement.
import { describe, expect, it } from 'vitest';
import { ConfigError, FormatError } from '../src/errors.ts';
import { buildModel, CAE_SPEC } from '../src/nn/spec.ts';
import { epochOrder, initParams } from '../src/nn/init.ts';
import { buildTrainingGraph } from '../src/graph/autograd.ts';
import { planStep, describePlan } from '../src/plan/plan.ts';
import { readIds, writeIds } from '../src/graph/graph.ts';
import { parseCheckpoint, parseWeights, serializeCheckpoint, serializeWeights } from '../src/io/weights.ts';
import { rangeWarning } from '../src/train/trainer.ts';
import { closePair, stampsOf } from '../src/tune/tuner.ts';

const cae = buildModel(CAE_SPEC, 'cae');

describe('model specs', () => {
  it('the cae preset is the seed model: 7,347 parameters with PyTorch names and layouts', () => {
    expect(cae.paramCount).toBe(7347);
    expect(cae.params.map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual([
      'conv1.0.weight:16x3x3x3', 'conv1.0.bias:16', 'conv2.0.weight:32x16x3x3', 'conv2.0.bias:32',
      'transconv1.0.weight:32x16x2x2', 'transconv1.0.bias:16', 'transconv2.0.weight:16x3x2x2', 'transconv2.0.bias:3']);
    expect(cae.layers.map((l) => l.outShape.join('x'))).toEqual(
      ['16x32x32', '16x32x32', '16x16x16', '32x16x16', '32x16x16', '32x8x8', '16x16x16', '16x16x16', '3x32x32', '3x32x32']);
  });

  it('names default to the layer index, as in nn.Sequential; [h, w] pairs and defaults work', () => {
    const m = buildModel({ input: [1, 8, 6], layers: [
      { type: 'conv2d', out: 4, kernel: [3, 1], padding: [1, 0] }, { type: 'tanh' },
      { type: 'maxpool2d', kernel: 2 }, { type: 'convtranspose2d', out: 1, kernel: 2, stride: 2 }] }, 'small.json');
    expect(m.params.map((p) => p.name)).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
    expect(m.outputActivation).toBe(undefined);
    expect(m.layers[2]!.outShape).toEqual([4, 4, 3]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', [1], /must be a JSON object/],
    ['bad input', { input: [3, 32], layers: [] }, /"input" must be \[channels, height, width\]/],
    ['unknown type', { input: [3, 8, 8], layers: [{ type: 'conv3d' }] }, /layer 0: unknown type "conv3d"/],
    ['unknown field', { input: [3, 8, 8], layers: [{ type: 'relu', out: 3 }] }, /layer 0 \(0, relu\): unknown field "out"/],
    ['missing kernel', { input: [3, 8, 8], layers: [{ name: 'enc', type: 'conv2d', out: 3 }] }, /layer 0 \(enc, conv2d\): "kernel" is required/],
    ['empty output', { input: [3, 4, 4], layers: [{ name: 'c', type: 'conv2d', out: 3, kernel: 5 }] }, /layer 0 \(c, conv2d\): .*empty/],
    ['output ≠ input', { input: [3, 8, 8], layers: [{ type: 'conv2d', out: 4, kernel: 1 }] }, /output shape \[4, 8, 8\] \(after layer 0, 0\) must equal the input shape \[3, 8, 8\]/],
    ['duplicate name', { input: [3, 8, 8], layers: [{ name: 'a', type: 'relu' }, { name: 'a', type: 'relu' }] }, /layer 1: name "a" is empty or repeated/],
    ['no parameters', { input: [3, 8, 8], layers: [{ type: 'relu' }] }, /no layer has parameters to train/],
    ['bad pair', { input: [3, 8, 8], layers: [{ type: 'maxpool2d', kernel: [2, 2, 2] }] }, /layer 0 \(0, maxpool2d\): "kernel" must be an integer ≥ 1 or \[h, w\] of them/],
  ];
  for (const [what, spec, msg] of bad) {
    it(`refuses a spec with ${what}, naming the layer`, () => {
      expect(() => buildModel(spec, 'spec.json')).toThrow(ConfigError);
      expect(() => buildModel(spec, 'spec.json')).toThrow(msg);
    });
  }

  it('warns about the seed\'s mistake: Sigmoid with [−1, 1] data, and Tanh with [0, 1]', () => {
    expect(rangeWarning(cae, '-1,1')).toMatch(/Sigmoid.*\(0, 1\).*\[−1, 1\]/);
    expect(rangeWarning(cae, '0,1')).toBeUndefined();
    const tanh = buildModel({ ...CAE_SPEC, layers: [...CAE_SPEC.layers.slice(0, -1), { type: 'tanh' }] });
    expect(rangeWarning(tanh, '0,1')).toMatch(/Tanh/);
    expect(rangeWarning(tanh, '-1,1')).toBeUndefined();
  });
});

describe('initialisation and data order', () => {
  it('is PyTorch\'s uniform(±1/√fan_in), with ConvTranspose2d\'s fan_in from weight.size(1) = out', () => {
    const p = initParams(cae, 0);
    const bound = (name: string) => Math.max(...Array.from(p.get(name)!, Math.abs));
    expect(bound('conv1.0.weight')).toBeLessThanOrEqual(1 / Math.sqrt(27));
    expect(bound('conv1.0.weight')).toBeGreaterThan(0.9 / Math.sqrt(27));
    expect(bound('transconv1.0.weight')).toBeLessThanOrEqual(1 / Math.sqrt(16 * 4));
    expect(bound('transconv1.0.weight')).toBeGreaterThan(0.9 / Math.sqrt(64));
    expect(bound('transconv2.0.bias')).toBeLessThanOrEqual(1 / Math.sqrt(12));
    expect(initParams(cae, 0).get('conv2.0.weight')).toEqual(p.get('conv2.0.weight'));
    expect(initParams(cae, 1).get('conv2.0.weight')).not.toEqual(p.get('conv2.0.weight'));
  });

  it('shuffles each epoch differently, deterministically, as a permutation', () => {
    const a = epochOrder(100, 0, 0), b = epochOrder(100, 0, 1);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(a).not.toEqual(b);
    expect(epochOrder(100, 0, 1)).toEqual(b);
  });
});

describe('the step plan', () => {
  const tg = buildTrainingGraph(cae, { batch: 32, records: 64, range: '0,1', optimizer: { kind: 'adam', options: { lr: 1e-3 } }, lossRing: 64 });
  const plan = planStep(tg.graph);

  it('reuses memory: fewer transient bytes than one buffer per tensor, and reports the peak', () => {
    // (Fused passes leave fewer tensors to share slots: 24 % saved at batch 32 with the pools fused.)
    expect(plan.transientBytes).toBeLessThan(0.8 * plan.naiveTransientBytes);
    expect(plan.peakBytes).toBe(plan.transientBytes + plan.persistentBytes);
    expect(describePlan(plan)).toMatch(/peak: \d+\.\d\d MiB/);
  });

  it('never gives two tensors with overlapping lifetimes the same slot', () => {
    const { nodes, tensors } = tg.graph;
    const span = new Map<number, [number, number]>();
    nodes.forEach((n, k) => [...readIds(n), ...writeIds(n)].forEach((t) => {
      const s = span.get(t);
      span.set(t, s ? [s[0], k] : [k, k]);
    }));
    const transient = tensors.filter((t) => t.residence === 'transient');
    for (const a of transient) for (const b of transient) {
      if (a.id >= b.id || plan.slotOf[a.id] !== plan.slotOf[b.id]) continue;
      const [a0, a1] = span.get(a.id)!, [b0, b1] = span.get(b.id)!;
      expect(a1 < b0 || b1 < a0, `${a.name} [${a0},${a1}] and ${b.name} [${b0},${b1}] share slot ${plan.slotOf[a.id]}`).toBe(true);
    }
    for (const t of transient) expect(plan.slots[plan.slotOf[t.id]!]!.bytes).toBeGreaterThanOrEqual(t.bytes);
  });

  it('runs the whole step: gather, forward, loss, backward, one optimizer dispatch', () => {
    const phases = tg.graph.nodes.map((n) => n.phase).filter((p) => p !== 'guard');
    expect(phases[0]).toBe('data');
    expect(phases.at(-1)).toBe('optimizer');
    // The guard opens the step (status slot, snapshots) and closes it (checks, restore, halt).
    expect(tg.graph.nodes[0]!.pass).toBe('guard.save');
    expect(tg.graph.nodes[0]!.args).toMatchObject({ opens: true });
    expect(tg.graph.nodes.at(-1)!.pass).toBe('guard.restore');
    expect(tg.graph.nodes.at(-1)!.args).toMatchObject({ settles: true });
    expect(tg.graph.nodes.filter((n) => (n.args as { opens?: boolean }).opens || (n.args as { settles?: boolean }).settles)).toHaveLength(2);
    expect(phases.filter((p) => p === 'optimizer')).toHaveLength(1);
    // conv1.0 needs no input gradient: nothing before it has parameters.
    expect(tg.graph.nodes.map((n) => n.label)).not.toContain('conv1.0/backward/dx');
    // conv2.0's input gradient goes on through conv1's pool and SELU backward as it is stored.
    expect(tg.graph.nodes.map((n) => n.label)).toContain('conv2.0/backward/dx+maxpool+selu');
    expect(tg.graph.nodes.filter((n) => n.layer === 'conv1.2')).toEqual([]);
    expect(tg.graph.nodes.map((n) => n.label)).toContain('conv1.0/backward/params');
    // conv → SELU → max-pool: SELU's forward and the pool's are fused into the conv (the
    // full-resolution activation is no tensor at all), their backward passes into the input
    // gradient of the layer after the pool (transconv1.0's here, conv2.0's above).
    expect(tg.graph.nodes.map((n) => n.label)).toContain('transconv1.0/backward/dx+maxpool+selu');
    expect(tg.graph.nodes.filter((n) => n.layer === 'conv2.2' || n.layer === 'conv2.1')).toEqual([]);
    expect(tg.graph.nodes.map((n) => n.label)).toContain('conv1.0/forward+selu+maxpool');
    expect(tg.graph.nodes.filter((n) => n.layer === 'conv1.1')).toEqual([]);
    expect(tg.graph.nodes.filter((n) => n.layer === 'conv1.2' && n.phase === 'forward')).toEqual([]);
    expect(tg.graph.tensors.filter((t) => t.name.startsWith('conv1.0/') || t.name.startsWith('conv1.1/')).map((t) => t.shape))
      .toEqual([[32, 16, 16, 16], [32, 16, 16, 16]]); // the pooled output and its argmax
    // The output Sigmoid's backward is fused into the loss's gradient.
    expect(tg.graph.nodes.map((n) => n.label)).toContain('loss+sigmoid');
    expect(tg.graph.nodes.filter((n) => n.layer === 'transconv2.1')).toEqual([]);
  });
});

describe('weights and checkpoints', () => {
  const params = initParams(cae, 3);
  it('weights round-trip with PyTorch names; wrong names or shapes are refused, listing each', () => {
    const back = parseWeights(cae, serializeWeights(cae, params), 'w.safetensors');
    expect(back.get('conv2.0.weight')).toEqual(params.get('conv2.0.weight'));
    const other = buildModel({ input: [3, 32, 32], layers: [{ name: 'conv1.0', type: 'conv2d', out: 3, kernel: 3, padding: 1 }] });
    const wrong = serializeWeights(other, initParams(other, 0));
    expect(() => parseWeights(cae, wrong, 'other.safetensors')).toThrow(
      /other.safetensors: weights do not match the model: conv1.0.weight has shape \[3, 3, 3, 3\], the model needs \[16, 3, 3, 3\]; .*missing conv2.0.weight/);
  });

  it('checkpoints round-trip; a weights file is not a checkpoint', () => {
    const c = { params, state: new Map([['adam/m', new Float32Array(8)]]), step: 7, epoch: 1, seed: 2, optimizer: '{"kind":"adam"}',
      shuffle: true, batch: 4, dataSource: 'x.bin', dataCount: 20, dataHash: 'ab12', order: Uint32Array.from([3, 1, 2, 0]) };
    const back = parseCheckpoint(cae, serializeCheckpoint(cae, c), 'c.ckpt');
    expect({ ...back, params: undefined, state: undefined }).toEqual({ ...c, params: undefined, state: undefined });
    expect(back.state.get('adam/m')).toEqual(new Float32Array(8));
    expect(() => parseCheckpoint(cae, serializeWeights(cae, params), 'w.safetensors')).toThrow(FormatError);
  });
});

describe('gradient sums split over the batch', () => {
  it('split when there are few outputs (so the GPU has threads to run), and not at batch 1', async () => {
    const { conv2dGeometry, gradSplit, convGradScratch } = await import('../src/ops/conv2d.ts');
    const g32 = conv2dGeometry([32, 3, 32, 32], [16, 3, 3, 3], { padding: 1 });
    expect(gradSplit(g32, 36)).toEqual({ chunks: 32, chunkImages: 1 });
    expect(convGradScratch(g32)).toEqual({ weight: 32 * 432, bias: 32 * 16 });
    const g1 = conv2dGeometry([1, 3, 32, 32], [16, 3, 3, 3], { padding: 1 });
    expect(convGradScratch(g1)).toEqual({ weight: 0, bias: 0 });
    expect(gradSplit(conv2dGeometry([7, 16, 8, 8], [32, 16, 3, 3]), 288)).toEqual({ chunks: 7, chunkImages: 1 });
  });
});

describe('the tuner', () => {
  it('times two candidates again when the slower is within 15 % of the faster, untimed entries aside', () => {
    expect(closePair({ a: 10, b: 11.4, c: 30 })).toEqual(['a', 'b']);
    expect(closePair({ c: 30, b: 11.6, a: 10 })).toBeUndefined();
    expect(closePair({ direct: 'unsupported: no subgroups', x: 5, y: 5.5 })).toEqual(['x', 'y']);
    expect(closePair({ x: 5, y: 'not timed: tuning budget spent' })).toBeUndefined();
  });

  it('stamps the beginning of the first timed run and the end of the last, both for a single run', () => {
    expect(stampsOf(0, 1)).toEqual({ beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 });
    expect(stampsOf(0, 3)).toEqual({ beginningOfPassWriteIndex: 0 });
    expect(stampsOf(1, 3)).toBeUndefined();
    expect(stampsOf(2, 3)).toEqual({ endOfPassWriteIndex: 1 });
  });
});
