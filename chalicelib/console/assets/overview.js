import { api } from "./api.js";
import { HourlyChart } from "./charts.js";
import { html } from "./html.js";
import { Heading, Loaded, text } from "./ui.js";

const seconds = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} s`);

function age(value) {
  if (value === null || value === undefined) return "no sweep yet";
  if (value < 120) return `${Math.round(value)} s ago`;
  return `${Math.round(value / 60)} min ago`;
}

function Tile({ name, value, note, alarm = false }) {
  return html`<div class=${alarm ? "tile alarm" : "tile"}>
    <div class="tile-name">${name}</div>
    <div class="tile-value">${value}</div>
    ${note ? html`<div class="tile-note">${note}</div>` : null}
  </div>`;
}

function Overview(data) {
  const { due, delivered, lateness, queue, queueError, sweep } = data;
  return html`
    <p class="muted">As of ${data.generatedAt}.</p>
    <section class="tiles" aria-label="Health">
      <${Tile} name="Lateness p50" value=${seconds(lateness.p50Seconds)} note=${`${lateness.count} completed, last 24 h`} />
      <${Tile} name="Lateness p99" value=${seconds(lateness.p99Seconds)} />
      <${Tile} name="Queue depth" value=${text(queue.depth)} note=${`in flight ${text(queue.inFlight)}, delayed ${text(queue.delayed)}`} />
      <${Tile} name="Dead-letter queue" value=${text(queue.dlq)} alarm=${queue.dlq > 0} />
      <${Tile} name="Last sweep" value=${age(sweep.ageSeconds)} note=${text(sweep.lastAt)} alarm=${sweep.ageSeconds === null || sweep.ageSeconds > 180} />
    </section>
    ${queueError ? html`<p class="error" role="alert">The queue could not be read: ${queueError}</p>` : null}
    <div class="charts">
      <${HourlyChart}
        title="Due, next 24 hours"
        hours=${due.map((b) => b.hour)}
        series=${[{ label: "due", values: due.map((b) => b.count), stacked: true }]}
      />
      <${HourlyChart}
        title="Finished, last 24 hours"
        hours=${delivered.map((b) => b.hour)}
        series=${["completed", "failed", "skipped", "late"].map((name) => ({
          label: name,
          values: delivered.map((b) => b[name]),
          stacked: name !== "late", // late is a part of completed: a line over the bars
        }))}
      />
    </div>`;
}

export function OverviewView() {
  return html`<${Heading}>Overview</${Heading}>
    <${Loaded} load=${() => api("/overview")} view=${Overview} />`;
}
