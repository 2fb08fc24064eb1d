// The WGSL is the single source of truth for how a kernel is bound: this file reads bind-group
// layouts and uniform-struct layouts out of the shader text with wgsl_reflect, so no offset, size or
// binding number is ever restated in TypeScript.
import { WgslReflect, ResourceType, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { KilnError } from '../errors.ts';

type Scalar = 'f32' | 'i32' | 'u32';
const SCALAR_OF: Record<string, [Scalar, number]> = {
  f32: ['f32', 1], i32: ['i32', 1], u32: ['u32', 1],
  vec2f: ['f32', 2], vec3f: ['f32', 3], vec4f: ['f32', 4],
  vec2i: ['i32', 2], vec3i: ['i32', 3], vec4i: ['i32', 4],
  vec2u: ['u32', 2], vec3u: ['u32', 3], vec4u: ['u32', 4],
};

export interface UniformField { offset: number; scalar: Scalar; count: number }

/** A uniform struct's layout, and a writer that packs plain values into its bytes. */
export class UniformLayout {
  constructor(readonly structName: string, readonly size: number, readonly fields: ReadonlyMap<string, UniformField>) {}

  /** Packs `values` (every field required, none extra) into a fresh buffer of `size` bytes. */
  pack(values: Record<string, number | readonly number[]>): ArrayBuffer {
    const bytes = new ArrayBuffer(this.size);
    const view = new DataView(bytes);
    for (const name of Object.keys(values)) {
      if (!this.fields.has(name)) throw new KilnError(`uniform ${this.structName} has no field '${name}'`);
    }
    for (const [name, f] of this.fields) {
      const v = values[name];
      if (v === undefined) throw new KilnError(`uniform ${this.structName}.${name} was not given`);
      const list = typeof v === 'number' ? [v] : v;
      if (list.length !== f.count) {
        throw new KilnError(`uniform ${this.structName}.${name} needs ${f.count} value(s), got ${list.length}`);
      }
      list.forEach((x, i) => {
        const at = f.offset + 4 * i;
        if (f.scalar === 'f32') view.setFloat32(at, x, true);
        else if (f.scalar === 'i32') view.setInt32(at, x, true);
        else {
          if (!(x >= 0 && x <= 0xffffffff && Number.isInteger(x))) {
            throw new KilnError(`uniform ${this.structName}.${name} = ${x} is not a u32`);
          }
          view.setUint32(at, x, true);
        }
      });
    }
    return bytes;
  }
}

export interface BindingInfo { name: string; binding: number; type: GPUBufferBindingType }

export interface EntryInfo {
  name: string;
  /** Bindings this entry point uses (group 0 only), sorted by binding number. */
  bindings: BindingInfo[];
  /** The layout of its uniform struct, when it reads one. */
  uniform?: UniformLayout;
}

function bufferType(v: VariableInfo): GPUBufferBindingType {
  if (v.resourceType === ResourceType.Uniform) return 'uniform';
  if (v.resourceType === ResourceType.Storage) return v.access === 'read' ? 'read-only-storage' : 'storage';
  throw new KilnError(`binding '${v.name}': only buffers are supported, not resource type ${v.resourceType}`);
}

function uniformLayout(v: VariableInfo): UniformLayout {
  const fields = new Map<string, UniformField>();
  for (const m of v.members ?? []) {
    const s = SCALAR_OF[m.type.name];
    if (!s) throw new KilnError(`uniform ${v.type.name}.${m.name}: unsupported type ${m.type.name}`);
    fields.set(m.name, { offset: m.offset, scalar: s[0], count: s[1] });
  }
  return new UniformLayout(v.type.name, v.size, fields);
}

const cache = new Map<string, Map<string, EntryInfo>>();

/** Reflects every compute entry point of `code`. Cached by the text itself. */
export function reflectCompute(code: string): Map<string, EntryInfo> {
  const hit = cache.get(code);
  if (hit) return hit;
  const r = new WgslReflect(code);
  const out = new Map<string, EntryInfo>();
  for (const fn of r.entry.compute) {
    const used = fn.resources.filter((v) => v.group === 0).sort((a, b) => a.binding - b.binding);
    const uniforms = used.filter((v) => v.resourceType === ResourceType.Uniform);
    if (uniforms.length > 1) throw new KilnError(`entry ${fn.name}: at most one uniform struct is supported`);
    out.set(fn.name, {
      name: fn.name,
      bindings: used.map((v) => ({ name: v.name, binding: v.binding, type: bufferType(v) })),
      uniform: uniforms[0] ? uniformLayout(uniforms[0]) : undefined,
    });
  }
  cache.set(code, out);
  return out;
}
