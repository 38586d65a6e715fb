// What both pages share (the setup page on the server, the hand-off page
// on the device, each with its own copy): the language, the frame (a bar
// with the mark, and the step indicator) and which step is current.
//
// Each page keeps every string it shows in one catalogue ({en: {key:
// text}, de: {...}}, a file of its own); translator() picks the first
// language of the browser's list that the catalogue has, fills every
// element marked data-t="key" (data-t-label="key" for an aria-label), and
// returns t(key, {name: value}) for the texts the page builds as it goes.
// "{name}" in a text stands for a value.

export function pickLanguage(catalogue, languages) {
  for (const tag of languages || []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (Object.prototype.hasOwnProperty.call(catalogue, base)) return base;
  }
  return 'en';
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(name, attrs, children = []) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

// The bar with the mark (the favicon's drawing) and the four steps, drawn
// into <header id="bar"> and <ol id="steps"> before the texts are filled.
function frame() {
  const mark = svg('svg', { class: 'logo', viewBox: '0 0 64 64', 'aria-hidden': 'true', focusable: 'false' }, [
    svg('rect', { x: 2, y: 2, width: 60, height: 60, rx: 14, fill: '#1257c9' }),
    svg('g', { fill: 'none', stroke: '#fff', 'stroke-width': 6, 'stroke-linecap': 'round' }, [
      svg('path', { d: 'M14 29a25 25 0 0 1 36 0' }), svg('path', { d: 'M21 37a15 15 0 0 1 22 0' })]),
    svg('circle', { cx: 32, cy: 46, r: 5, fill: '#fff' }),
  ]);
  const brand = document.createElement('span');
  brand.dataset.t = 'brand';
  document.getElementById('bar').append(mark, brand);
  const steps = document.getElementById('steps');
  steps.dataset.tLabel = 'steps_label';
  for (const key of ['step_network', 'step_join', 'step_handoff', 'step_online']) {
    const li = document.createElement('li');
    li.dataset.t = key;
    steps.append(li);
  }
}

// Marks step n of four current and the ones before it done (5: all done).
export function step(n) {
  document.getElementById('steps').querySelectorAll('li').forEach((li, i) => {
    li.classList.toggle('done', i + 1 < n);
    if (i + 1 === n) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  });
}

export function translator(catalogue) {
  frame();
  const lang = pickLanguage(catalogue, navigator.languages || [navigator.language]);
  const table = catalogue[lang];
  const t = (key, values) => {
    let text = table[key];
    if (text === undefined) text = catalogue.en[key];
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? String(values[name]) : m));
  };
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
  if (table.title) document.title = table.title;
  t.lang = lang;
  return t;
}
