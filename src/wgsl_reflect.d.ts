// wgsl_reflect's `main` is a CommonJS file inside a "type": "module" package, which Node refuses to
// load; its ES build works in Node, Vite and browsers alike. This gives that path the package's types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
