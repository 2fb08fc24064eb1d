// Kiln in Node: everything in the main entry, plus Dawn (the `webgpu` package, SwiftShader picked
// by itself on a machine without a GPU), CIFAR-10 and image-folder loaders, the embedded sample,
// and the tuning cache file.
export * from './index.ts';
export { openNodeDevice, nodeWait } from './gpu/node.ts';
export { loadCifar, loadCifarArchive, loadEmbeddedSample, loadEmbeddedSampleTest, SAMPLE_PATH, SAMPLE_TEST_PATH } from './data/load_node.ts';
export { loadImageFolder, loadImageFile, decodeImage, isImageFolder } from './data/images_node.ts';
export { fileCache, defaultCachePath } from './tune/cache_node.ts';
