// The autotuner: for every (pass, shape) of a plan that has several kernel variants, time each one
// that can run on this device (warm-up, then repeated runs timed by timestamp queries, or by wall
// clock around onSubmittedWorkDone when the adapter has none), check its output against the
// default variant's, and keep the fastest correct one. Choices are cached per adapter, so a second
// run starts at once. Nothing here knows a particular kernel: passes list their variants.
import type { Gpu } from '../gpu/device.ts';
import type { Graph, Node } from '../graph/graph.ts';
import type { Binding } from '../gpu/kernel.ts';
import { record, type Dispatch } from '../ops/dispatch.ts';
import { passOf } from '../ops/passes.ts';
import { capsOf, type DeviceCaps, type Pass, type Variant } from '../ops/variant.ts';
import type { Choose } from '../run/lower.ts';
import { adapterSignature, type TuneCache } from './cache.ts';

export type TuneMode = 'full' | 'cached' | 'off';

/** One (pass, shape): every candidate's time in ms (or why it was not timed), and the one chosen. */
export interface TuneEntry {
  pass: string;
  key: string;
  /** Nodes of the plan it serves (layer/pass labels). */
  labels: string[];
  chosen: string;
  /** 'cached' when the choice came from the cache, 'default' when not measured (off, or out of budget). */
  source: 'measured' | 'cached' | 'default';
  times: Record<string, number | string>;
  flops: number;
}

export interface TuneOptions {
  mode: TuneMode;
  cache?: TuneCache;
  /** Stop measuring new shapes after this long; the rest use the cache or the defaults. */
  budgetMs?: number;
  onEntry?: (e: TuneEntry) => void;
}

export interface TuneResult { choose: Choose; entries: TuneEntry[]; ms: number }

const cacheKey = (pass: string, key: string) => `${pass}|${key}`;
const now = () => performance.now();

/** Chooses a variant for every node of `graphs` (a trainer's step and its evaluation share choices). */
export async function tune(gpu: Gpu, graphs: Graph[], o: TuneOptions): Promise<TuneResult> {
  const t0 = now();
  const groups = new Map<string, { pass: Pass<unknown>; node: Node; graph: Graph; labels: string[] }>();
  for (const graph of graphs) {
    for (const n of graph.nodes) {
      const pass = passOf(n.pass);
      if (pass.variants.length < 2) continue;
      const k = cacheKey(n.pass, pass.key(n.args));
      const g = groups.get(k);
      if (g) g.labels.push(n.label);
      else groups.set(k, { pass, node: n, graph, labels: [n.label] });
    }
  }
  const sig = o.cache ? await adapterSignature(gpu) : '';
  const cached = o.cache && o.mode !== 'off' ? await o.cache.load(sig) : {};
  const choices = new Map<string, string>();
  const entries: TuneEntry[] = [];
  // The most work first, so a budget that runs out leaves only the cheap passes untuned.
  const ordered = [...groups.entries()].sort(([, a], [, b]) => b.pass.flops(b.node.args) - a.pass.flops(a.node.args));
  const caps = capsOf(gpu.device);
  const deadline = o.budgetMs === undefined ? undefined : t0 + o.budgetMs;
  const spent = () => deadline !== undefined && now() > deadline;
  // Variants built for this kind of adapter first; the others in a last round, budget permitting.
  const preferred = (v: Variant<unknown>) => !v.prefers || (v.prefers === 'software') === gpu.isSoftware;
  type Round = { entry: TuneEntry; k: string; group: { pass: Pass<unknown>; node: Node; graph: Graph }; reference?: Float32Array[]; rest: Variant<unknown>[] };
  const rounds: Round[] = [];
  // Round 1, every pass (the most work first): the default and the first QUICK candidates it
  // supports, in the pass's order (kernels specialised to a shape first). So every pass gets its
  // likely winners before any pass times the rest: left on its default, a small pass late in the
  // order can cost more than a large one (the seed's last transposed conv: 11 ms direct, 1.5 ms
  // depth-to-space). Only a pass not started within the budget keeps its default.
  for (const [k, group] of ordered) {
    const { pass, node, labels } = group;
    const base = { pass: pass.name, key: pass.key(node.args), labels, flops: pass.flops(node.args) };
    const hit = cached[k];
    const usable = (name: string | undefined) => {
      const v = pass.variants.find((x) => x.name === name);
      return v !== undefined && !v.unsupported?.(caps, node.args);
    };
    let entry: TuneEntry;
    if (o.mode === 'off') entry = { ...base, chosen: pass.variants[0]!.name, source: 'default', times: {} };
    else if (o.mode === 'cached' && hit && usable(hit.chosen)) entry = { ...base, chosen: hit.chosen, source: 'cached', times: hit.times };
    else if (spent()) entry = { ...base, chosen: pass.variants[0]!.name, source: 'default', times: { note: 'tuning budget spent' } };
    else {
      const all = pass.variants.filter((v, i) => i === 0 || preferred(v));
      const first = quickLook(all, caps, node.args);
      const m = await measure(gpu, group.graph, node, first, {});
      entry = { ...base, chosen: fastest(m.times, pass), source: 'measured', times: m.times };
      rounds.push({ entry, k, group, reference: m.reference, rest: all.filter((v) => !first.includes(v)) });
    }
    entries.push(entry);
  }
  // More candidates for a measured pass, checked against its default's output; past the budget
  // they stop between candidates (each costs a pipeline compile and its runs: up to a second or so
  // on a software adapter), and those left are marked. The choice is cached as it stands.
  const more = async (r: Round, vs: Variant<unknown>[]) => {
    if (vs.length === 0) return;
    const m = await measure(gpu, r.group.graph, r.group.node, vs, { reference: r.reference, times: r.entry.times, deadline });
    Object.assign(r.entry.times, m.times);
    r.entry.chosen = fastest(r.entry.times, r.group.pass);
  };
  // Round 2, close calls, the slowest passes first: where a pass's two fastest candidates are
  // within CLOSE of each other, one slow moment of a shared machine (a software adapter runs on
  // the CPU) during one of them could have decided it. Budget permitting, the two are timed again
  // (in alternating order, the slower first), and each keeps its best time: noise only ever adds
  // to a time. Before the rest of the candidates: the first round's likely winners are the pairs
  // that decide most (one retime each keeps the round to about 2 s on SwiftShader; two left the
  // general kernels of the largest passes untimed).
  for (const r of [...rounds].sort((a, b) => best(b.entry.times) - best(a.entry.times))) {
    const pair = closePair(r.entry.times);
    if (!pair || spent()) continue;
    const vs = pair.map((name) => r.group.pass.variants.find((v) => v.name === name)!);
    for (let i = 0; i < RETIMES && !spent(); i++) {
      const m = await measure(gpu, r.group.graph, r.group.node, i % 2 === 0 ? [...vs].reverse() : vs, { reference: r.reference });
      for (const v of vs) {
        const t = m.times[v.name];
        if (typeof t === 'number') r.entry.times[v.name] = Math.min(r.entry.times[v.name] as number, t);
      }
    }
    r.entry.chosen = fastest(r.entry.times, r.group.pass);
  }
  // Round 3: the rest of this kind of adapter's candidates, pass by pass.
  for (const r of rounds) await more(r, r.rest);
  // Round 4: the other kind of adapter's kernels.
  for (const r of rounds) await more(r, r.group.pass.variants.filter((v, i) => i > 0 && !preferred(v)));
  for (const r of rounds) cached[r.k] = { chosen: r.entry.chosen, times: r.entry.times };
  for (const [e, [k]] of entries.map((e, i) => [e, ordered[i]!] as const)) {
    choices.set(k, e.chosen);
    o.onEntry?.(e);
  }
  if (o.cache && o.mode !== 'off' && entries.some((e) => e.source === 'measured')) await o.cache.save(sig, cached);
  const choose: Choose = (n) => {
    const pass = passOf(n.pass);
    return pass.variants.length < 2 ? undefined : choices.get(cacheKey(n.pass, pass.key(n.args)));
  };
  return { choose, entries, ms: now() - t0 };
}

/**
 * Which timestamps run r of `runs` back-to-back passes writes: the first pass its beginning (index
 * 0), the last its end (1); a single run both. Undefined for the passes in between.
 */
export function stampsOf(r: number, runs: number): { beginningOfPassWriteIndex?: number; endOfPassWriteIndex?: number } | undefined {
  if (r !== 0 && r !== runs - 1) return undefined;
  return { ...(r === 0 ? { beginningOfPassWriteIndex: 0 } : {}), ...(r === runs - 1 ? { endOfPassWriteIndex: 1 } : {}) };
}

/** Timed submissions per candidate (its best counts). */
const SAMPLES = 3;

/** Candidates every pass times in the first round, after its default. */
const QUICK = 2;

/** The default, then the first QUICK candidates of `vs` that can run `args` here (unsupported ones are still reported). */
function quickLook(vs: Variant<unknown>[], caps: DeviceCaps, args: unknown): Variant<unknown>[] {
  let left = QUICK;
  return vs.filter((v, i) => i === 0 || v.unsupported?.(caps, args) !== undefined || left-- > 0);
}

/** Two candidates this close (the slower at most 15 % over the faster) are timed again, this many more times each. */
const CLOSE = 1.15;
const RETIMES = 1;

const timed = (times: Record<string, number | string>) =>
  Object.entries(times).filter((e): e is [string, number] => typeof e[1] === 'number').sort((a, b) => a[1] - b[1]);

/** The lowest time (Infinity when none was timed). */
const best = (times: Record<string, number | string>) => timed(times)[0]?.[1] ?? Infinity;

/** The two fastest candidates' names when they are a close call, else undefined. */
export function closePair(times: Record<string, number | string>): [string, string] | undefined {
  const [a, b] = timed(times);
  return a && b && b[1] <= CLOSE * a[1] ? [a[0], b[0]] : undefined;
}

/** The variant with the lowest time (the default when none was timed). */
function fastest(times: Record<string, number | string>, pass: Pass<unknown>): string {
  const ok = Object.entries(times).filter((e): e is [string, number] => typeof e[1] === 'number');
  return ok.reduce((a, b) => (b[1] < a[1] ? b : a), ok[0] ?? [pass.variants[0]!.name, 0])[0];
}

/**
 * Runs `variants` of `node`'s pass on seeded random inputs; ms per run, or why one was dropped.
 * The first output computed (or `prior.reference`, from an earlier round) is what the others are
 * checked against, so the default variant must come first in the first round.
 */
async function measure(gpu: Gpu, graph: Graph, node: Node, variants: Variant<unknown>[],
  prior: { reference?: Float32Array[]; times?: Record<string, number | string>; deadline?: number }): Promise<{ times: Record<string, number | string>; reference?: Float32Array[] }> {
  const device = gpu.device;
  const caps = capsOf(device);
  const made: GPUBuffer[] = [];
  const buffer = (label: string, bytes: number, data?: Float32Array) => {
    const b = device.createBuffer({ label: `tune/${label}`, size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    if (data) device.queue.writeBuffer(b, 0, data);
    made.push(b);
    return b;
  };
  // Inputs: deterministic values in [−1, 1); outputs: fresh buffers per variant (compared after).
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  };
  const random = (n: number) => Float32Array.from({ length: n }, next);
  const inputs: Record<string, Binding> = {};
  for (const [name, t] of Object.entries(node.reads)) {
    const bytes = graph.info(t).bytes;
    inputs[name] = buffer(`${node.label}/${name}`, bytes, random(Math.ceil(bytes / 4)));
  }
  const outNames = Object.keys(node.writes).filter((n) => n !== 'scratch' && n !== 'stage');
  const times: Record<string, number | string> = {};
  let reference = prior.reference;
  // The reference (default) variant runs once first, for its output; it is timed properly only at
  // the end, and only if that rough first time says it could win (it is often by far the slowest).
  let rough: Variant<unknown> | undefined;
  try {
    for (const v of variants) {
      const why = v.unsupported?.(caps, node.args);
      if (why) { times[v.name] = `unsupported: ${why}`; continue; }
      // Past the budget (the rounds after the first) a pass stops between candidates, not after
      // all of them: each costs a pipeline compile and its runs, up to a second or so on a
      // software adapter.
      if (reference && prior.deadline !== undefined && now() > prior.deadline) { times[v.name] = 'not timed: tuning budget spent'; continue; }
      try {
        const best = Math.min(...[...Object.values(times), ...Object.values(prior.times ?? {})].filter((t): t is number => typeof t === 'number'));
        const r = await timeVariant(gpu, node, v, inputs, outNames, (n, bytes) => buffer(`${node.label}/${v.name}/${n}`, bytes), graph, reference ? best : 0);
        if (!reference) { reference = r.outputs; rough = v; }
        else {
          const bad = compare(r.outputs, reference);
          if (bad) { times[v.name] = `wrong: ${bad}`; continue; }
        }
        times[v.name] = r.ms;
      } catch (e) {
        times[v.name] = `failed: ${(e as Error).message.split('\n')[0]}`;
        if (!reference) break; // without the default's output there is nothing to check against
      }
    }
    const others = Object.entries(times).filter((e): e is [string, number] => typeof e[1] === 'number' && e[0] !== rough?.name).map((e) => e[1]);
    if (rough && (others.length === 0 || (times[rough.name] as number) <= 2 * Math.min(...others))) {
      times[rough.name] = (await timeVariant(gpu, node, rough, inputs, outNames, (n, bytes) => buffer(`${node.label}/${rough!.name}/again/${n}`, bytes), graph, Infinity)).ms;
    }
  } finally {
    for (const b of made) b.destroy();
  }
  return { times, reference };
}

/** Largest difference relative to the reference's scale; a message when past tolerance. */
function compare(got: Float32Array[], want: Float32Array[]): string | undefined {
  for (let k = 0; k < want.length; k++) {
    const a = got[k]!, b = want[k]!;
    let scale = 0, worst = 0;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (!(d <= worst)) worst = d; // NaN counts as worst
    }
    if (!(worst <= 1e-3 * scale + 1e-5)) return `output ${k} differs by ${worst.toExponential(2)} (scale ${scale.toExponential(2)})`;
  }
  return undefined;
}

/** `best`: the fastest time so far; a candidate whose first timed run is 2× slower is not timed further. */
async function timeVariant(gpu: Gpu, node: Node, v: Variant<unknown>, inputs: Record<string, Binding>, outNames: string[],
  buffer: (name: string, bytes: number) => GPUBuffer, graph: Graph, best: number): Promise<{ ms: number; outputs: Float32Array[] }> {
  const device = gpu.device;
  const io: Record<string, Binding> = { ...inputs };
  const outs = outNames.map((n) => (io[n] = buffer(n, graph.info(node.writes[n]!).bytes)));
  const scratch = v.scratch?.(node.args) ?? 0;
  if (scratch > 0) io.scratch = buffer('scratch', scratch * 4);
  const stage = v.stage?.(node.args) ?? 0;
  if (stage > 0) io.stage = buffer('stage', stage * 4);
  for (const f of ['validation', 'out-of-memory', 'internal'] as const) device.pushErrorScope(f);
  let dispatches: Dispatch[] = [];
  let thrown: unknown;
  try {
    dispatches = v.build(device, node.args, io, `tune/${node.label}/${v.name}`);
    passOf(node.pass).perStep?.(device, dispatches, node.args, { step: 1, batchBase: 0, lossSlot: 0, rows: 1 });
  } catch (e) {
    thrown = e;
  }
  // The scopes are popped whatever happened; a GPU error names the real cause, so it wins.
  const errors = await gpu.wait(Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]));
  const e = errors.find((x) => x !== null);
  if (e) throw new Error(e.message);
  if (thrown) throw thrown;
  // The candidate's uniform buffers live only as long as its timing (a tuning run builds hundreds).
  try {
    const submit = (runs: number, stamps?: GPUQuerySet) => {
      const enc = device.createCommandEncoder({ label: `tune/${v.name}` });
      for (let r = 0; r < runs; r++) {
        const at = stamps && stampsOf(r, runs);
        const pass = enc.beginComputePass(at ? { timestampWrites: { querySet: stamps, ...at } } : {});
        for (const d of dispatches) record(pass, d);
        pass.end();
      }
      return enc;
    };
    // Warm-up (pipelines finish compiling on first use), timed by wall clock to size the rest, and
    // the output to check. A candidate already 2× slower than the best is not timed further.
    const warm = now();
    device.queue.submit([submit(1).finish()]);
    await gpu.wait(device.queue.onSubmittedWorkDone());
    const per = now() - warm;
    const outputs: Float32Array[] = [];
    // Float outputs are checked; an argmax is not: variants round differently, so a near tie in a
    // pool window may go either way (the pooled value itself is checked).
    for (const [i, o] of outs.entries()) if (graph.info(node.writes[outNames[i]!]!).dtype === 'f32') outputs.push(await read(gpu, o));
    if (per > 2 * best) return { ms: per, outputs };
    // SAMPLES separate submissions of about 15 ms of runs in all; the best one counts. Contention
    // for a software adapter's CPU (a compile or a collection in this process, another process)
    // only ever adds time, so the best short sample is nearer the kernel's own time than one long
    // mean; a longer slow spell is what the close-call round is for.
    const runs = Math.max(1, Math.min(50, Math.ceil(15 / SAMPLES / Math.max(per, 0.01))));
    const sample = async (): Promise<number> => {
      if (!device.features.has('timestamp-query')) {
        const t = now();
        device.queue.submit([submit(runs).finish()]);
        await gpu.wait(device.queue.onSubmittedWorkDone());
        return (now() - t) / runs;
      }
      const q = device.createQuerySet({ type: 'timestamp', count: 2, label: 'tune/stamps' });
      const resolve = buffer('stamps', 16);
      const enc = submit(runs, q);
      const rb = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'tune/resolve' });
      enc.resolveQuerySet(q, 0, 2, rb, 0);
      enc.copyBufferToBuffer(rb, 0, resolve, 0, 16);
      device.queue.submit([enc.finish()]);
      const t = new BigUint64Array((await read(gpu, resolve)).buffer);
      q.destroy();
      rb.destroy();
      const ms = Number(t[1]! - t[0]!) / 1e6 / runs;
      return ms > 0 ? ms : per; // some adapters quantise stamps to nothing on tiny passes
    };
    let ms = Infinity;
    for (let i = 0; i < SAMPLES; i++) ms = Math.min(ms, await sample());
    return { ms, outputs };
  } finally {
    for (const d of dispatches) d.uniform?.destroy();
  }
}

async function read(gpu: Gpu, b: GPUBuffer): Promise<Float32Array> {
  const device = gpu.device;
  const staging = device.createBuffer({ label: 'tune/read', size: b.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(b, 0, staging, 0, b.size);
  device.queue.submit([enc.finish()]);
  await gpu.wait(staging.mapAsync(GPUMapMode.READ));
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}
