'use strict';
// Starts a program's bundle (dist/NAME.code.cjs) with the V8 code cache the build wrote beside it
// (dist/NAME.code.cache): V8 then takes the compiled functions from the cache instead of parsing
// and compiling ~100 KB of JavaScript at every start. A cache V8 refuses (another node or V8
// version) costs nothing but that compilation. dist/NAME.cjs calls launch(); the build runs each
// program once with BSR_WRITE_CODE_CACHE=1 to write its cache after the run (so it also holds the
// functions compiled while running, not only the top level).
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

exports.launch = (dir, name) => {
  const file = join(dir, `${name}.code.cjs`);
  const cacheFile = join(dir, `${name}.code.cache`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  // The bundles load builtins with require(), never import(): a script compiled here has no
  // loader for import() (and a cached one would lose it).
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  if (process.env.BSR_WRITE_CODE_CACHE === '1') {
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  const req = (id) => mod.require(id);
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, file, dir);
};
