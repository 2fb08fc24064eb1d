// The `kiln` command line: dispatches to one module per command. Every module is imported
// statically (the Vite module runner that loads this file closes after the first import).
import { KilnError } from '../errors.ts';
import { openNodeDevice } from '../gpu/node.ts';

const USAGE = `usage: npm run kiln -- <command> [options]

commands:
  adapter   open the WebGPU adapter and print which one it is`;

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
      case 'adapter': return await adapter();
      case undefined: case '-h': case '--help': console.log(USAGE); return cmd ? 0 : 2;
      default: console.error(`kiln: unknown command '${cmd}'\n${USAGE}`); return 2;
    }
  } catch (e) {
    if (e instanceof KilnError) {
      console.error(`kiln: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
