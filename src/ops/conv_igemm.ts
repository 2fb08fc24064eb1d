// Implicit-GEMM convolution (conv2d and conv_transpose2d forward): M = output pixels, N = output
// channels, K = input channels × taps, never materialised. The host splits the output into classes
// (one for a conv2d; one per output residue for a transposed conv, see conv_igemm_common.wgsl),
// lays the weights out again per class in the scratch buffer (output channels fastest), then runs
// one kernel dispatch per class. Kernels: 'sg' (register tiles + quadBroadcast, any geometry),
// 'row3' (the same for 3-wide stride-1 rows, loading input rows as aligned vec4s), 's2' (the same
// for kernel = stride = 2×2: space-to-depth), 'tiled' (workgroup-memory tiles: the shape real GPUs
// want).
import type { Binding } from '../gpu/kernel.ts';
import { WORKGROUP_SIZE } from '../gpu/kernel.ts';
import type { ConvGeometry } from '../geometry/conv.ts';
import { makeDispatch, placeholder, shader, type Dispatch, type Shader } from './dispatch.ts';
import { activationOverrides, type Activation } from './activation.ts';
import type { ConvArgs } from './conv_direct.ts';
import commonWgsl from '../../shaders/conv_igemm_common.wgsl?raw';
import relayoutWgsl from '../../shaders/conv_igemm_relayout.wgsl?raw';
import sgWgsl from '../../shaders/conv_igemm_sg.wgsl?raw';
import row3Wgsl from '../../shaders/conv_igemm_row3.wgsl?raw';
import pool2x2Wgsl from '../../shaders/pool2x2.wgsl?raw';
import s2Wgsl from '../../shaders/conv_igemm_s2.wgsl?raw';
import unpoolWgsl from '../../shaders/conv_igemm_unpool.wgsl?raw';
import tiledWgsl from '../../shaders/conv_igemm_tiled.wgsl?raw';

/** Pipeline overrides for the activation a forward kernel applies as it stores (as conv_direct.ts does). */
export const actOverrides = (a: ConvArgs): Record<string, number> => activationOverrides(a.act as Activation | undefined, { negativeSlope: a.slope });

/** A kernel that uses subgroup operations: `enable` must precede every declaration, the prelude's too. */
export const subgroupShader = (name: string, code: string): Shader => ({ name, code: `enable subgroups;\n${shader(name, code).code}` });

export const relayoutShader = shader('conv_igemm_relayout', relayoutWgsl);
export const sgShader = subgroupShader('conv_igemm_sg', `${commonWgsl}\n${pool2x2Wgsl}\n${unpoolWgsl}\n${sgWgsl}`);
export const row3Shader = subgroupShader('conv_igemm_row3', `${commonWgsl}\n${pool2x2Wgsl}\n${unpoolWgsl}\n${row3Wgsl}`);
export const s2Shader = subgroupShader('conv_igemm_s2', `${commonWgsl}\n${pool2x2Wgsl}\n${unpoolWgsl}\n${s2Wgsl}`);
export const tiledShader = shader('conv_igemm_tiled', `${commonWgsl}\n${tiledWgsl}`);

/**
 * One axis of a class: output position first + ostep·a for a < grid; at tap t < taps it reads input
 * position istep·a + off + tstep·t with kernel tap kfirst + kstep·t (tstep > 0 always).
 */
export interface Axis { grid: number; first: number; ostep: number; istep: number; off: number; taps: number; tstep: number; kfirst: number; kstep: number }
export interface ConvClass { y: Axis; x: Axis }

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** A conv2d axis: one class. */
const convAxis = (out: number, k: number, s: number, pad: number, d: number): Axis =>
  ({ grid: out, first: 0, ostep: 1, istep: s, off: -pad, taps: k, tstep: d, kfirst: 0, kstep: 1 });

/**
 * A transposed conv axis: output oy = iy·s − pad + ky·d, so residue r = oy mod s is reached by the
 * taps with ky·d ≡ r + pad (mod s), every s/gcd(s, d)-th one. Listed with the input position
 * increasing (the kernel flipped), so tstep > 0.
 */
function transposedAxes(out: number, k: number, s: number, pad: number, d: number): Axis[] {
  const period = s / gcd(s, d);
  const axes: Axis[] = [];
  for (let r = 0; r < s && r < out; r++) {
    const grid = Math.ceil((out - r) / s);
    let k0 = -1;
    for (let kk = 0; kk < Math.min(period, k); kk++) if ((((kk * d - r - pad) % s) + s) % s === 0) { k0 = kk; break; }
    const taps = k0 < 0 ? 0 : Math.ceil((k - k0) / period);
    const tstep = d / gcd(s, d);
    // Tap t reads iy = a + (r + pad − (k0 + t·period)·d)/s = a + off0 − t·tstep; flip t to count up.
    const off0 = (r + pad - k0 * d) / s;
    axes.push(taps === 0
      ? { grid, first: r, ostep: s, istep: 1, off: 0, taps: 0, tstep: 1, kfirst: 0, kstep: 1 }
      : { grid, first: r, ostep: s, istep: 1, off: off0 - (taps - 1) * tstep, taps, tstep, kfirst: k0 + (taps - 1) * period, kstep: -period });
  }
  return axes;
}

/** Everything the implicit-GEMM kernels need about a conv2d (transposed: false) or conv_transpose2d. */
export interface IgemmLayout {
  g: ConvGeometry;
  transposed: boolean;
  classes: ConvClass[];
  /** Channels of x / y per group. */
  cgx: number;
  og: number;
  /** Strides in the original weights of an output channel, an input channel and a group. */
  sCo: number;
  sCi: number;
  sG: number;
}

export function igemmLayout(g: ConvGeometry, transposed: boolean): IgemmLayout {
  const cgx = g.cIn / g.groups, og = g.cOut / g.groups, khw = g.kernel[0] * g.kernel[1];
  const ax = (i: 0 | 1) => (transposed
    ? transposedAxes(g.outSize[i], g.kernel[i], g.stride[i], g.padding[i], g.dilation[i])
    : [convAxis(g.outSize[i], g.kernel[i], g.stride[i], g.padding[i], g.dilation[i])]);
  const classes = ax(0).flatMap((y) => ax(1).map((x) => ({ y, x })));
  return transposed
    ? { g, transposed, classes, cgx, og, sCo: khw, sCi: og * khw, sG: cgx * og * khw }
    : { g, transposed, classes, cgx, og, sCo: cgx * khw, sCi: khw, sG: og * cgx * khw };
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** Floats of one class's relaid weights for a kernel whose channel block is `block`. */
const classFloats = (L: IgemmLayout, c: ConvClass, block: number) =>
  L.g.groups * roundUp(L.cgx, 4) * c.y.taps * c.x.taps * roundUp(L.og, block);

/** Scratch floats the relaid weights take (every class). */
export const igemmScratch = (L: IgemmLayout, block: number): number =>
  L.classes.reduce((s, c) => s + classFloats(L, c, block), 0);

const pairOf = (c: ConvClass, k: keyof Axis): [number, number] => [c.y[k], c.x[k]];

/** Lays the weights of every class out in `wt` (see conv_igemm_relayout.wgsl). */
function relayout(device: GPUDevice, L: IgemmLayout, block: number, w: Binding, wt: Binding, label: string): { dispatches: Dispatch[]; offsets: number[] } {
  const dispatches: Dispatch[] = [];
  const offsets: number[] = [];
  let at = 0;
  L.classes.forEach((c, i) => {
    offsets.push(at);
    const count = classFloats(L, c, block);
    if (count > 0) {
      // Four output channels an invocation: every channel block is a multiple of 4, so cop and at are.
      const cop = roundUp(L.og, block);
      if (cop % 4 !== 0 || at % 4 !== 0) throw new Error(`${label}: relaid weights must be whole vec4s (block ${block})`);
      dispatches.push(makeDispatch(device, relayoutShader, 'relayout', `${label}/relayout${L.classes.length > 1 ? i : ''}`, count / 4, {
        count, cgx: L.cgx, cgx4: roundUp(L.cgx, 4), og: L.og, cop, s_co: L.sCo, s_ci: L.sCi, s_g: L.sG, dst: at,
        taps: pairOf(c, 'taps'), kfirst: pairOf(c, 'kfirst'), kstep: pairOf(c, 'kstep'), kernel: L.g.kernel,
      }, { w, wt4: wt }));
    }
    at += count;
  });
  return { dispatches, offsets };
}

/** The uniform of one class's kernel dispatch; `cols` output columns per lane. */
function classUniform(L: IgemmLayout, c: ConvClass, block: number, cols: number, wOff: number, hasBias: boolean) {
  const g = L.g;
  return {
    batch: g.batch, c_x: g.cIn, c_y: g.cOut, cgx: L.cgx, cgx4: roundUp(L.cgx, 4), og: L.og, cop: roundUp(L.og, block),
    blocks: Math.ceil(L.og / block), has_bias: hasBias ? 1 : 0, w_off: wOff / 4,
    lanes: g.batch * c.y.grid * Math.ceil(c.x.grid / cols),
    in_size: g.inSize, out_size: g.outSize, grid: pairOf(c, 'grid'), first: pairOf(c, 'first'), ostep: pairOf(c, 'ostep'),
    istep: pairOf(c, 'istep'), off: pairOf(c, 'off'), taps: pairOf(c, 'taps'), tstep: pairOf(c, 'tstep'),
  };
}

export interface IgemmIo { x: Binding; w: Binding; bias?: Binding; y: Binding; scratch: Binding; fy?: Binding; argmax?: Binding; py?: Binding }

/**
 * A register-tiled kernel: which shader entry, its channel block and output columns per lane.
 * `pool`: the entry max-pools 2×2 as it stores (two rows of `cols` columns a lane), writing the
 * pooled output to y and the argmax to io.argmax. `unpool` (row3, s2, sg): the store continues the
 * gradient through a 2×2 max pool's backward (io.argmax, io.py: its argmax and output) and ACT_GRAD's.
 */
export interface TileKernel { shader: 'sg' | 'row3' | 's2'; entry: string; block: number; cols: number; pool?: boolean; unpool?: boolean }

/**
 * Which shader and entry run `k`, and the buffers by WGSL name. s2 reads x only as vec4s, row3 also
 * single pixels at row ends; sg stores vec4s where the class's output columns are whole vec4 rows
 * (`vec`). The row3 and s2 plain entries also bind the unpooling store's inputs (placeholders when off).
 */
function kernelBuffers(device: GPUDevice, k: TileKernel, vec: boolean, io: IgemmIo, common: Record<string, Binding>): [Shader, string, Record<string, Binding>] {
  const fy = io.fy ?? placeholder(device);
  const unpool = k.unpool ? { arg4: io.argmax!, py4: io.py! } : { arg4: placeholder(device), py4: placeholder(device) };
  if (k.shader === 'sg') {
    if (k.unpool && !vec) throw new Error(`${k.entry}: the unpooling store needs output rows of whole vec4s`);
    return vec ? [sgShader, `${k.entry}_v4`, { ...common, x: io.x, y4: io.y, fy4: fy, ...unpool }] : [sgShader, k.entry, { ...common, x: io.x, y: io.y, fy }];
  }
  if (k.shader === 's2') return [s2Shader, k.entry, { ...common, x4: io.x, y4: io.y, fy4: fy, ...unpool }];
  const row3 = { ...common, x: io.x, x4: io.x, y4: io.y };
  if (k.pool) return [row3Shader, k.entry, { ...row3, argmax4: io.argmax! }];
  return [row3Shader, k.entry, { ...row3, fy4: fy, ...unpool }];
}

/** Relayout, then one dispatch of `k` per class (64-lane workgroups, one channel block each). */
export function igemmRegister(device: GPUDevice, L: IgemmLayout, k: TileKernel, io: IgemmIo, overrides: Record<string, number>, label: string): Dispatch[] {
  const { dispatches, offsets } = relayout(device, L, k.block, io.w, io.scratch, label);
  const common = { wt: io.scratch, bias: io.bias ?? placeholder(device) };
  L.classes.forEach((c, i) => {
    const u = classUniform(L, c, k.block, k.cols, offsets[i]!, !!io.bias);
    if (k.pool) u.lanes = L.g.batch * (c.y.grid / 2) * (c.x.grid / k.cols);
    const workgroups = Math.ceil(u.lanes / 64) * L.g.groups * u.blocks;
    // Output columns of the class contiguous in rows of whole vec4s: store 4 pixels at once.
    const vec = c.x.first === 0 && c.x.ostep === 1 && L.g.outSize[1] % 4 === 0;
    const [src, entry, buffers] = kernelBuffers(device, k, vec, io, common);
    // The pooling row kernel's loop for 3 row taps at stride and dilation 1 (see conv_igemm_row3.wgsl).
    const rows3: Record<string, number> = k.shader === 'row3' ? { ROWS3: k.pool && c.y.taps === 3 && c.y.istep === 1 && c.y.tstep === 1 ? 1 : 0 } : {};
    dispatches.push(makeDispatch(device, src, entry, `${label}${L.classes.length > 1 ? `/class${i}` : ''}`,
      workgroups * WORKGROUP_SIZE, u, buffers, { ...overrides, UNPOOL: k.unpool ? 1 : 0, ...rows3 }));
  });
  return dispatches;
}

/**
 * Whether the 3-wide row kernel applies: every class reads input columns b−1, b, b+1 for output
 * column b (a 3-wide, stride-1, padding-1 conv2d, or the same transposed conv), and rows of x and y
 * are whole vec4s.
 */
export function row3Unsupported(L: IgemmLayout): string | undefined {
  const g = L.g;
  for (const c of L.classes) {
    const a = c.x;
    if (!(a.taps === 3 && a.istep === 1 && a.tstep === 1 && a.off === -1 && a.ostep === 1 && a.first === 0)) {
      return 'needs 3-wide, stride-1, padding-1 rows (kernel width 3, stride 1, padding 1, dilation 1)';
    }
  }
  if (g.inSize[1] % 4 !== 0 || g.outSize[1] % 4 !== 0) return `row widths ${g.inSize[1]}, ${g.outSize[1]} are not multiples of 4`;
  return undefined;
}

/**
 * Whether the row kernel's store can continue an input gradient through a 2×2 max pool's backward:
 * besides the row kernel's own conditions (above), a single class writing whole rows. The pool's
 * shape is checked by the caller (the vec4 2×2 pool's isK2, whose routing the store shares).
 */
export function row3UnpoolUnsupported(L: IgemmLayout): string | undefined {
  return singleClassUnsupported(L) ?? row3Unsupported(L);
}

/** The same for the 2×2 space-to-depth kernel (a conv2d: always one class). */
export function s2UnpoolUnsupported(L: IgemmLayout): string | undefined {
  return singleClassUnsupported(L) ?? s2Unsupported(L);
}

/**
 * The same for the general register-tiled kernel, any geometry in one stride-1 class: its output
 * is the pool's output, whose rows the 2×2 pool (isK2, a width that is a multiple of 8) makes whole
 * vec4s, so its vec4 store (the _v4 entries) applies.
 */
export function sgUnpoolUnsupported(L: IgemmLayout): string | undefined {
  return singleClassUnsupported(L);
}

/** The unpooling store takes output row a of lane row a: one class, output rows in order. */
function singleClassUnsupported(L: IgemmLayout): string | undefined {
  const c = L.classes[0]!;
  return L.classes.length !== 1 || c.y.first !== 0 || c.y.ostep !== 1 ? 'not a single stride-1 class' : undefined;
}

/** Whether the 2×2 space-to-depth kernel applies: a conv2d with kernel = stride = 2, padding 0, on rows of whole vec4s. */
export function s2Unsupported(L: IgemmLayout): string | undefined {
  const g = L.g;
  if (L.transposed) return 'a transposed convolution (its kernel = stride form is d2s)';
  if (g.kernel[0] !== 2 || g.kernel[1] !== 2 || g.stride[0] !== 2 || g.stride[1] !== 2) return `kernel ${g.kernel.join('×')}, stride ${g.stride.join('×')} are not both 2×2`;
  if (g.padding[0] !== 0 || g.padding[1] !== 0 || g.dilation[0] !== 1 || g.dilation[1] !== 1) return 'padding is not 0 or dilation not 1';
  if (g.inSize[1] % 8 !== 0) return `input width ${g.inSize[1]} is not a multiple of 8`;
  return undefined;
}

/** Workgroup-tiled implicit GEMM (see conv_igemm_tiled.wgsl): tile BM pixels × BN channels × BK, TM pixels a thread (BM·BN = 256·TM). */
export interface TiledConfig { bm: number; bn: number; bk: number; tm: 4 | 8 }

export function igemmTiled(device: GPUDevice, L: IgemmLayout, t: TiledConfig, io: IgemmIo, overrides: Record<string, number>, label: string): Dispatch[] {
  const { dispatches, offsets } = relayout(device, L, t.bn, io.w, io.scratch, label);
  L.classes.forEach((c, i) => {
    const u = classUniform(L, c, t.bn, 1, offsets[i]!, !!io.bias);
    // A lane here is one output pixel; a workgroup takes BM of them.
    const workgroups = Math.ceil(u.lanes / t.bm) * L.g.groups * u.blocks;
    dispatches.push(makeDispatch(device, tiledShader, 'tiled', `${label}${L.classes.length > 1 ? `/class${i}` : ''}`,
      workgroups * WORKGROUP_SIZE, u, { x: io.x, wt: io.scratch, bias: io.bias ?? placeholder(device), y: io.y, fy: io.fy ?? placeholder(device) },
      { ...overrides, BM: t.bm, BN: t.bn, BK: t.bk, TM: t.tm }));
  });
  return dispatches;
}
