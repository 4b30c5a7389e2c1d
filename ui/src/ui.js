// Shared pieces of every page: the htm binding, a data hook that polls,
// errors and empty states, labelled fields and a uPlot chart.
import { h } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import uPlot from "uplot";
import { api, explain } from "./api.js";

/** Tagged templates for preact (no JSX build). */
export const html = htm.bind(h);

/**
 * Loads `path` (with `query`) from the admin API, again whenever `key`
 * changes and every `pollMs` when given; a null `path` loads nothing.
 */
export function useApi(path, { query, pollMs, key } = {}) {
  const [state, setState] = useState({
    data: null,
    error: null,
    loading: true,
  });
  const token = JSON.stringify([path, query ?? null, key ?? null]);
  const load = useCallback(async () => {
    // No path: nothing to load (the viewer may not read it).
    if (path === null) {
      return setState({ data: null, error: null, loading: false });
    }
    try {
      const data = await api(path, { query });
      setState({ data, error: null, loading: false });
    } catch (error) {
      setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, [token]);
  useEffect(() => {
    setState((s) => ({ ...s, loading: true }));
    load();
    if (!pollMs) return undefined;
    const timer = setInterval(load, pollMs);
    return () => clearInterval(timer);
  }, [token]);
  return { ...state, reload: load };
}

/** An error, in the page. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${explain(error)}</div>`;
}

/** A notice that something worked. */
export function Notice({ children }) {
  if (!children) return null;
  return html`<div class="notice" role="status">${children}</div>`;
}

/** What to show when a list is empty, and what to do about it. */
export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

/** A heading and the page under it. */
export function Page({ title, actions, children }) {
  return html`<section class="page" aria-labelledby="page-title">
    <header class="page-head">
      <h1 id="page-title" tabindex="-1">${title}</h1>
      ${actions ? html`<div class="actions">${actions}</div>` : null}
    </header>
    ${children}
  </section>`;
}

let fieldCount = 0;

/** A labelled input (`props` go to the input). */
export function Field({ label, hint, ...props }) {
  const id = useRef(`f${++fieldCount}`).current;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} ...${props} />
    ${hint ? html`<small>${hint}</small>` : null}
  </div>`;
}

/** A labelled select of `options` ([value, text] pairs). */
export function Select({ label, options, ...props }) {
  const id = useRef(`f${++fieldCount}`).current;
  return html`
    <div class="field">
      <label for=${id}>${label}</label>
      <select id=${id} ...${props}>
          ${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}
        </select>
    </div>
  `;
}

/** A table with a caption; `rows` are arrays of cells. */
export function Table({ caption, head, rows, className }) {
  return html`
    <div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
      <table class=${className ?? ""}>
        <caption>${caption}</caption>
        <thead>
          <tr>${head.map((c) => html`<th scope="col">${c}</th>`)}</tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
    </div>
  `;
}

/** Calls `run` (a mutation) and reports its error or `done` message. */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null, done: null });
  async function act(run, done) {
    setState({ busy: true, error: null, done: null });
    try {
      const result = await run();
      setState({
        busy: false,
        error: null,
        done: typeof done === "function" ? done(result) : done ?? null,
      });
      return result;
    } catch (error) {
      setState({ busy: false, error, done: null });
      return undefined;
    }
  }
  return {
    ...state,
    act,
    clear: () => setState({ busy: false, error: null, done: null }),
  };
}

/** Whether the OS asks for dark colours now (charts are redrawn when it changes). */
function useDarkScheme() {
  const query = "(prefers-color-scheme: dark)";
  const [dark, setDark] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const media = matchMedia(query);
    const changed = () => setDark(media.matches);
    media.addEventListener("change", changed);
    return () => media.removeEventListener("change", changed);
  }, []);
  return dark;
}

const PALETTE = [
  "#2f6fdb",
  "#d9480f",
  "#2b8a3e",
  "#ae3ec9",
  "#e8590c",
  "#1098ad",
  "#f59f00",
  "#5c7cfa",
];

/** The colour of series `i`. */
export function colour(i) {
  return PALETTE[i % PALETTE.length];
}

/**
 * A uPlot chart: `data` is uPlot's columns (x first), `series` its series
 * after x; `bars` draws stacked bars (the series already summed).
 */
export function Chart(
  { title, data, series, bars, height = 180, xTime = true, yLabel },
) {
  const box = useRef(null);
  const plot = useRef(null);
  const dark = useDarkScheme();
  const shape = JSON.stringify([
    series.map((s) => s.label),
    bars ?? false,
    dark,
  ]);
  useEffect(() => {
    const el = box.current;
    const width = Math.max(240, el.clientWidth);
    const style = getComputedStyle(document.documentElement);
    const ink = style.getPropertyValue("--ink").trim() || "#222";
    const grid = style.getPropertyValue("--grid").trim() || "#ddd";
    const axis = {
      stroke: ink,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid },
    };
    const opts = {
      width,
      height,
      scales: { x: { time: xTime } },
      axes: [axis, { ...axis, label: yLabel, size: 60 }],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.stroke ?? colour(i),
          fill: bars ? s.stroke ?? colour(i) : undefined,
          width: bars ? 0 : 2,
          spanGaps: true,
          paths: bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined,
          points: { show: false },
          value: s.value,
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const observer = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 2) {
        plot.current.setSize({ width: w, height });
      }
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return html`
    <figure class="chart">
      <figcaption>${title}</figcaption>
      <div ref=${box} class="chart-box" role="img"
        aria-label=${`Chart: ${title}`}></div>
      <ul class="legend">
          ${series.map((s, i) =>
            html`<li><span class="swatch" style=${{
              background: s.stroke ?? colour(i),
            }}></span>${s.label}</li>`
          )}
        </ul>
    </figure>
  `;
}
