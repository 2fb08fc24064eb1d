#!/usr/bin/env node
// TensorFlow.js comparison for `kiln bench`: the seed's convolutional autoencoder trained with
// TF.js 4.22's WebGPU backend on Dawn (the `webgpu` package) in Node, on synthetic data, the way a
// TF.js user would write it (tf.sequential layers, tf.train.adam, optimizer.minimize). Prints ONE
// JSON line on stdout; everything else goes to stderr.
//
//   node bench/tfjs/bench.mjs [--batch 32] [--steps 20] [--warmup 3] [--mode minimize|trainOnBatch]
//                             [--wait throttled|spin]
//
// --mode minimize (default): optimizer.minimize(f, returnCost) each step, the cost read back only on
//   the last step — no host sync inside the timed loop, like `kiln bench`.
// --mode trainOnBatch: model.compile + await model.trainOnBatch(x, x) — reads the loss every step.
// --wait throttled (default): while a Dawn promise is pending, sleep ~1 ms per event-loop turn instead
//   of letting Node spin a core (see shared/WEBGPU-HEADLESS.md); --wait spin leaves Dawn as it is.
//
// Warm-up counts like `kiln bench`: the first warm-up step (pipeline compiles) is one of the N.
import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

function fail(message) {
  process.stderr.write(`bench/tfjs: ${message}\n`);
  process.exit(1);
}

const { values: a } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'minimize' },
    wait: { type: 'string', default: 'throttled' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  process.stderr.write('usage: node bench/tfjs/bench.mjs [--batch 32] [--steps 20] [--warmup 3] [--mode minimize|trainOnBatch] [--wait throttled|spin]\n');
  process.exit(0);
}
function int(name, min) {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(a[name])}`);
  return v;
}
const batch = int('batch', 1);
const steps = int('steps', 1);
const warmup = int('warmup', 1);
if (!['minimize', 'trainOnBatch'].includes(a.mode)) fail(`--mode must be minimize or trainOnBatch, got ${a.mode}`);
if (!['throttled', 'spin'].includes(a.wait)) fail(`--wait must be throttled or spin, got ${a.wait}`);

// ---- Vulkan driver: as src/gpu/node.ts does. With no GPU device node, point Dawn at the SwiftShader
// ICD that Debian's chromium ships; an explicit VK_ICD_FILENAMES wins. Must happen before create().
const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
function hasGpuDeviceNode() {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}
if (process.platform === 'linux' && !process.env.VK_ICD_FILENAMES
  && (process.env.KILN_ADAPTER === 'swiftshader' || !hasGpuDeviceNode())) {
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) fail('no GPU device and no SwiftShader Vulkan driver found; apt-get install -y chromium libvulkan1');
  process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
}

// ---- WebGPU globals from Dawn. `gpu` stays referenced for the whole run: if Dawn's instance is
// garbage-collected while a device lives, later awaits crash at random.
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
globalThis.navigator ??= {};
globalThis.navigator.gpu = gpu;
globalThis.__kilnBenchGpu = gpu;

// ---- Non-spinning waits: Dawn resolves promises by polling from the event loop, so a pending
// mapAsync spins the main thread at 100 % and takes a core from SwiftShader's workers. TF.js's awaits
// are out of our reach, so wrap the promise-returning Dawn methods: while any is pending, sleep ~1 ms
// per event-loop turn (the same trick as Kiln's nodeWait).
if (a.wait === 'throttled') {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let pending = 0;
  let timer;
  const throttled = async (p) => {
    if (pending++ === 0) timer = setInterval(() => Atomics.wait(sleeper, 0, 0, 1), 0);
    try {
      return await p;
    } finally {
      if (--pending === 0) clearInterval(timer);
    }
  };
  const wrap = (cls, names) => {
    for (const name of names) {
      const original = cls?.prototype?.[name];
      if (typeof original !== 'function') continue;
      cls.prototype[name] = function (...args) { return throttled(original.apply(this, args)); };
    }
  };
  wrap(globals.GPU, ['requestAdapter']);
  wrap(globals.GPUAdapter, ['requestDevice']);
  wrap(globals.GPUBuffer, ['mapAsync']);
  wrap(globals.GPUQueue, ['onSubmittedWorkDone']);
  wrap(globals.GPUDevice, ['popErrorScope', 'createComputePipelineAsync', 'createRenderPipelineAsync']);
  wrap(globals.GPUShaderModule, ['getCompilationInfo']);
}

// ---- TF.js. The WebGPU backend registers itself at import time only if navigator.gpu exists, so it
// is imported after the globals above. TF.js's Node notice ("install the node backend") is a
// console.warn — stderr — so stdout keeps its single JSON line.
const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-webgpu');
let ok = false;
try {
  ok = await tf.setBackend('webgpu');
} catch (e) {
  fail(`tf.setBackend('webgpu') threw: ${e?.message ?? e}`);
}
await tf.ready();
if (!ok || tf.getBackend() !== 'webgpu') {
  fail(`TF.js backend is '${tf.getBackend()}', not 'webgpu' (setBackend returned ${ok}); no WebGPU adapter? Refusing to benchmark a fallback.`);
}
const backend = tf.backend();
const device = backend.device;
if (!device) fail('the webgpu backend has no GPUDevice');

// Adapter name in Kiln's format (src/gpu/device.ts describeAdapter): "arch (vendor, description)".
function describeAdapter(info) {
  if (!info) return 'unknown';
  const parts = [info.vendor, info.description || info.device].filter((s) => s && s.length > 0);
  const arch = info.architecture || 'unknown';
  return parts.length > 0 ? `${arch} (${parts.join(', ')})` : arch;
}
const adapter = describeAdapter(device.adapterInfo ?? backend.adapterInfo);

// ---- The seed's CAE (PyTorch semantics; NHWC here). 7,347 parameters.
const H = 32, W = 32, C = 3;
const model = tf.sequential({
  layers: [
    tf.layers.conv2d({ inputShape: [H, W, C], filters: 16, kernelSize: 3, strides: 1, padding: 'same', activation: 'selu' }),
    tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
    tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 1, padding: 'same', activation: 'selu' }),
    tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
    tf.layers.conv2dTranspose({ filters: 16, kernelSize: 2, strides: 2, padding: 'valid', activation: 'relu' }),
    tf.layers.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 2, padding: 'valid', activation: 'sigmoid' }),
  ],
});
const params = model.countParams();
if (params !== 7347) fail(`model has ${params} parameters, expected 7347`);
const outShape = model.outputs[0].shape.slice(1).join('x');
if (outShape !== `${H}x${W}x${C}`) fail(`model output is ${outShape}, expected ${H}x${W}x${C}`);

// ---- Synthetic data, as `kiln bench`: max(batch, 256) random 8-bit images scaled to [0, 1], resident
// on the GPU, split into whole batches once; the steps cycle through them.
let seed = 1;
const rand = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32; };
const nBatches = Math.max(1, Math.floor(Math.max(batch, 256) / batch));
const batches = [];
for (let b = 0; b < nBatches; b++) {
  const px = new Float32Array(batch * H * W * C);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(rand() * 256) / 255;
  batches.push(tf.tensor4d(px, [batch, H, W, C]));
}

// ---- One training step: MSE(model(x), x), Adam lr 1e-3.
const optimizer = tf.train.adam(1e-3);
let step;
if (a.mode === 'minimize') {
  let i = 0;
  // returns a scalar loss tensor when `read` (caller disposes), else null
  step = (read) => {
    const x = batches[i++ % nBatches];
    return optimizer.minimize(() => tf.losses.meanSquaredError(x, model.apply(x)), read);
  };
} else {
  model.compile({ optimizer, loss: 'meanSquaredError' });
  let i = 0;
  step = (read) => {
    const x = batches[i++ % nBatches];
    return model.trainOnBatch(x, x).then((l) => (read ? l : null));
  };
}
// Waits for the GPU: reading the loss back maps a buffer after all queued work.
async function finish(loss) {
  if (loss == null) return NaN;
  if (typeof loss === 'number') return loss;
  const v = (await loss.data())[0];
  loss.dispose();
  return v;
}

const t0 = performance.now();
let warmLoss = await finish(await step(true));
const compileMs = performance.now() - t0;
for (let i = 1; i < warmup; i++) {
  const loss = await step(i === warmup - 1);
  if (i === warmup - 1) warmLoss = await finish(loss); // drain the warm-up before the clock starts
}

const tensorsBefore = tf.memory().numTensors;
const t1 = performance.now();
let last = NaN;
for (let i = 0; i < steps; i++) {
  const loss = await step(i === steps - 1);
  if (i === steps - 1) last = await finish(loss);
}
const seconds = (performance.now() - t1) / 1000;
if (!Number.isFinite(last)) fail(`final loss is ${last}`);

const result = {
  system: 'tfjs-4.22-webgpu',
  images_per_s: (steps * batch) / seconds,
  ms_per_step: (1000 * seconds) / steps,
  batch,
  steps,
  adapter,
  mode: a.mode,
  wait: a.wait,
  warmup,
  compile_ms: compileMs,
  loss_after_warmup: warmLoss,
  loss: last,
  params,
  tfjs: tf.version.tfjs,
  backend: tf.getBackend(),
  tensors_leaked_per_step: (tf.memory().numTensors - tensorsBefore) / steps,
};
process.stdout.write(`${JSON.stringify(result)}\n`);

// Dawn keeps the event loop alive while a device exists: close what we opened and exit.
for (const t of batches) t.dispose();
model.dispose();
optimizer.dispose();
try { device.destroy(); } catch { /* already gone */ }
process.exit(0);
