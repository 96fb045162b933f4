// `node bench/import-child.mjs <specifier>`: imports one module in a fresh process and prints how many
// milliseconds the import took (module loading and evaluation, not Node's own start).
const started = performance.now();
await import(process.argv[2]);
console.log(JSON.stringify({ ms: performance.now() - started }));
