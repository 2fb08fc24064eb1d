// The non-finite guard's passes (see shaders/guard.wgsl): check a tensor, snapshot the state before
// the step (the first snapshot also opens the step's status slot), restore it after a flagged step
// (the last restore also settles the halt).
import guardWgsl from '../../shaders/guard.wgsl?raw';
import { makeDispatch, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const guardShader = shader('guard', guardWgsl);

/**
 * `atSlot`: check the element at this step's ring slot (the loss) instead of elements 0…count−1.
 * `opens`: a save that also opens the step's status slot; `settles`: a restore that also settles the halt.
 */
export interface GuardArgs { count: number; code: number; sticky: boolean; atSlot?: boolean; opens?: boolean; settles?: boolean }

const uniform = (a: GuardArgs, slot: number) => ({
  count: a.count, status_index: 2 * slot, code: a.code, sticky: a.sticky ? 1 : 0, offset: a.atSlot ? slot : 0,
  also: (a.opens ? 1 : 0) | (a.settles ? 2 : 0),
});
const perStep = (device: GPUDevice, [d]: readonly Dispatch[], a: GuardArgs, s: { lossSlot: number }) => writeUniform(device, d!, uniform(a, s.lossSlot));

/** Whole vec4s (and not the loss's one slot): the *4 entries, on vec4 bindings (guard.wgsl). */
const vec4s = (a: GuardArgs) => !a.atSlot && a.count % 4 === 0;
const VEC4_NAMES: Record<string, string> = { values: 'values4', src: 'src4', dst: 'dst4' };

const entry = (name: string, e: string, inputs: string[], outputs: string[], invocations: (a: GuardArgs) => number, hasVec4 = false) =>
  singlePass<GuardArgs>(name, inputs, outputs, (device, a, io, label) => {
    if (hasVec4 && vec4s(a)) {
      const b = Object.fromEntries(Object.entries(io).map(([k, v]) => [VEC4_NAMES[k] ?? k, v]));
      return [makeDispatch(device, guardShader, `${e}4`, label, a.count / 4, uniform(a, 0), b)];
    }
    return [makeDispatch(device, guardShader, e, label, invocations(a), uniform(a, 0), io)];
  }, { perStep });

/** io: values → status. */
export const guardCheckPass = entry('guard.check', 'check', ['values'], ['status'], (a) => a.count, true);
/** io: src, halt → dst (the snapshot), status (opened when args.opens). */
export const guardSavePass = entry('guard.save', 'save', ['src', 'halt'], ['dst', 'status'], (a) => a.count, true);
/** io: src (the snapshot), status, halt → dst (the live state), halt (settled when args.settles). */
export const guardRestorePass = entry('guard.restore', 'restore', ['src', 'status', 'halt'], ['dst', 'halt'], (a) => a.count, true);
