// Times every variant of every convolution pass of the seed autoencoder at batch 32 (forward with
// its fused activation, input gradient, weight/bias gradient of conv1.0, conv2.0, transconv1.0,
// transconv2.0): warm-up, then repeated submissions of the pass run back to back; prints ms and
// GFLOP/s (median, min–max over the repeats), which variants cannot run here and why, the best
// variant of each pass against the direct kernel, and the GEMM rate (measureGemm). Runs through
// Vite's module runner (shaders are imported with ?raw), from the repository root:
//   node -e "import('vite').then(v => v.runnerImport(process.cwd() + '/scripts/kernel-timing.ts', { configFile: process.cwd() + '/vite.config.ts', logLevel: 'error' }))" -- [--repeats 5] [--only conv2.0] [--variants direct,row3-r32] [--json]
// Wall time on a shared 2-core machine is noisy: the process's CPU time (÷ SwiftShader's 2 worker
// threads) is printed beside it as a steadier gauge of the work a kernel costs.
import { openNodeDevice } from '../src/gpu/node.ts';
import { conv2dGeometry, convTranspose2dGeometry, swapSides, type ConvGeometry } from '../src/geometry/conv.ts';
import { capsOf, CONV_PASSES, type ConvArgs } from '../src/ops/conv_passes.ts';
import { record, type Dispatch } from '../src/ops/dispatch.ts';
import type { Pass } from '../src/ops/variant.ts';
import { measureGemm } from '../src/ops/gemm.ts';

// Flags anywhere on the command line (with `node -e`, process.argv holds no script path).
const argv = process.argv;
const opt = (name: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
const repeats = Number(opt('repeats') ?? 5);
const only = opt('only');
const onlyVariants = opt('variants')?.split(',');
const json = argv.includes('--json');

const B = 32;
const conv1 = conv2dGeometry([B, 3, 32, 32], [16, 3, 3, 3], { padding: 1 });
const conv2 = conv2dGeometry([B, 16, 16, 16], [32, 16, 3, 3], { padding: 1 });
const tconv1 = convTranspose2dGeometry([B, 32, 8, 8], [32, 16, 2, 2], { stride: 2 });
const tconv2 = convTranspose2dGeometry([B, 16, 16, 16], [16, 3, 2, 2], { stride: 2 });

interface Job { layer: string; role: string; pass: Pass<ConvArgs>; args: ConvArgs; io: Record<string, number> }
const [fwd, tr, params, bias] = CONV_PASSES;
const size = (g: ConvGeometry, side: 'in' | 'out') => g.batch * (side === 'in' ? g.cIn * g.inSize[0] * g.inSize[1] : g.cOut * g.outSize[0] * g.outSize[1]);
const wsize = (g: ConvGeometry) => g.cOut * (g.cIn / g.groups) * g.kernel[0] * g.kernel[1];

function convJobs(layer: string, g: ConvGeometry, act: ConvArgs['act']): Job[] {
  return [
    { layer, role: 'forward', pass: fwd, args: { g, act, bias: true }, io: { x: size(g, 'in'), w: wsize(g), bias: g.cOut, y: size(g, 'out') } },
    { layer, role: 'input grad', pass: tr, args: { g: swapSides(g), bias: false }, io: { x: size(g, 'out'), w: wsize(g), y: size(g, 'in') } },
    { layer, role: 'grad_params', pass: params, args: { g, bias: true }, io: { x: size(g, 'in'), dy: size(g, 'out'), dw: wsize(g), db: g.cOut } },
  ];
}
function convTJobs(layer: string, g: ConvGeometry, act: ConvArgs['act']): Job[] {
  const s = swapSides(g);
  return [
    { layer, role: 'forward', pass: tr, args: { g, act, bias: true }, io: { x: size(g, 'in'), w: wsize(s), bias: g.cOut, y: size(g, 'out') } },
    { layer, role: 'input grad', pass: fwd, args: { g: s, bias: false }, io: { x: size(g, 'out'), w: wsize(s), y: size(g, 'in') } },
    { layer, role: 'grad_params', pass: params, args: { g: s, bias: false }, io: { x: size(g, 'out'), dy: size(g, 'in'), dw: wsize(s) } },
    { layer, role: 'grad_bias', pass: bias, args: { g, bias: true }, io: { dy: size(g, 'out'), db: g.cOut } },
  ];
}
// The seed model's activations (fused into the forward kernels' stores).
const jobs = [...convJobs('conv1.0', conv1, 'selu'), ...convJobs('conv2.0', conv2, 'selu'),
  ...convTJobs('transconv1.0', tconv1, 'relu'), ...convTJobs('transconv2.0', tconv2, 'sigmoid')].filter((j) => !only || j.layer === only);

const gpu = await openNodeDevice();
const d = gpu.device;
const caps = capsOf(d);

function buffer(floats: number, label: string, fill: boolean): GPUBuffer {
  const b = d.createBuffer({ label, size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  if (fill) d.queue.writeBuffer(b, 0, Float32Array.from({ length: floats }, (_, i) => Math.sin(i * 0.37)));
  return b;
}

async function submit(ds: Dispatch[], times: number): Promise<{ wall: number; cpu: number }> {
  const enc = d.createCommandEncoder({ label: 'timing' });
  const pass = enc.beginComputePass({ label: 'timing' });
  for (let i = 0; i < times; i++) for (const x of ds) record(pass, x);
  pass.end();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  d.queue.submit([enc.finish()]);
  await gpu.wait(d.queue.onSubmittedWorkDone());
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / times, cpu: (c.user + c.system) / 1000 / 2 / times };
}

interface Row { layer: string; role: string; pass: string; variant: string; ms?: number; min?: number; max?: number; cpuMs?: number; gflops?: number; unsupported?: string; compileMs?: number }
const rows: Row[] = [];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

for (const job of jobs) {
  const io: Record<string, GPUBuffer> = {};
  for (const [k, n] of Object.entries(job.io)) io[k] = buffer(n, `${job.layer}.${k}`, job.pass.inputs.includes(k));
  const flops = job.pass.flops(job.args);
  for (const v of job.pass.variants) {
    if (onlyVariants && !onlyVariants.includes(v.name)) continue;
    const base = { layer: job.layer, role: job.role, pass: job.pass.name, variant: v.name };
    const why = v.unsupported?.(caps, job.args);
    if (why) { rows.push({ ...base, unsupported: why }); continue; }
    const scratch = v.scratch?.(job.args) ?? 0;
    const bufs = scratch > 0 ? { ...io, scratch: buffer(scratch, 'scratch', false) } : io;
    const t0 = performance.now();
    const ds = v.build(d, job.args, bufs, `${job.layer}/${job.role}/${v.name}`);
    await submit(ds, 1);
    const compileMs = performance.now() - t0;
    // Enough back-to-back runs per submission that submission overhead (~0.1 ms) is noise.
    const probe = await submit(ds, 1);
    const times = Math.max(1, Math.min(50, Math.round(60 / Math.max(probe.wall, 0.05))));
    const walls: number[] = [], cpus: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = await submit(ds, times);
      walls.push(t.wall);
      cpus.push(t.cpu);
    }
    const ms = median(walls);
    rows.push({ ...base, ms, min: Math.min(...walls), max: Math.max(...walls), cpuMs: median(cpus), gflops: flops > 0 ? flops / ms / 1e6 : undefined, compileMs });
    scratchCleanup(bufs.scratch);
  }
  for (const b of Object.values(io)) b.destroy();
}
function scratchCleanup(b: GPUBuffer | undefined) { b?.destroy(); }

const gemm = argv.includes('--no-gemm') ? undefined : await measureGemm(d, gpu.wait);

if (json) console.log(JSON.stringify({ adapter: gpu.adapterName, batch: B, repeats, rows, gemm }));
else {
  console.log(`adapter ${gpu.adapterName}; batch ${B}; median of ${repeats} (min–max); cpu = process CPU time ÷ 2`);
  let last = '';
  for (const r of rows) {
    const head = `${r.layer} ${r.role}`;
    if (head !== last) { console.log(`\n${head} (${r.pass})`); last = head; }
    if (r.unsupported) console.log(`  ${r.variant.padEnd(14)} unsupported: ${r.unsupported}`);
    else {
      console.log(`  ${r.variant.padEnd(14)} ${r.ms!.toFixed(2).padStart(7)} ms (${r.min!.toFixed(2)}–${r.max!.toFixed(2)})  cpu ${r.cpuMs!.toFixed(2).padStart(6)} ms` +
        `${r.gflops ? `  ${r.gflops.toFixed(2).padStart(5)} GFLOP/s (cpu-based ${(r.gflops * r.ms! / r.cpuMs!).toFixed(2)})` : ''}  [build+first run ${r.compileMs!.toFixed(0)} ms]`);
    }
  }
  // The fastest variant of each pass (by median wall time, and by CPU time) against the direct kernel.
  console.log('\nbest per pass (median wall ms; by CPU time in brackets) vs direct:');
  const heads = [...new Set(rows.map((r) => `${r.layer} ${r.role}`))];
  let bestTotal = 0, directTotal = 0, cpuBestTotal = 0, cpuDirectTotal = 0;
  for (const h of heads) {
    const ran = rows.filter((r) => `${r.layer} ${r.role}` === h && r.ms !== undefined);
    const direct = ran.find((r) => r.variant === 'direct');
    const best = [...ran].sort((a, b) => a.ms! - b.ms!)[0];
    const bestCpu = [...ran].sort((a, b) => a.cpuMs! - b.cpuMs!)[0];
    if (!best || !bestCpu) continue;
    bestTotal += best.ms!; cpuBestTotal += bestCpu.cpuMs!;
    if (direct) { directTotal += direct.ms!; cpuDirectTotal += direct.cpuMs!; }
    const gf = (r: Row) => (r.gflops ? ` ${r.gflops.toFixed(2)} GFLOP/s` : '');
    console.log(`  ${h.padEnd(26)} ${best.variant.padEnd(14)} ${best.ms!.toFixed(2).padStart(7)} ms${gf(best)}  [cpu: ${bestCpu.variant} ${bestCpu.cpuMs!.toFixed(2)} ms]` +
      (direct ? `   direct ${direct.ms!.toFixed(2)} ms${gf(direct)} [cpu ${direct.cpuMs!.toFixed(2)} ms]` : ''));
  }
  console.log(`  total: best ${bestTotal.toFixed(1)} ms (cpu ${cpuBestTotal.toFixed(1)} ms), direct ${directTotal.toFixed(1)} ms (cpu ${cpuDirectTotal.toFixed(1)} ms)`);
  if (gemm) console.log(`\ngemm ${gemm.shape.join('×')} ${gemm.variant}: ${gemm.gflops.toFixed(2)} GFLOP/s`);
}
gpu.close();
process.exit(0);
