// The `kiln` command line: dispatches to one module per command. Every module is imported
// statically (the Vite module runner that loads this file closes after the first import).
import { KilnError } from '../errors.ts';
import { openNodeDevice } from '../gpu/node.ts';
import { bench, BENCH_HELP } from './bench.ts';
import { exportTorch, EXPORT_TORCH_HELP } from './export_torch.ts';
import { predict, PREDICT_HELP } from './predict.ts';
import { train, TRAIN_HELP } from './train.ts';
import { tuneCommand, TUNE_HELP } from './tune.ts';

const USAGE = `usage: npm run kiln -- <command> [options]

commands:
  train     train a model (default: the seed's autoencoder on the embedded sample)
  bench     measure the training step on synthetic data
  tune      time every kernel variant of a model's passes on this adapter, and cache the fastest
  predict   run a trained model on images (PNG, JPEG, CIFAR-10 .bin) and print JSON lines
  export-torch  print the model as a PyTorch file (build() and LOSS) that loads Kiln's weights
  adapter   open the WebGPU adapter and print which one it is

${TRAIN_HELP}

${BENCH_HELP}

${TUNE_HELP}

${PREDICT_HELP}

${EXPORT_TORCH_HELP}`;

async function adapter(): Promise<number> {
  const g = await openNodeDevice();
  console.log(`adapter: ${g.adapterName}`);
  g.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  try {
    switch (cmd) {
      case 'train': return await train(argv.slice(1));
      case 'bench': return await bench(argv.slice(1));
      case 'tune': return await tuneCommand(argv.slice(1));
      case 'predict': return await predict(argv.slice(1));
      case 'export-torch': return exportTorch(argv.slice(1));
      case 'adapter': return await adapter();
      case undefined: case '-h': case '--help': console.log(USAGE); return cmd ? 0 : 2;
      default: console.error(`kiln: unknown command '${cmd}'\n${USAGE}`); return 2;
    }
  } catch (e) {
    if (e instanceof KilnError) {
      console.error(`kiln: ${e.message}`);
      return 1;
    }
    // A bug, not bad input: still one line (the stack with KILN_DEBUG=1), and a distinct exit code.
    console.error(`kiln: internal error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    if (process.env.KILN_DEBUG) console.error(e);
    return 70;
  }
}
