// The activation passes (forward, and backward from the saved output or, for GELU, input).
import { activationBackward, activationForward, type Activation } from './activation.ts';
import type { ActivationKind } from '../layers/activation.ts';
import { singlePass } from './variant.ts';

export interface ActArgs { kind: ActivationKind; count: number; slope: number }

/** io: x → y. */
export const activationForwardPass = singlePass<ActArgs>('activation.forward', ['x'], ['y'],
  (d, a, io, label) => [activationForward(d, a.kind as Activation, a.count, { x: io.x!, y: io.y! }, label, { negativeSlope: a.slope })]);

/** io: y (the forward output) or x (its input, for GELU), dy → dx. */
export const activationBackwardPass = singlePass<ActArgs>('activation.backward', ['x', 'y', 'dy'], ['dx'],
  (d, a, io, label) => [activationBackward(d, a.kind as Activation, a.count, { x: io.x, y: io.y, dy: io.dy!, dx: io.dx! }, label,
    { negativeSlope: a.slope })]);
