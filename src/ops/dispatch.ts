// What every op hands back: ready-to-record dispatches. Uniforms and bind groups are made once,
// when the op is planned; a training step only replays `record`.
import { Kernel, type Binding } from '../gpu/kernel.ts';
import commonWgsl from '../../shaders/common.wgsl?raw';

export interface Dispatch {
  readonly label: string;
  readonly kernel: Kernel;
  readonly bindGroup: GPUBindGroup;
  readonly invocations: number;
  /** The uniform buffer, for ops whose scalars change between steps (optimizers). */
  readonly uniform?: GPUBuffer;
}

export function record(pass: GPUComputePassEncoder, d: Dispatch): void {
  d.kernel.dispatch(pass, d.bindGroup, d.invocations);
}

/** A shader source with a name for labels. */
export interface Shader { readonly name: string; readonly code: string }

/** Every kernel is its op's WGSL with the shared prelude (workgroup size, folded index) in front. */
export function shader(name: string, code: string): Shader {
  return { name, code: `${commonWgsl}\n${code}` };
}

/**
 * Builds a dispatch: compiles (or reuses) the entry point, writes its uniform struct from `uniform`,
 * and binds `buffers` by their WGSL names.
 */
export function makeDispatch(device: GPUDevice, src: Shader, entry: string, label: string, invocations: number,
  uniform: UniformValues | null, buffers: Record<string, Binding>, overrides: Record<string, number> = {}): Dispatch {
  const kernel = Kernel.get(device, src.code, entry, overrides, `${src.name}.${entry}`);
  const all = { ...buffers };
  const u = uniform ? kernel.uniformBuffer(`${label}.uniform`, uniform) : undefined;
  if (u) all.p = u;
  return { label, kernel, invocations, bindGroup: kernel.bindGroup(label, all), uniform: u };
}

export type UniformValues = Record<string, number | readonly number[]>;

/** Rewrites a dispatch's uniform struct (queued; takes effect for work submitted after it). */
export function writeUniform(device: GPUDevice, d: Dispatch, values: UniformValues): void {
  if (!d.uniform) throw new Error(`${d.label} has no uniform buffer`);
  device.queue.writeBuffer(d.uniform, 0, d.kernel.uniform.pack(values));
}

const placeholders = new WeakMap<GPUDevice, GPUBuffer>();
/**
 * A small zero-filled storage buffer (16 bytes: the smallest binding every adapter accepts) bound
 * where an optional input is not read — a missing bias, an unguarded optimizer's status word.
 */
export function placeholder(device: GPUDevice): GPUBuffer {
  let b = placeholders.get(device);
  if (!b) {
    b = device.createBuffer({ label: 'kiln.placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    placeholders.set(device, b);
  }
  return b;
}

const placeholdersOut = new WeakMap<GPUDevice, GPUBuffer[]>();

/**
 * Placeholders for unused read_write bindings, `k` telling apart several in one dispatch: WebGPU
 * lets no dispatch write a buffer it also reads (the read-only `placeholder`), or bind one
 * writable buffer twice.
 */
export function placeholderOut(device: GPUDevice, k = 0): GPUBuffer {
  let list = placeholdersOut.get(device);
  if (!list) {
    list = [];
    placeholdersOut.set(device, list);
  }
  while (list.length <= k) list.push(device.createBuffer({ label: `kiln.placeholder.out${list.length}`, size: 16, usage: GPUBufferUsage.STORAGE }));
  return list[k]!;
}

export { pair, checkShape4, fmt, type Pair, type Shape4 } from '../geometry/util.ts';
