// The machinery under every op: folded dispatch, reflected layouts, the pipeline cache, typed shape
// errors before any GPU work, and the error scopes the other GPU tests rely on to fail loudly.
import { describe, expect, it } from 'vitest';
import { ShapeError, KilnError } from '../src/errors.ts';
import { Kernel } from '../src/gpu/kernel.ts';
import { reflectCompute } from '../src/gpu/reflect.ts';
import { activationForward, activationShader } from '../src/ops/activation.ts';
import { conv2dGeometry, conv2dShader } from '../src/ops/conv2d.ts';
import { convTranspose2dGeometry } from '../src/ops/conv_transpose2d.ts';
import { maxpool2dGeometry } from '../src/ops/maxpool2d.ts';
import { empty, gpu, readback, run, scoped, upload } from './gpu.ts';

describe('dispatch folding', () => {
  it('runs an element-wise op over more than 65,535 workgroups, folded into y', async () => {
    const g = await gpu();
    const count = 65_535 * 64 + 1_001; // one dimension cannot hold it; odd, so one element an invocation
    const x = new Float32Array(count).map((_, i) => (i % 7) - 3);
    await scoped(g, async () => {
      const bx = upload(g, x, 'x'), by = empty(g, count, 'y');
      const d = activationForward(g.device, 'relu', count, { x: bx, y: by });
      expect(d.kernel.grid(count)).toEqual([65_535, 2, 1]);
      await run(g, [d]);
      const y = await readback(g, by, count);
      let wrong = 0;
      for (let i = 0; i < count; i++) if (y[i] !== Math.max(0, x[i]!)) wrong++;
      expect(wrong).toBe(0);
    });
  });

  it('folds into z past 65,535 × 65,535 workgroups, and refuses what cannot be addressed', async () => {
    const g = await gpu();
    const k = Kernel.get(g.device, activationShader.code, 'relu_forward');
    const max = g.device.limits.maxComputeWorkgroupsPerDimension;
    expect(k.grid(64)).toEqual([1, 1, 1]);
    expect(k.grid(max * 64 * max + 1)).toEqual([max, max, 2]);
    expect(() => k.grid(64 * max * max * max * 2)).toThrow(KilnError);
  });
});

describe('layouts come from the WGSL', () => {
  it('reads the conv uniform struct with WGSL alignment (vec2<i32> on 8-byte boundaries)', () => {
    const info = reflectCompute(conv2dShader.code).get('forward')!;
    const f = info.uniform!.fields;
    expect([...f.keys()]).toEqual(['batch', 'c_in', 'c_out', 'has_bias', 'in_size', 'out_size', 'kernel', 'stride', 'pad', 'dilation', 'tap_step',
      'group_in', 'group_out', 'chunk_images', 'chunks', 'reduce_len']);
    expect(f.get('in_size')).toEqual({ offset: 16, scalar: 'i32', count: 2 });
    expect(f.get('pad')!.offset).toBe(48);
    expect(f.get('tap_step')).toEqual({ offset: 64, scalar: 'i32', count: 2 });
    expect(f.get('group_in')!.offset).toBe(72);
    expect(f.get('chunk_images')!.offset).toBe(80);
    expect(info.uniform!.size).toBe(96); // 92 bytes of fields, rounded up to the struct's 8-byte alignment
    expect(info.bindings.map((b) => `${b.binding}:${b.name}:${b.type}`)).toEqual(
      ['0:p:uniform', '1:x:read-only-storage', '2:w:read-only-storage', '3:bias:read-only-storage', '4:y:storage',
        '10:fy:read-only-storage']); // fy: a fused activation backward's input (a placeholder otherwise)
    // An entry point only binds what it uses.
    expect(reflectCompute(conv2dShader.code).get('grad_bias')!.bindings.map((b) => b.name)).toEqual(['p', 'g', 'db']);
    expect(reflectCompute(conv2dShader.code).get('sum_chunks')!.bindings.map((b) => b.name)).toEqual(['p', 'part', 'total']);
  });

  it('refuses missing, unknown or mistyped uniform fields and bindings by name', async () => {
    const g = await gpu();
    const k = Kernel.get(g.device, activationShader.code, 'relu_forward');
    expect(() => k.uniform.pack({})).toThrow(/count was not given/);
    expect(() => k.uniform.pack({ count: 1, extra: 2 })).toThrow(/no field 'extra'/);
    expect(() => k.uniform.pack({ count: -1 })).toThrow(/not a u32/);
    const b = empty(g, 4, 'b');
    expect(() => k.bindGroup('t', { x: b })).toThrow(/binding 'p' of .* was not given/);
    expect(() => k.bindGroup('t', { x: b, y: b, p: b, z: b })).toThrow(/has no binding 'z'/);
  });

  it('compiles each (shader, entry, overrides) once per device', async () => {
    const g = await gpu();
    const a = Kernel.get(g.device, activationShader.code, 'relu_forward');
    expect(Kernel.get(g.device, activationShader.code, 'relu_forward')).toBe(a);
    expect(Kernel.get(g.device, activationShader.code, 'selu_forward')).not.toBe(a);
    expect(a.pipeline.label).toBe('activation.relu_forward.pipeline');
  });
});

describe('error scopes make GPU errors fail tests', () => {
  it('a bind group with a buffer lacking STORAGE usage is caught as a validation error', async () => {
    const g = await gpu();
    const k = Kernel.get(g.device, activationShader.code, 'relu_forward');
    const wrong = g.device.createBuffer({ label: 'not-storage', size: 16, usage: GPUBufferUsage.COPY_DST });
    await expect(scoped(g, () => { k.bindGroup('bad', { p: k.uniformBuffer('u', { count: 1 }), x: wrong, y: wrong }); }))
      .rejects.toThrow(/GPU error/);
  });
});

describe('impossible shapes are refused with a typed error naming the op and shapes', () => {
  it('conv2d: empty output, channel mismatch, bad stride', () => {
    expect(() => conv2dGeometry([1, 3, 2, 2], [8, 3, 3, 3])).toThrow(ShapeError);
    expect(() => conv2dGeometry([1, 3, 2, 2], [8, 3, 3, 3])).toThrow(/conv2d: input \[1, 3, 2, 2\].*empty/);
    expect(() => conv2dGeometry([1, 3, 8, 8], [8, 4, 3, 3])).toThrow(/conv2d: input \[1, 3, 8, 8\] has 3 channels but weight \[8, 4, 3, 3\] expects 4/);
    expect(() => conv2dGeometry([1, 3, 8, 8], [8, 3, 3, 3], { stride: 0 })).toThrow(/stride must be an integer ≥ 1/);
    expect(() => conv2dGeometry([1, 3, 8], [8, 3, 3, 3])).toThrow(/must be 4-D/);
  });

  it('conv_transpose2d: output padding ≥ stride, channel mismatch, empty output', () => {
    expect(() => convTranspose2dGeometry([1, 4, 4, 4], [4, 2, 2, 2], { stride: 2, outputPadding: 2 })).toThrow(/outputPadding \[2, 2\] must be smaller than stride/);
    expect(() => convTranspose2dGeometry([1, 4, 4, 4], [3, 2, 2, 2])).toThrow(/has 4 channels but weight \[3, 2, 2, 2\] expects 3/);
    expect(() => convTranspose2dGeometry([1, 4, 1, 1], [4, 2, 1, 1], { padding: 1 })).toThrow(ShapeError);
    expect(convTranspose2dGeometry([1, 4, 5, 6], [4, 2, 3, 3], { stride: 2, padding: 1, outputPadding: 1 }).outSize).toEqual([10, 12]);
  });

  it('maxpool2d: padding over half the kernel, window larger than input', () => {
    expect(() => maxpool2dGeometry([1, 1, 8, 8], { kernel: 2, padding: 2 })).toThrow(/maxpool2d: padding \[2, 2\] must be at most half/);
    expect(() => maxpool2dGeometry([1, 1, 2, 2], { kernel: 3 })).toThrow(/maxpool2d: input \[1, 1, 2, 2\].*empty/);
    expect(maxpool2dGeometry([2, 3, 7, 9], { kernel: 2 }).outShape).toEqual([2, 3, 3, 4]);
  });
});
