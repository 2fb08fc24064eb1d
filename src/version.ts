// Kiln's version, stored in tuning caches and file metadata (test/engine.test.ts checks it against package.json).
export const VERSION = '0.2.0';
