const mods = process.argv.slice(2);
for (const m of mods) await import(m);
globalThis.gc?.(); await new Promise(r=>setTimeout(r,200)); globalThis.gc?.();
const s = (await import('node:fs')).readFileSync('/proc/self/status','utf8');
const f = n => (Number(new RegExp(`^${n}:\\s+(\\d+)`,'m').exec(s)[1])/1024).toFixed(1);
const h = process.memoryUsage();
console.log(mods.join(' ')||'(none)', 'rss', f('VmRSS'), 'anon', f('RssAnon'), 'file', f('RssFile'), 'heapUsed', (h.heapUsed/1048576).toFixed(1), 'heapTotal', (h.heapTotal/1048576).toFixed(1));
