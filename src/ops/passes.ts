// The pass table: every pass a graph node may name, keyed by name. Layer records (src/layers/)
// refer to passes by these names and type their arguments through `PassArgs`, importing only
// types from here, so shape inference never loads WGSL. The runner resolves names to passes.
import { gatherPass } from './gather.ts';
import { convForwardPass, convTransposedPass, convGradParamsPass, convGradBiasPass } from './conv_passes.ts';
import { maxpoolBackwardActPass, maxpoolForwardPass, maxpoolBackwardPass } from './maxpool2d.ts';
import { activationForwardPass, activationBackwardPass } from './activation_passes.ts';
import { lossDispatches, lossParts, lossPrepare, type LossArgs } from './loss.ts';
import { adamPass } from './adam.ts';
import { sgdPass } from './sgd.ts';
import { guardCheckPass, guardRestorePass, guardSavePass } from './guard.ts';
import {
  avgpoolBackwardPass, avgpoolForwardPass, batchnormBackwardPass, batchnormEvalPass, batchnormTrainPass, dropoutBackwardPass,
  dropoutForwardPass, upsampleBackwardPass, upsampleForwardPass,
} from './layer_passes.ts';
import type { Pass } from './variant.ts';

/**
 * The loss fused with its gradient (and, for evaluation, the correct-prediction count); its
 * partial sums are scratch sized by the pass itself, so the graph needs no kernel knowledge.
 */
const lossPass: Pass<LossArgs> = {
  name: 'loss', inputs: ['y', 'target'], outputs: ['loss', 'dy', 'correct'],
  key: (a) => JSON.stringify(a), flops: () => 0,
  variants: [{
    name: 'direct', scratch: lossParts,
    build: (d, a, io, label) => lossDispatches(d, a,
      { y: io.y!, target: io.target!, dy: io.dy, partials: io.scratch!, loss: io.loss!, correct: io.correct }, label),
  }],
  perStep: (d, ds, a, s) => lossPrepare(d, ds, a, { lossIndex: s.lossSlot, rows: s.rows }),
};

export const PASSES = {
  'data.gather': gatherPass,
  'conv.forward': convForwardPass,
  'conv.transposed': convTransposedPass,
  'conv.grad_params': convGradParamsPass,
  'conv.grad_bias': convGradBiasPass,
  'maxpool2d.forward': maxpoolForwardPass,
  'maxpool2d.backward': maxpoolBackwardPass,
  'maxpool2d.backward_act': maxpoolBackwardActPass,
  'activation.forward': activationForwardPass,
  'activation.backward': activationBackwardPass,
  'avgpool2d.forward': avgpoolForwardPass,
  'avgpool2d.backward': avgpoolBackwardPass,
  'upsample.forward': upsampleForwardPass,
  'upsample.backward': upsampleBackwardPass,
  'dropout.forward': dropoutForwardPass,
  'dropout.backward': dropoutBackwardPass,
  'batchnorm2d.train': batchnormTrainPass,
  'batchnorm2d.eval': batchnormEvalPass,
  'batchnorm2d.backward': batchnormBackwardPass,
  'loss': lossPass,
  'optimizer.adam': adamPass,
  'optimizer.sgd': sgdPass,
  'guard.check': guardCheckPass,
  'guard.save': guardSavePass,
  'guard.restore': guardRestorePass,
} as const;

export type PassTable = typeof PASSES;
export type PassName = keyof PassTable;
export type PassArgs = { [K in PassName]: PassTable[K] extends Pass<infer A> ? A : never };

export function passOf(name: PassName): Pass<unknown> {
  const p = PASSES[name] as Pass<unknown> | undefined;
  if (!p) throw new Error(`no pass '${name}'`);
  return p;
}
