// The demo's Vite config for the browser tests' dev server, with file watching and HMR off: the
// tree is shared with engineers editing src/, and a reload in the middle of a test would restart it.
import { mergeConfig } from 'vite';
import base from '../vite.config.ts';

export default mergeConfig(base, { server: { hmr: false, watch: null } });
