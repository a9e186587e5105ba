/**
 * The playground page served at `/`: one self-contained HTML file (no framework, no external requests).
 * Type an instruction: the analyzer's features and score and the router's probabilities
 * appear as bars (the first event of POST /v1/completions, stream: true), then the answer streams in, with
 * the expert used.
 * The model select forces an expert (or `base`); `auto` lets the router choose.
 */
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loraroute playground</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 56rem; padding: 1rem 1.5rem; color: #1d2330; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
  textarea { width: 100%; box-sizing: border-box; min-height: 5rem; font: inherit; padding: .5rem; }
  .row { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; margin: .6rem 0; }
  button { font: inherit; padding: .35rem 1.1rem; cursor: pointer; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .7rem 1rem; margin: .8rem 0; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  .bar { display: grid; grid-template-columns: 8rem 1fr 4rem; gap: .5rem; align-items: center; margin: .2rem 0; }
  .track { background: #eef0f4; height: .9rem; border-radius: 3px; overflow: hidden; }
  .fill { background: #4a7bd0; height: 100%; }
  .bar.chosen .fill { background: #d0804a; }
  #answer { white-space: pre-wrap; min-height: 2rem; font-family: ui-monospace, monospace; }
  #features { font-size: .8rem; color: #505a6b; columns: 3; }
  .muted { color: #6b7485; font-size: .85rem; }
  .err { color: #b00020; }
</style>
</head>
<body>
<h1>loraroute playground</h1>
<textarea id="prompt" placeholder="Type an instruction, e.g. Name three primary colors.">Name three primary colors.</textarea>
<div class="row">
  <label>expert <select id="model"><option value="auto">auto</option></select></label>
  <label>max tokens <input id="max" type="number" value="48" min="1" style="width:5rem"></label>
  <label>API key <input id="key" type="password" placeholder="(none)" style="width:10rem"></label>
  <button id="go">Send</button>
  <span id="status" class="muted"></span>
</div>
<section><h2>Routing <span id="score" class="muted"></span></h2><div id="bars"></div><div id="chosen" class="muted"></div></section>
<section><h2>Answer <span id="expert" class="muted"></span></h2><div id="answer"></div></section>
<section><h2>Analyzer features</h2><div id="features"></div></section>
<script>
const $ = (id) => document.getElementById(id);
const headers = () => { const h = { 'Content-Type': 'application/json' }; const k = $('key').value; if (k) h.Authorization = 'Bearer ' + k; return h; };
async function api(path, body) {
  const r = await fetch(path, body === undefined ? { headers: headers() } : { method: 'POST', headers: headers(), body: JSON.stringify(body) });
  if (!r.ok) { let m = r.status + ''; try { m = (await r.json()).error.message; } catch (e) {} throw new Error(m); }
  return r;
}
async function loadModels() {
  try {
    const data = (await (await api('/v1/models')).json()).data;
    const sel = $('model'); sel.innerHTML = '';
    for (const m of data) { const o = document.createElement('option'); o.value = m.id; o.textContent = m.id + (m.kind === 'auto' ? ' (router)' : ''); sel.appendChild(o); }
  } catch (e) { $('status').textContent = 'models: ' + e.message; }
}
function showRouting(t, model) {
  $('score').textContent = 'score ' + t.score.toFixed(3) + ', tier ' + t.tier;
  const bars = $('bars'); bars.innerHTML = '';
  const used = new Set((t.mixture || []).map((m) => m.name)); // what this answer uses (forced or routed)
  for (const [name, p] of Object.entries(t.probabilities || {})) {
    const d = document.createElement('div'); d.className = 'bar' + (used.has(name) ? ' chosen' : ''); d.dataset.expert = name;
    d.innerHTML = '<span></span><div class="track"><div class="fill"></div></div><span></span>';
    d.children[0].textContent = name; d.children[1].firstChild.style.width = (100 * p).toFixed(1) + '%'; d.children[2].textContent = (100 * p).toFixed(1) + '%';
    bars.appendChild(d);
  }
  if (!t.probabilities) bars.textContent = 'no router (a plain model)';
  $('chosen').textContent = model === 'auto' ? 'router picks: ' + (t.router_expert || 'base') : 'forced: ' + model + ' (router would pick ' + (t.router_expert || 'base') + ')';
  $('features').innerHTML = '';
  for (const [k, v] of Object.entries(t.features)) { const s = document.createElement('div'); s.textContent = k + ': ' + (Math.round(v * 1000) / 1000); $('features').appendChild(s); }
}
async function send() {
  const prompt = $('prompt').value, model = $('model').value;
  $('answer').textContent = ''; $('expert').textContent = ''; $('status').textContent = 'routing…'; $('status').className = 'muted';
  try {
    const r = await api('/v1/completions', { model, prompt, max_tokens: Number($('max').value) || 48, stream: true });
    $('expert').textContent = 'expert: ' + r.headers.get('X-LoraRoute-Expert');
    const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\\n\\n')) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        const data = ev.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
        if (!data || data === '[DONE]') continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        if (j.routing) { showRouting(j.routing, model); $('status').textContent = 'generating…'; }
        if (j.choices && j.choices[0]) $('answer').textContent += j.choices[0].text;
      }
    }
    $('status').textContent = 'done';
    document.body.dataset.done = '1';
  } catch (e) { $('status').textContent = e.message; $('status').className = 'err'; }
}
$('go').addEventListener('click', send);
$('prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(); });
loadModels();
</script>
</body>
</html>
`;
