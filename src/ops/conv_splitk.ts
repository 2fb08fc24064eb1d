// Convolution weight and bias gradients as deterministic split-K sums (see conv_splitk.wgsl): the
// batch × pixels are cut into a fixed number of chunks, each chunk's partial sums land in the
// scratch buffer, and one more dispatch adds them in chunk order. The split count is part of the
// variant: more chunks give a big GPU more threads, fewer keep a CPU adapter's sums short.
import type { Binding } from '../gpu/kernel.ts';
import { WORKGROUP_SIZE } from '../gpu/kernel.ts';
import { makeDispatch, placeholder, shader, type Dispatch } from './dispatch.ts';
import type { Variant } from './variant.ts';
import { convGradBiasPass, type ConvArgs } from './conv_direct.ts';
import { swapSides, type ConvGeometry } from '../geometry/conv.ts';
import splitkWgsl from '../../shaders/conv_splitk.wgsl?raw';
import splitkQuadWgsl from '../../shaders/conv_splitk_quad.wgsl?raw';
import { subgroupShader } from './conv_igemm.ts';

// The quad-sharing kernels are a file of their own: `enable subgroups;` cannot be compiled on a
// device without the feature, so the other kernels are compiled without them.
export const splitkShader = shader('conv_splitk', splitkWgsl);
export const splitkSgShader = subgroupShader('conv_splitk_sg', `${splitkWgsl}\n${splitkQuadWgsl}`);

type Kind = 'row3' | 'row3c' | 'sg' | 's2' | 's2q' | 'tiled';
/** The kernels that share data within a quad (conv_splitk_quad.wgsl): they need subgroups. */
const QUAD_KINDS: ReadonlySet<Kind> = new Set(['row3', 'row3c', 's2q']);
/** The tiled kernel's tile: BM output channels × BN (ci, ky, kx) per workgroup, BK pixels a step. */
const TILE = { bm: 16, bn: 64, bk: 32 };

interface Plan {
  uniform: Record<string, number | readonly number[]>; invocations: number; chunks: number; partStride: number;
  entry: string; overrides: Record<string, number>;
}

/**
 * `hasBias`: db = Σ dy per dy channel (a conv's bias); `xBias`: db = Σ x per x channel (a transposed
 * conv's bias, whose output gradient is x here; only the s2 kernel sums it).
 */
function plan(g: ConvGeometry, kind: Kind, split: number, hasBias: boolean, xBias = false): Plan {
  const cgx = g.cIn / g.groups, og = g.cOut / g.groups, khw = g.kernel[0] * g.kernel[1];
  const [oh, ow] = g.outSize;
  const steps = kind === 'tiled' ? g.batch * oh * ow : g.batch * oh * Math.ceil(ow / 4);
  const kblocks = kind === 'row3' ? Math.ceil(g.kernel[0] / 3) : kind === 'row3c' ? 1 : kind === 's2' ? Math.ceil(cgx / 2)
    : kind === 's2q' ? Math.ceil(cgx / s2qChannels(cgx))
    : kind === 'sg' ? Math.ceil((cgx * khw) / 8) : Math.ceil((cgx * khw) / TILE.bn);
  const blocks = Math.ceil(og / (kind === 'tiled' ? TILE.bm : 16));
  const chunkSteps = Math.ceil(steps / Math.min(split, steps));
  const chunks = Math.ceil(steps / chunkSteps);
  const dwLen = g.cOut * cgx * khw;
  const partStride = dwLen + (hasBias ? g.cOut : xBias ? g.cIn : 0);
  const lanes = g.groups * blocks * (kind === 'row3' ? cgx * kblocks : kblocks);
  // row3: a workgroup holds the (ci, row-tap block) lanes of one channel block and chunk, WGX of them
  // (4, 16 or 64: each size is its own pipeline, so only a few); row3c: one quad a workgroup.
  // s2q: the input channels (pairs or single) of one channel block and chunk (4 to 64 lanes).
  const kcount = kind === 'row3' ? cgx * kblocks : kblocks;
  const wgx = (kind === 's2q' ? [4, 8, 16, 32, 64] : [4, 16, 64]).find((w) => w >= kcount) ?? 64;
  const workgroups = kind === 'tiled' || kind === 'row3c' ? lanes * chunks : kind === 'row3' || kind === 's2q' ? g.groups * blocks * Math.ceil(kcount / wgx) * chunks
    : Math.ceil((lanes * chunks) / 64);
  return {
    entry: `${kind}_dw`, chunks, partStride, invocations: workgroups * WORKGROUP_SIZE, overrides: kind === 'row3' ? { WGX: wgx } : kind === 's2q' ? { WGX: wgx, CPL: s2qChannels(cgx) } : {},
    uniform: {
      batch: g.batch, c_x: g.cIn, c_y: g.cOut, cgx, og, groups: g.groups, blocks, kblocks, chunks, chunk_steps: chunkSteps, steps,
      has_bias: hasBias ? 1 : 0, x_bias: xBias ? 1 : 0, part_stride: partStride, dw_len: dwLen,
      in_size: g.inSize, out_size: g.outSize, kernel: g.kernel, stride: g.stride, pad: g.padding, dilation: g.dilation,
    },
  };
}

/** The fixed-order sum of the chunks' partials: four totals an invocation when dw and db are whole vec4s. */
function reduce(device: GPUDevice, u: Plan['uniform'], part: Binding, dw: Binding, db: Binding | undefined, label: string): Dispatch {
  const stride = u.part_stride as number;
  return stride % 4 === 0 && (u.dw_len as number) % 4 === 0
    ? makeDispatch(device, splitkShader, 'reduce4', `${label}/sum`, stride / 4, u, { part_in4: part, dw4: dw, db4: db ?? placeholder(device) })
    : makeDispatch(device, splitkShader, 'reduce', `${label}/sum`, stride, u, { part_in: part, dw, db: db ?? placeholder(device) });
}

/** Why the row kernel cannot take this geometry (it needs 3-wide, stride-1, padding-1 rows of whole vec4s). */
export function row3GradUnsupported(g: ConvGeometry): string | undefined {
  if (!(g.kernel[1] === 3 && g.stride[1] === 1 && g.padding[1] === 1 && g.dilation[1] === 1)) {
    return 'needs 3-wide, stride-1, padding-1 rows (kernel width 3, stride 1, padding 1, dilation 1)';
  }
  if (g.inSize[1] % 4 !== 0 || g.outSize[1] % 4 !== 0) return `row widths ${g.inSize[1]}, ${g.outSize[1]} are not multiples of 4`;
  return undefined;
}

/** Why the 2×2 space-to-depth kernel cannot take this geometry (kernel = stride = 2, padding 0, rows of whole vec4s). */
export function s2GradUnsupported(g: ConvGeometry): string | undefined {
  if (g.kernel[0] !== 2 || g.kernel[1] !== 2 || g.stride[0] !== 2 || g.stride[1] !== 2) return `kernel ${g.kernel.join('×')}, stride ${g.stride.join('×')} are not both 2×2`;
  if (g.padding[0] !== 0 || g.padding[1] !== 0 || g.dilation[0] !== 1 || g.dilation[1] !== 1) return 'padding is not 0 or dilation not 1';
  if (g.inSize[1] % 8 !== 0) return `input width ${g.inSize[1]} is not a multiple of 8`;
  return undefined;
}

/** Why the row kernel for few input channels does not apply: it takes 1 to 3 a group and up to 3 row taps. */
function row3cGradUnsupported(g: ConvGeometry): string | undefined {
  const cgx = g.cIn / g.groups;
  if (cgx > 3) return `${cgx} input channels a group: from 4, row3_dw's quads are full`;
  return g.kernel[0] > 3 ? `kernel height ${g.kernel[0]} is over 3` : undefined;
}

/**
 * Input channels a lane of the quad-sharing k2 s2 kernel owns: two from 8 a group, else one, so
 * that a quad's 4 lanes have work (the seed's transconv2.0, 3 channels: 3 lanes of 4, not 2).
 */
const s2qChannels = (cgx: number) => (cgx >= 8 ? 2 : 1);

/** Why the quad-sharing k2 s2 kernel is not worth running: with 1 or 2 input channels a group, most of a quad would idle. */
function s2qGradUnsupported(g: ConvGeometry): string | undefined {
  const cgx = g.cIn / g.groups;
  return cgx < 3 ? `${cgx} input channel${cgx === 1 ? '' : 's'} a group: most of a quad's 4 lanes would idle` : undefined;
}

/**
 * Whether kernel `kind` sums a transposed conv's bias (args.xBias) as it goes: the s2 kernel, whose
 * steps read every input pixel once where the input is exactly twice the output (no row or column
 * left over that no tap reads, as output padding leaves). The others are followed by a bias pass.
 */
const sumsXBias = (kind: Kind, a: ConvArgs) =>
  (kind === 's2' || kind === 's2q') && !!a.xBias && a.g.inSize[0] === 2 * a.g.outSize[0] && a.g.inSize[1] === 2 * a.g.outSize[1];

function gradVariant(name: string, kind: Kind, split: number): Variant<ConvArgs> {
  const planOf = (a: ConvArgs) => plan(a.g, kind, split, a.bias, sumsXBias(kind, a));
  const v: Variant<ConvArgs> = {
    name, prefers: kind === 'tiled' ? 'hardware' : 'software',
    unsupported: (caps, a) => (QUAD_KINDS.has(kind) && !caps.features.has('subgroups') ? 'no subgroups'
      : kind === 's2' ? s2GradUnsupported(a.g)
      : kind === 's2q' ? s2GradUnsupported(a.g) ?? s2qGradUnsupported(a.g)
      : kind === 'row3c' ? row3GradUnsupported(a.g) ?? row3cGradUnsupported(a.g)
      : kind === 'row3' ? row3GradUnsupported(a.g) : undefined),
    scratch: (a) => { const pl = planOf(a); return pl.chunks * pl.partStride; },
    build: (d, a, io, label) => {
      const pl = planOf(a);
      const x = io.x!, dy = io.dy!, part = io.scratch!;
      // The subgroup kernel reads dy as vec4s when its rows are whole vec4s.
      const v4 = kind === 'sg' && a.g.outSize[1] % 4 === 0;
      const buffers: Record<string, Binding> = kind === 'row3' || kind === 'row3c' ? { x, x4: x, dy4: dy, part }
        : kind === 's2' || kind === 's2q' ? { x4: x, dy4: dy, part } : v4 ? { x, dy4: dy, part } : { x, dy, part };
      const tile: Record<string, number> = kind === 'tiled' ? { TBM: TILE.bm, TBN: TILE.bn, TBK: TILE.bk } : pl.overrides;
      return [
        makeDispatch(d, QUAD_KINDS.has(kind) ? splitkSgShader : splitkShader, v4 ? 'sg_dw_v4' : pl.entry, `${label}/chunks`,
          pl.invocations, pl.uniform, buffers, tile),
        reduce(d, pl.uniform, part, io.dw!, a.bias || sumsXBias(kind, a) ? io.db : undefined, label),
      ];
    },
  };
  return xBiasAfter(v, (a) => sumsXBias(kind, a));
}

// Kernels specialised to a shape first (the order a tuner past its budget tries them in).
export const gradParamsVariants: Variant<ConvArgs>[] = [
  gradVariant('row3-split16', 'row3', 16),
  gradVariant('row3c-split16', 'row3c', 16),
  gradVariant('row3-split64', 'row3', 64),
  gradVariant('row3c-split64', 'row3c', 64),
  gradVariant('row3-split256', 'row3', 256),
  gradVariant('s2q-split4', 's2q', 4),
  gradVariant('s2q-split16', 's2q', 16),
  gradVariant('s2d-split64', 's2', 64),
  gradVariant('s2d-split16', 's2', 16),
  gradVariant('sg-split16', 'sg', 16),
  gradVariant('sg-split64', 'sg', 64),
  gradVariant('sg-split256', 'sg', 256),
  gradVariant('tiled-split8', 'tiled', 8),
  gradVariant('tiled-split32', 'tiled', 32),
];

const biasUnsupported = (g: ConvGeometry) => ((g.outSize[0] * g.outSize[1]) % 4 !== 0 ? `output plane ${g.outSize.join('×')} is not a whole number of vec4s` : undefined);

/** db = Σ dy per channel, split over images, summed as vec4s along each plane. */
function biasVariant(name: string, split: number): Variant<ConvArgs> {
  const pl = (g: ConvGeometry) => {
    const chunkSteps = Math.ceil(g.batch / Math.min(split, g.batch));
    const chunks = Math.ceil(g.batch / chunkSteps);
    return { chunks, uniform: { ...plan(g, 'sg', 1, true).uniform, chunks, chunk_steps: chunkSteps, part_stride: g.cOut, dw_len: 0 } };
  };
  return {
    name,
    unsupported: (_caps, a) => biasUnsupported(a.g),
    scratch: (a) => pl(a.g).chunks * a.g.cOut,
    build: (d, a, io, label) => {
      const p = pl(a.g);
      return [
        makeDispatch(d, splitkShader, 'bias_sum', `${label}/chunks`, p.chunks * a.g.cOut, p.uniform, { dy4: io.dy!, part: io.scratch! }),
        reduce(d, p.uniform, io.scratch!, placeholder(d), io.db!, label),
      ];
    },
  };
}

export const gradBiasVariants: Variant<ConvArgs>[] = [biasVariant('vec4-split8', 8), biasVariant('vec4-split32', 32)];

/** The bias pass of a transposed conv whose weight gradient has params args `a`: its own geometry, vec4 sums where its plane allows. */
function xBiasPass(a: ConvArgs): { v: Variant<ConvArgs>; args: ConvArgs } {
  const args: ConvArgs = { g: swapSides(a.g), bias: true };
  return { args, v: biasUnsupported(args.g) ? convGradBiasPass.variants[0]! : gradBiasVariants[0]! };
}

/**
 * Weight-gradient variant `v` for a transposed conv that also needs its bias (args.xBias): where `v`
 * does not sum it itself (`inKernel`), it is followed by that bias's own pass on the stage buffer —
 * the unfused work, so every variant stays a candidate and the tuner weighs them against the one
 * that sums it in its loop (s2d) by measurement.
 */
export function xBiasAfter(v: Variant<ConvArgs>, inKernel: (a: ConvArgs) => boolean = () => false): Variant<ConvArgs> {
  const strip = (a: ConvArgs): ConvArgs => { const { xBias: _, ...rest } = a; return rest; };
  const after = (a: ConvArgs) => !!a.xBias && !inKernel(a);
  return {
    ...v,
    unsupported: v.unsupported && ((caps, a) => v.unsupported!(caps, strip(a))),
    scratch: v.scratch && ((a) => v.scratch!(after(a) ? strip(a) : a)),
    stage: (a) => { if (!after(a)) return 0; const b = xBiasPass(a); return b.v.scratch?.(b.args) ?? 0; },
    build(d, a, io, label) {
      if (!after(a)) return v.build(d, a, io, label);
      const b = xBiasPass(a);
      return [...v.build(d, strip(a), io, label), ...b.v.build(d, b.args, { dy: io.x!, db: io.db!, scratch: io.stage! }, `${label}/bias`)];
    },
  };
}
