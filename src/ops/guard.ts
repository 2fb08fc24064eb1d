// The non-finite guard's passes (see shaders/guard.wgsl): check a tensor, snapshot the state before
// the step (the first snapshot also opens the step's status slot), restore it after a flagged step
// (the last restore also settles the halt).
import guardWgsl from '../../shaders/guard.wgsl?raw';
import type { Binding } from '../gpu/kernel.ts';
import { makeDispatch, placeholder, placeholderOut, shader, writeUniform, type Dispatch } from './dispatch.ts';
import { singlePass } from './variant.ts';

export const guardShader = shader('guard', guardWgsl);

/**
 * `atSlot`: check the element at this step's ring slot (the loss) instead of elements 0…count−1.
 * `counts`: save and restore: the elements of each tensor copied (up to three, multiples of 4).
 * `opens`: a save that also opens the step's status slot; `settles`: a restore that also settles the halt.
 */
export interface GuardArgs {
  count: number; code: number; sticky: boolean; atSlot?: boolean; counts?: number[]; opens?: boolean; settles?: boolean;
}

/** The most tensors one save or restore copies: 3 pairs + status + halt = WebGPU's default 8 storage buffers a stage. */
export const GUARD_COPY_MAX = 3;

const uniform = (a: GuardArgs, slot: number) => ({
  count: a.count, status_index: 2 * slot, code: a.code, sticky: a.sticky ? 1 : 0, offset: a.atSlot ? slot : 0,
  also: (a.opens ? 1 : 0) | (a.settles ? 2 : 0), n: [0, 1, 2].map((k) => (a.counts?.[k] ?? 0) / 4),
});
const perStep = (device: GPUDevice, [d]: readonly Dispatch[], a: GuardArgs, s: { lossSlot: number }) => writeUniform(device, d!, uniform(a, s.lossSlot));

/** io: values → status. Four elements an invocation when the count allows (and it is not the loss's one slot). */
export const guardCheckPass = singlePass<GuardArgs>('guard.check', ['values'], ['status'], (device, a, io, label) => [
  !a.atSlot && a.count % 4 === 0
    ? makeDispatch(device, guardShader, 'check4', label, a.count / 4, uniform(a, 0), { values4: io.values!, status: io.status! })
    : makeDispatch(device, guardShader, 'check', label, a.count, uniform(a, 0), io)], { perStep });

/**
 * Copies src0.. to dst0.. (up to three tensors, in one dispatch); the status and halt words as the
 * entry needs them. Missing pairs bind placeholders, distinct ones for the writes (WebGPU lets no
 * dispatch write a buffer it also reads, or bind one writable buffer twice).
 */
function copies(e: 'save' | 'restore') {
  return (device: GPUDevice, a: GuardArgs, io: Record<string, Binding>, label: string): Dispatch[] => {
    const counts = a.counts ?? [];
    if (counts.length < 1 || counts.length > GUARD_COPY_MAX || counts.some((c) => c % 4 !== 0)) {
      throw new Error(`${label}: ${e} copies 1 to ${GUARD_COPY_MAX} tensors of whole vec4s, got [${counts.join(', ')}] elements`);
    }
    const b: Record<string, Binding> = { status: io.status!, halt: io.halt! };
    for (let k = 0; k < GUARD_COPY_MAX; k++) {
      b[`s${k}`] = k < counts.length ? io[`src${k}`]! : placeholder(device);
      b[`d${k}`] = k < counts.length ? io[`dst${k}`]! : placeholderOut(device, k - counts.length);
    }
    return [makeDispatch(device, guardShader, e, label, Math.ceil(counts.reduce((x, c) => x + c / 4, 0) / 16), uniform(a, 0), b)];
  };
}

const pairs = (side: 'src' | 'dst') => Array.from({ length: GUARD_COPY_MAX }, (_, k) => `${side}${k}`);

/** io: src0.., halt → dst0.. (the snapshots), status (opened when args.opens). */
export const guardSavePass = singlePass<GuardArgs>('guard.save', [...pairs('src'), 'halt'], [...pairs('dst'), 'status'], copies('save'), { perStep });
/** io: src0.. (the snapshots), status, halt → dst0.. (the live state), halt (settled when args.settles). */
export const guardRestorePass = singlePass<GuardArgs>('guard.restore', [...pairs('src'), 'status', 'halt'], [...pairs('dst'), 'halt'], copies('restore'), { perStep });
