// Hourly charts drawn by uPlot (a canvas; the vendored iife build defines window.uPlot), each
// with its numbers in a table beside it for a keyboard or screen-reader user.
import { Component, html } from "./html.js";

const COLOURS = { due: "#2563eb", completed: "#16a34a", failed: "#dc2626", skipped: "#6b7280", late: "#d97706" };
// Lines that meet stay told apart: completed widest, the others thinner, late and skipped dashed.
const WIDTHS = { completed: 4, failed: 2.5 };
const DASHES = { late: [8, 4], skipped: [2, 4] };

const hourLabel = (iso) => `${iso.slice(5, 10)} ${iso.slice(11, 16)}Z`;

class Canvas extends Component {
  componentDidMount() {
    const { hours, series, bars } = this.props;
    const uPlot = window.uPlot;
    const x = hours.map((iso) => Date.parse(iso) / 1000);
    const width = Math.max(320, Math.min(720, this.element.clientWidth || 640));
    this.plot = new uPlot(
      {
        width,
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        scales: { x: { time: true } },
        axes: [{}, { label: "events" }],
        series: [
          { label: "hour (UTC)" },
          ...series.map((s) => ({
            label: s.label,
            stroke: COLOURS[s.label],
            fill: bars ? `${COLOURS[s.label]}55` : undefined,
            width: WIDTHS[s.label] || 2,
            dash: DASHES[s.label],
            paths: bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined,
          })),
        ],
      },
      [x, ...series.map((s) => s.values)],
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

export function HourlyChart({ title, hours, series, bars = false }) {
  const total = series.map((s) => s.values.reduce((a, b) => a + b, 0));
  return html`<figure class="panel">
    <figcaption>${title}: ${series.map((s, i) => `${s.label} ${total[i]}`).join(", ")}</figcaption>
    <${Canvas} hours=${hours} series=${series} bars=${bars} />
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
