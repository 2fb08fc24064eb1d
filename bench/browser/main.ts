// `kiln bench --browser`: the same benchmark as in Node (src/bench/run.ts), in the page's WebGPU.
// Options arrive in the URL hash as JSON; the result is logged as one `kiln-bench {…}` console line.
import { buildModel, indexedDbCache, openBrowserDevice, runBench, type ModelSpec } from '../../src/index.ts';

const { spec, options } = JSON.parse(decodeURIComponent(location.hash.slice(1))) as { spec: ModelSpec; options: Parameters<typeof runBench>[2] };
const out = document.querySelector('#out')!;
try {
  const gpu = await openBrowserDevice({ timestamps: true });
  const result = await runBench(gpu, buildModel(spec, 'bench model'), { ...options, cache: indexedDbCache() });
  gpu.close();
  out.textContent = JSON.stringify(result, null, 1);
  console.log(`kiln-bench ${JSON.stringify(result)}`);
} catch (e) {
  out.textContent = String(e);
  console.log(`kiln-bench-error ${e instanceof Error ? e.message : String(e)}`);
}
