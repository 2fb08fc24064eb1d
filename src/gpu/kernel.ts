// A compiled compute entry point with the layout reflected from its WGSL, cached per device.
// Ops build on this: they only say which shader, which entry, which buffers by WGSL name, and how
// many invocations — never binding numbers, offsets or workgroup arithmetic.
import { GpuError, KilnError } from '../errors.ts';
import { reflectCompute, type EntryInfo, type UniformLayout } from './reflect.ts';

/** Invocations per workgroup. Fed to every shader's `override WG` and used for dispatch counts. */
export const WORKGROUP_SIZE = 64;

/** A whole buffer, or a range of one (a parameter's view into the flat parameter buffer). */
export type Binding = GPUBuffer | GPUBufferBinding;

const pipelines = new WeakMap<GPUDevice, Map<string, Kernel>>();
const modules = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

/** One module per shader text and device: a file's entry points share its parse and validation. */
function shaderModule(device: GPUDevice, code: string, label: string): GPUShaderModule {
  let perDevice = modules.get(device);
  if (!perDevice) {
    perDevice = new Map();
    modules.set(device, perDevice);
  }
  let m = perDevice.get(code);
  if (!m) {
    m = device.createShaderModule({ label: `${label}.module`, code });
    perDevice.set(code, m);
  }
  return m;
}

export class Kernel {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;

  private constructor(readonly device: GPUDevice, readonly label: string, readonly info: EntryInfo, code: string,
    readonly workgroupSize: number, overrides: Record<string, number>) {
    this.layout = device.createBindGroupLayout({
      label: `${label}.bindGroupLayout`,
      entries: info.bindings.map((b) => ({ binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.type } })),
    });
    const module = shaderModule(device, code, label);
    this.pipeline = device.createComputePipeline({
      label: `${label}.pipeline`,
      layout: device.createPipelineLayout({ label: `${label}.pipelineLayout`, bindGroupLayouts: [this.layout] }),
      compute: { module, entryPoint: info.name, constants: { WG: workgroupSize, ...overrides } },
    });
  }

  /**
   * The kernel for `entry` of `code` on `device`, compiled once. The cache key is the full WGSL text
   * plus entry and overrides, so two shaders can never collide on a hand-picked name.
   */
  static get(device: GPUDevice, code: string, entry: string, overrides: Record<string, number> = {}, label = entry): Kernel {
    let perDevice = pipelines.get(device);
    if (!perDevice) {
      perDevice = new Map();
      pipelines.set(device, perDevice);
    }
    const key = `${entry}\u0000${JSON.stringify(overrides)}\u0000${code}`;
    let k = perDevice.get(key);
    if (!k) {
      const info = reflectCompute(code).get(entry);
      if (!info) throw new KilnError(`shader '${label}' has no compute entry point '${entry}'`);
      k = new Kernel(device, label, info, code, WORKGROUP_SIZE, overrides);
      perDevice.set(key, k);
    }
    return k;
  }

  get uniform(): UniformLayout {
    if (!this.info.uniform) throw new KilnError(`${this.label} has no uniform struct`);
    return this.info.uniform;
  }

  /** A uniform buffer holding `values`, laid out as the shader's struct says. */
  uniformBuffer(label: string, values: Record<string, number | readonly number[]>): GPUBuffer {
    const bytes = this.uniform.pack(values);
    const buf = this.device.createBuffer({ label, size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buf, 0, bytes);
    return buf;
  }

  /** A bind group from buffers named as in the WGSL; a missing or unknown name is an error here, not a GPU validation error later. */
  bindGroup(label: string, buffers: Record<string, Binding>): GPUBindGroup {
    const names = new Set(this.info.bindings.map((b) => b.name));
    for (const n of Object.keys(buffers)) {
      if (!names.has(n)) throw new KilnError(`${label}: ${this.label} has no binding '${n}' (has ${[...names].join(', ')})`);
    }
    return this.device.createBindGroup({
      label,
      layout: this.layout,
      entries: this.info.bindings.map((b) => {
        const buffer = buffers[b.name];
        if (!buffer) throw new KilnError(`${label}: binding '${b.name}' of ${this.label} was not given`);
        return { binding: b.binding, resource: 'buffer' in buffer ? buffer : { buffer } };
      }),
    });
  }

  /** Workgroup counts for `invocations`, folded into y and z when x would pass the per-dimension limit. */
  grid(invocations: number): [number, number, number] {
    const groups = Math.max(1, Math.ceil(invocations / this.workgroupSize));
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [groups, 1, 1];
    const x = max;
    const rest = Math.ceil(groups / x);
    if (rest <= max) return [x, rest, 1];
    const z = Math.ceil(rest / max);
    if (z > max) throw new GpuError(`${this.label}: ${invocations} invocations exceed what one dispatch can address`);
    return [x, max, z];
  }

  /** Records one dispatch of `invocations` threads (the shader bounds-checks its flat id). */
  dispatch(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, invocations: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = this.grid(invocations);
    pass.dispatchWorkgroups(x, y, z);
  }
}
