// Hourly charts drawn by uPlot (a canvas; the vendored iife build defines window.uPlot), each
// with its numbers in a table beside it for a keyboard or screen-reader user.
import { Component, html } from "./html.js";

const COLOURS = { due: "#2563eb", completed: "#16a34a", failed: "#dc2626", skipped: "#9ca3af", late: "#d97706" };
const FILLS = { due: "#93c5fd", completed: "#86efac", failed: "#fca5a5", skipped: "#e5e7eb" };

const hourLabel = (iso) => `${iso.slice(5, 10)} ${iso.slice(11, 16)}Z`;

// Stacked bars: each stacked series drawn at its running total, the tallest first, so each
// lower one paints over the one above it; the legend shows the hour's own count, not the total.
function stackedData(series) {
  const drawn = [];
  let below = series[0].values.map(() => 0);
  for (const s of series) {
    const top = s.stacked ? s.values.map((v, i) => v + below[i]) : s.values;
    if (s.stacked) below = top;
    drawn.push({ ...s, drawn: top });
  }
  return [...drawn.filter((s) => s.stacked).reverse(), ...drawn.filter((s) => !s.stacked)];
}

class Canvas extends Component {
  componentDidMount() {
    const { hours, series } = this.props;
    const uPlot = window.uPlot;
    const x = hours.map((iso) => Date.parse(iso) / 1000);
    const width = Math.max(320, Math.min(720, this.element.clientWidth || 640));
    const drawn = stackedData(series);
    this.plot = new uPlot(
      {
        width,
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        // Half an hour either side: the first and last hours' bars are drawn whole.
        scales: { x: { time: true, range: (u, min, max) => [min - 1800, max + 1800] } },
        axes: [{}, { label: "events" }],
        series: [
          { label: "hour (UTC)" },
          ...drawn.map((s) => ({
            label: s.label,
            stroke: COLOURS[s.label],
            fill: s.stacked ? FILLS[s.label] : undefined,
            width: s.stacked ? 1 : 2,
            points: { show: !s.stacked },
            paths: s.stacked ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined,
            value: (u, v, si, i) => (i === null || i === undefined ? "--" : String(s.values[i])),
          })),
        ],
      },
      [x, ...drawn.map((s) => s.drawn)],
      this.element,
    );
  }

  componentWillUnmount() {
    if (this.plot) this.plot.destroy();
  }

  render() {
    return html`<div class="chart" aria-hidden="true" ref=${(element) => (this.element = element)}></div>`;
  }
}

export function HourlyChart({ title, hours, series }) {
  const total = series.map((s) => s.values.reduce((a, b) => a + b, 0));
  return html`<figure class="panel">
    <figcaption>${title}: ${series.map((s, i) => `${s.label} ${total[i]}`).join(", ")}</figcaption>
    <${Canvas} hours=${hours} series=${series} />
    <details>
      <summary>The numbers per hour</summary>
      <table>
        <thead><tr><th scope="col">hour (UTC)</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
        <tbody>
          ${hours.map(
            (hour, row) => html`<tr><th scope="row">${hourLabel(hour)}</th>${series.map((s) => html`<td>${s.values[row]}</td>`)}</tr>`,
          )}
        </tbody>
      </table>
    </details>
  </figure>`;
}
