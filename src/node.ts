// Kiln's public API for Node: everything in index.ts, plus Dawn and file loading.
export * from './index.ts';
export { openNodeDevice, nodeWait } from './gpu/node.ts';
export { loadCifar, loadEmbeddedSample, loadEmbeddedSampleTest } from './data/load_node.ts';
