// Passes of the single-kernel layers (pools, upsampling, dropout, batch normalisation): thin
// adapters from a node's named tensors to each op binding.
import type { PoolGeometry } from '../geometry/pool.ts';
import type { UpsampleGeometry } from '../geometry/upsample.ts';
import { avgpool2dBackward, avgpool2dForward } from './avgpool2d.ts';
import { upsampleBackward, upsampleForward } from './upsample.ts';
import { dropoutBackward, dropoutForward, dropoutPrepare } from './dropout.ts';
import {
  batchnorm2dBackward, batchnorm2dForwardEval, batchnorm2dForwardTrain, batchnorm2dGeometry, batchnorm2dPrepare,
  batchnorm2dScratchSize,
} from './batchnorm2d.ts';
import { singlePass, type Pass } from './variant.ts';

export interface AvgPoolArgs { g: PoolGeometry; countIncludePad: boolean }

export const avgpoolForwardPass = singlePass<AvgPoolArgs>('avgpool2d.forward', ['x'], ['y'],
  (d, a, io, label) => [avgpool2dForward(d, { ...a.g, countIncludePad: a.countIncludePad }, { x: io.x!, y: io.y! }, label)]);
export const avgpoolBackwardPass = singlePass<AvgPoolArgs>('avgpool2d.backward', ['dy'], ['dx'],
  (d, a, io, label) => [avgpool2dBackward(d, { ...a.g, countIncludePad: a.countIncludePad }, { dy: io.dy!, dx: io.dx! }, label)]);

export const upsampleForwardPass = singlePass<UpsampleGeometry>('upsample.forward', ['x'], ['y'],
  (d, g, io, label) => [upsampleForward(d, g, { x: io.x!, y: io.y! }, label)]);
export const upsampleBackwardPass = singlePass<UpsampleGeometry>('upsample.backward', ['dy'], ['dx'],
  (d, g, io, label) => [upsampleBackward(d, g, { dy: io.dy!, dx: io.dx! }, label)]);

/** `salt` tells layers apart; the mask of step s depends only on (seed, s, salt, element). */
export interface DropoutArgs { count: number; p: number; seed: number; salt: number }
const dropoutStep: Pass<DropoutArgs>['perStep'] = (d, ds, a, s) => dropoutPrepare(d, ds, a.count, a, s.step);

export const dropoutForwardPass = singlePass<DropoutArgs>('dropout.forward', ['x'], ['y'],
  (d, a, io, label) => [dropoutForward(d, a.count, a, { x: io.x!, y: io.y! }, label)], { perStep: dropoutStep });
export const dropoutBackwardPass = singlePass<DropoutArgs>('dropout.backward', ['dy'], ['dx'],
  (d, a, io, label) => [dropoutBackward(d, a.count, a, { dy: io.dy!, dx: io.dx! }, label)], { perStep: dropoutStep });

/** `momentum` null is PyTorch's cumulative average: 1 / num_batches_tracked, set per step. */
export interface BatchNormArgs { shape: [number, number, number, number]; eps: number; momentum: number | null; affine: boolean }

const bn = (a: BatchNormArgs) => ({ geo: batchnorm2dGeometry(a.shape), o: { eps: a.eps, affine: a.affine, momentum: a.momentum ?? 1 } });

export const batchnormTrainPass: Pass<BatchNormArgs> = {
  name: 'batchnorm2d.train', inputs: ['x', 'weight', 'bias', 'running_mean', 'running_var'], outputs: ['y', 'saved', 'running_mean', 'running_var'],
  key: (a) => JSON.stringify(a), flops: () => 0,
  variants: [{
    name: 'direct', scratch: (a) => batchnorm2dScratchSize(bn(a).geo),
    build: (d, a, io, label) => batchnorm2dForwardTrain(d, bn(a).geo, bn(a).o, { x: io.x!, y: io.y!, weight: io.weight, bias: io.bias,
      scratch: io.scratch!, saved: io.saved!, runningMean: io.running_mean!, runningVar: io.running_var! }, label),
  }],
  perStep: (d, ds, a, s) => batchnorm2dPrepare(d, ds, bn(a).geo, bn(a).o, a.momentum ?? 1 / Math.max(1, s.tracked ?? s.step)),
};

export const batchnormEvalPass = singlePass<BatchNormArgs>('batchnorm2d.eval', ['x', 'weight', 'bias', 'running_mean', 'running_var'], ['y'],
  (d, a, io, label) => [batchnorm2dForwardEval(d, bn(a).geo, bn(a).o, { x: io.x!, y: io.y!, weight: io.weight, bias: io.bias,
    runningMean: io.running_mean!, runningVar: io.running_var! }, label)]);

export const batchnormBackwardPass: Pass<BatchNormArgs> = {
  name: 'batchnorm2d.backward', inputs: ['x', 'dy', 'saved', 'weight'], outputs: ['dx', 'dweight', 'dbias', 'saved'],
  key: (a) => JSON.stringify(a), flops: () => 0,
  variants: [{
    name: 'direct', scratch: (a) => batchnorm2dScratchSize(bn(a).geo),
    build: (d, a, io, label) => batchnorm2dBackward(d, bn(a).geo, bn(a).o, { x: io.x!, dy: io.dy!, dx: io.dx!, weight: io.weight,
      dweight: io.dweight, dbias: io.dbias, scratch: io.scratch!, saved: io.saved! }, label),
  }],
};
