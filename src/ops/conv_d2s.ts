// Transposed convolutions whose kernel equals the stride (padding 0, dilation 1, no output padding)
// as a GEMM plus depth-to-space (see conv_d2s.wgsl): the seed decoder's k2 s2 layers. Their input
// gradients are conv2d with kernel = stride (space-to-depth + GEMM: the s2d variants of
// conv.forward, conv_igemm_s2.wgsl); their weight gradients the s2d variants of conv.grad_params.
import type { ConvGeometry } from '../geometry/conv.ts';
import { WORKGROUP_SIZE } from '../gpu/kernel.ts';
import { makeDispatch, placeholder, type Shader } from './dispatch.ts';
import type { Variant } from './variant.ts';
import type { ConvArgs } from './conv_direct.ts';
import { actOverrides, subgroupShader } from './conv_igemm.ts';
import d2sWgsl from '../../shaders/conv_d2s.wgsl?raw';

export const d2sShader: Shader = subgroupShader('conv_d2s', d2sWgsl);

/** Why the d2s kernel cannot take this transposed-conv geometry, or undefined. */
export function d2sUnsupported(g: ConvGeometry): string | undefined {
  const [kh, kw] = g.kernel;
  if (kh !== g.stride[0] || kw !== g.stride[1]) return `kernel ${g.kernel.join('×')} is not the stride ${g.stride.join('×')}`;
  if (g.padding[0] !== 0 || g.padding[1] !== 0) return 'padding is not 0';
  if (g.dilation[0] !== 1 || g.dilation[1] !== 1) return 'dilation is not 1';
  if (g.outSize[0] !== g.inSize[0] * kh || g.outSize[1] !== g.inSize[1] * kw) return 'output padding is not 0';
  if ((g.inSize[0] * g.inSize[1]) % 4 !== 0) return `input plane ${g.inSize.join('×')} is not a whole number of vec4s`;
  if (((g.cOut / g.groups) * kh * kw) % 4 !== 0) return `${g.cOut / g.groups} output channels per group × ${kh * kw} taps is not a multiple of 4`;
  return undefined;
}

function d2sVariant(name: string, entry: string, block: number, cols: number): Variant<ConvArgs> {
  return {
    name,
    unsupported: (caps, a) => (!caps.features.has('subgroups') ? 'no subgroups'
      : a.actGrad ? 'does not apply an activation backward as it stores (an input-gradient fusion)' : d2sUnsupported(a.g)),
    build: (d, a, io, label) => {
      const g = a.g, og = g.cOut / g.groups, mg = og * g.kernel[0] * g.kernel[1], plane = g.inSize[0] * g.inSize[1];
      const blocks = Math.ceil(mg / block), lanes = g.batch * Math.ceil(plane / cols);
      const uniform = {
        batch: g.batch, c_x: g.cIn, c_y: g.cOut, cgx: g.cIn / g.groups, og, mg, blocks, has_bias: a.bias ? 1 : 0, plane, lanes,
        in_size: g.inSize, kernel: g.kernel, out_size: g.outSize,
      };
      const workgroups = Math.ceil(lanes / 64) * g.groups * blocks;
      // A 2×2 kernel on rows of whole vec4s stores each output row's 8 values as two vec4s.
      const k2 = g.kernel[0] === 2 && g.kernel[1] === 2 && g.inSize[1] % 4 === 0;
      const common = { x4: io.x!, w4: io.w!, bias: a.bias ? io.bias! : placeholder(d) };
      return [makeDispatch(d, d2sShader, k2 ? `${entry}_k2` : entry, label, workgroups * WORKGROUP_SIZE, uniform,
        k2 ? { ...common, y4: io.y! } : { ...common, y: io.y! }, actOverrides(a))];
    },
  };
}

export const d2sVariants: Variant<ConvArgs>[] = [
  d2sVariant('d2s-r16', 'd2s_r16', 16, 16),
  d2sVariant('d2s-r32', 'd2s_r32', 32, 8),
];

