// The convolution passes with every kernel variant the tuner may choose among. Variant 0 of each is
// today's direct register-blocked kernel (conv_direct.ts); the others are exact against the same
// float64 references, and each says why it cannot run a shape or device (`unsupported`).
//   conv.forward      y = act(conv2d(x, w) + bias)             io: x, w, bias?, y (+ scratch)
//                     with args.pool, y = maxpool(act(…)) and argmax                  io: + argmax
//                     with args.unpool (a transposed conv's input gradient), as conv.transposed's
//   conv.transposed   y = act(conv_transpose2d(x, w) + bias)   io: x, w, bias?, y (+ scratch)
//                     with args.unpool, y = (act')·maxpool_backward(conv_transpose2d(x, w))   io: + argmax, py
//   conv.grad_params  dw (and db = Σ dy when args.bias) of conv2d geometry g   io: x, dy, dw, db?, scratch?
//                     with args.xBias, db = Σ x (a transposed conv's bias)            io: + stage?
//   conv.grad_bias    db = Σ dy (a transposed conv's bias)     io: dy, db, scratch?
//                     (the graph sums it in conv.grad_params with args.xBias; its kernels run
//                     after the variants that cannot, see xBiasAfter in conv_splitk.ts)
// A transposed conv's weight gradient is conv.grad_params on swapSides(g) with x and dy exchanged.
import { actGradOverrides, convForwardPass as direct0, convTransposedPass as directT, convGradParamsPass as directP, convGradBiasPass as directB, type ConvArgs } from './conv_direct.ts';
import { convMacs, swapSides } from '../geometry/conv.ts';
import { capsOf, type DeviceCaps, type Pass, type Variant } from './variant.ts';
import {
  actOverrides, igemmLayout, igemmRegister, igemmScratch, igemmTiled, relayoutShader, row3Shader, row3UnpoolUnsupported, row3Unsupported,
  s2Shader, s2UnpoolUnsupported, s2Unsupported, sgShader, sgUnpoolUnsupported, tiledShader, type TileKernel, type TiledConfig,
} from './conv_igemm.ts';
import { isK2, maxpool2dBackward, maxpool2dBackwardAct, maxpool2dForward, maxpool2dK2Shader, maxpool2dShader, type PoolActArgs, type PoolGeometry } from './maxpool2d.ts';
import { gradParamsVariants, gradBiasVariants, splitkShader, splitkSgShader, xBiasAfter } from './conv_splitk.ts';
import { d2sShader, d2sVariants } from './conv_d2s.ts';
import { conv2dShader } from './conv2d.ts';
import { convTransposeShader } from './conv_transpose2d.ts';

export type { ConvArgs } from './conv_direct.ts';
export { capsOf };

const key = (a: ConvArgs) => JSON.stringify(a);

/** A pass's fused activation as pipeline overrides: forward (ACT) or, for input gradients, backward (ACT_GRAD). */
const passOverrides = (a: ConvArgs): Record<string, number> => ({ ...actOverrides(a), ...actGradOverrides(a) });

export const noSubgroups = (caps: DeviceCaps): string | undefined => (caps.features.has('subgroups') ? undefined : 'no subgroups');

/** Register-tiled implicit GEMM (subgroup broadcast, no barriers): SwiftShader's shape. */
function registerVariant(name: string, transposed: boolean, k: TileKernel): Variant<ConvArgs> {
  return {
    name, prefers: 'software',
    unsupported: (caps, a) => noSubgroups(caps) ?? (k.shader === 'row3' ? row3Unsupported(igemmLayout(a.g, transposed))
      : k.shader === 's2' ? s2Unsupported(igemmLayout(a.g, transposed)) : undefined),
    scratch: (a) => igemmScratch(igemmLayout(a.g, transposed), k.block),
    build: (d, a, io, label) => igemmRegister(d, igemmLayout(a.g, transposed), k,
      { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y!, scratch: io.scratch!, fy: io.fy }, passOverrides(a), label),
  };
}

/**
 * Why the row and space-to-depth kernels cannot pool, or unpool, as they store with pool `p`: they
 * share the vec4 2×2 pool's window and routing code, so they take the pools that kernel takes (isK2).
 */
const poolShapeUnsupported = (p: PoolGeometry): string | undefined => (isK2(p) ? undefined
  : 'the pool is not 2×2, stride 2, no padding over an even height and a width that is a multiple of 8');

/**
 * Whether kernel `k` can take args.unpool in its own store: the row kernel as a conv's input
 * gradient (conv.transposed), the 2×2 space-to-depth one as a k2 s2 transposed conv's (conv.forward),
 * the general register-tiled one in either role where its vec4 store applies (one stride-1 class).
 */
const unpoolsInStore = (k: TileKernel, transposed: boolean, a: ConvArgs) => !!a.unpool && !poolShapeUnsupported(a.unpool) &&
  (k.shader === 'row3' ? transposed && !row3UnpoolUnsupported(igemmLayout(a.g, true))
    : k.shader === 's2' ? !transposed && !s2UnpoolUnsupported(igemmLayout(a.g, false))
    : !sgUnpoolUnsupported(igemmLayout(a.g, transposed)));

/**
 * A register-tiled variant that also continues an input gradient through a 2×2 max pool's backward
 * (args.unpool) in its own store where the shapes allow (unpoolsInStore); wrapped by unpooling().
 */
function storeUnpoolVariant(name: string, transposed: boolean, k: TileKernel): Variant<ConvArgs> {
  const v = registerVariant(name, transposed, k);
  return unpooling({
    ...v,
    build: (d, a, io, label) => (unpoolsInStore(k, transposed, a)
      ? igemmRegister(d, igemmLayout(a.g, transposed), { ...k, unpool: true },
        { x: io.x!, w: io.w!, y: io.y!, scratch: io.scratch!, argmax: io.argmax, py: io.py }, passOverrides(a), label)
      : v.build(d, a, io, label)),
  }, (a) => unpoolsInStore(k, transposed, a));
}

/** An input-gradient pass's arguments without the pool (and activation) backward after it. */
function withoutUnpool(a: ConvArgs): ConvArgs {
  const { unpool: _, actGrad: _a, gradSlope: _s, ...rest } = a;
  return rest;
}

/**
 * Any input-gradient variant (conv.transposed, or conv.forward for a transposed conv), also for a
 * gradient continued through a max pool's backward (args.unpool): one that cannot do it as it
 * stores (all but the row and space-to-depth kernels, and those on other shapes) writes the
 * gradient at the pool's output to its stage buffer, and maxpool2d's backward kernel (with the
 * activation's, actGrad) routes it. `inStore`: when the variant does it itself.
 */
function unpooling(v: Variant<ConvArgs>, inStore: (a: ConvArgs) => boolean = () => false): Variant<ConvArgs> {
  return {
    ...v,
    unsupported: v.unsupported && ((caps, a) => v.unsupported!(caps, a.unpool ? withoutUnpool(a) : a)),
    scratch: v.scratch && ((a) => v.scratch!(a.unpool ? withoutUnpool(a) : a)),
    stage: (a) => (!a.unpool ? (v.stage?.(a) ?? 0) : inStore(a) ? 0 : a.unpool.outShape.reduce((x, y) => x * y, 1)),
    build(d, a, io, label) {
      if (!a.unpool || inStore(a)) return v.build(d, a, io, label);
      const g = a.unpool, stage = io.stage!;
      const pool = a.actGrad && a.actGrad !== 'gelu'
        ? maxpool2dBackwardAct(d, { g, kind: a.actGrad as PoolActArgs['kind'], slope: a.gradSlope ?? 0.01 }, { dy: stage, argmax: io.argmax!, y: io.py!, dx: io.y! }, `${label}/unpool`)
        : maxpool2dBackward(d, g, { dy: stage, argmax: io.argmax!, dx: io.y! }, `${label}/unpool`);
      return [...v.build(d, withoutUnpool(a), { ...io, y: stage }, label), pool];
    },
  };
}

/** Workgroup-memory tiled implicit GEMM: the real-GPU shape. */
function tiledVariant(name: string, transposed: boolean, t: TiledConfig): Variant<ConvArgs> {
  return {
    name, prefers: 'hardware',
    scratch: (a) => igemmScratch(igemmLayout(a.g, transposed), t.bn),
    build: (d, a, io, label) => igemmTiled(d, igemmLayout(a.g, transposed), t,
      { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y!, scratch: io.scratch!, fy: io.fy }, passOverrides(a), label),
  };
}

/** conv.forward's arguments without its fused pool: what a variant that cannot pool computes. */
function withoutPool(a: ConvArgs): ConvArgs {
  const { pool: _, ...rest } = a;
  return rest;
}

const outFloats = (a: ConvArgs) => a.g.batch * a.g.cOut * a.g.outSize[0] * a.g.outSize[1];

/**
 * Any conv.forward variant, also for a conv with a fused max pool (args.pool): a kernel that cannot
 * pool as it stores writes the full-resolution activation to its stage buffer, and maxpool2d's
 * kernel pools it. That is the unfused conv and pool's work and dispatches, with the activation a
 * tensor that lives for this pass only — so every variant stays a candidate, and the tuner weighs
 * them against the one that pools in registers (row3-r16-pool) by measurement.
 */
function pooling(v: Variant<ConvArgs>): Variant<ConvArgs> {
  return {
    ...v,
    unsupported: v.unsupported && ((caps, a) => v.unsupported!(caps, withoutPool(a))),
    scratch: v.scratch && ((a) => v.scratch!(withoutPool(a))),
    stage: (a) => (a.pool ? outFloats(a) : (v.stage?.(a) ?? 0)),
    build(d, a, io, label) {
      if (!a.pool) return v.build(d, a, io, label);
      const full = io.stage!;
      return [...v.build(d, withoutPool(a), { ...io, y: full }, label), maxpool2dForward(d, a.pool, { x: full, y: io.y!, argmax: io.argmax! }, `${label}/pool`)];
    },
  };
}

/** The row kernel that max-pools 2×2 in registers as it stores: only for a conv.forward with args.pool. */
const ROW3_POOL: TileKernel = { shader: 'row3', entry: 'row3_r16_pool', block: 16, cols: 8, pool: true };
const row3Pool: Variant<ConvArgs> = {
  name: 'row3-r16-pool', prefers: 'software', only: 'pool',
  unsupported(caps, a) {
    const p = a.pool;
    if (!p) return 'pools as it stores: only for a convolution with a fused 2×2 max pool';
    return poolShapeUnsupported(p) ?? noSubgroups(caps) ?? row3Unsupported(igemmLayout(a.g, false));
  },
  scratch: (a) => igemmScratch(igemmLayout(a.g, false), ROW3_POOL.block),
  build: (d, a, io, label) => igemmRegister(d, igemmLayout(a.g, false), ROW3_POOL,
    { x: io.x!, w: io.w!, bias: a.bias ? io.bias : undefined, y: io.y!, scratch: io.scratch!, argmax: io.argmax }, passOverrides(a), label),
};

const TILED: Record<string, TiledConfig> = {
  'tiled-64x32': { bm: 64, bn: 32, bk: 16, tm: 8 },
  'tiled-32x32': { bm: 32, bn: 32, bk: 32, tm: 4 },
};

/**
 * The implicit-GEMM variants of conv.forward (transposed: false) or conv.transposed, kernels
 * specialised to a shape first (the order a tuner past its budget tries them in): the 3-wide row
 * kernels, then `special` (space-to-depth or depth-to-space), then the general register-tiled and
 * workgroup-tiled ones. Each also takes args.unpool (an input gradient continued through a max
 * pool's backward): the row kernels (conv.transposed), the space-to-depth ones (conv.forward) and
 * the general register-tiled ones (one stride-1 class) in their store, the rest through unpooling().
 */
function igemmVariants(transposed: boolean, special: Variant<ConvArgs>[]): Variant<ConvArgs>[] {
  const store = (name: string, k: TileKernel) => storeUnpoolVariant(name, transposed, k);
  return [
    store('row3-r16', { shader: 'row3', entry: 'row3_r16', block: 16, cols: 16 }),
    store('row3-r32', { shader: 'row3', entry: 'row3_r32', block: 32, cols: 8 }),
    ...special,
    store('sg-r32', { shader: 'sg', entry: 'sg_r32', block: 32, cols: 8 }),
    store('sg-r16', { shader: 'sg', entry: 'sg_r16', block: 16, cols: 16 }),
    ...Object.entries(TILED).map(([n, t]) => unpooling(tiledVariant(n, transposed, t))),
  ];
}

export const convForwardPass: Pass<ConvArgs> = {
  name: 'conv.forward', inputs: ['x', 'w', 'bias', 'fy', 'argmax', 'py'], outputs: ['y', 'argmax'], key, flops: (a) => 2 * convMacs(a.g),
  // conv.forward's variants also take args.pool through pooling().
  variants: [pooling(unpooling(direct0.variants[0]!)), row3Pool, ...igemmVariants(false, [
    storeUnpoolVariant('s2d-r16', false, { shader: 's2', entry: 's2_r16', block: 16, cols: 16 }),
    storeUnpoolVariant('s2d-r32', false, { shader: 's2', entry: 's2_r32', block: 32, cols: 8 })]).map(pooling)],
};

export const convTransposedPass: Pass<ConvArgs> = {
  name: 'conv.transposed', inputs: ['x', 'w', 'bias', 'fy', 'argmax', 'py'], outputs: ['y'], key, flops: (a) => 2 * convMacs(swapSides(a.g)),
  variants: [unpooling(directT.variants[0]!), ...igemmVariants(true, d2sVariants.map((v) => unpooling(v)))],
};

export const convGradParamsPass: Pass<ConvArgs> = {
  name: 'conv.grad_params', inputs: ['x', 'dy'], outputs: ['dw', 'db'], key, flops: (a) => 2 * convMacs(a.g),
  variants: [xBiasAfter(directP.variants[0]!), ...gradParamsVariants],
};

export const convGradBiasPass: Pass<ConvArgs> = {
  name: 'conv.grad_bias', inputs: ['dy'], outputs: ['db'], key, flops: () => 0,
  variants: [directB.variants[0]!, ...gradBiasVariants],
};

/** Every pass here, for tests and the timing script. */
export const CONV_PASSES = [convForwardPass, convTransposedPass, convGradParamsPass, convGradBiasPass] as const;

/**
 * Every shader the variants above compile, by name: the tuning cache is keyed on their text too
 * (src/tune/cache.ts), so a change to any kernel retimes rather than trusting choices made for
 * the old code under the same version number.
 */
export const TUNED_SHADERS = [conv2dShader, convTransposeShader, relayoutShader, sgShader, row3Shader, s2Shader, tiledShader,
  splitkShader, splitkSgShader, d2sShader, maxpool2dShader, maxpool2dK2Shader];
