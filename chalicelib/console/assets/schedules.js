import { api, query } from "./api.js";
import { html } from "./html.js";
import { Action, ActionForm, Fields, Heading, Input, Loaded, NextPage, Pre, Select, json, link, searchTo, text } from "./ui.js";
import { Occurrences } from "./users.js";

const FILTERS = ["audience", "eventType", "status", "limit", "cursor"];

const whom = (s) => (s.audience ? `audience ${json(s.audience).replace(/\s+/g, " ")}` : `user ${s.userId}`);

export function SchedulesView({ route }) {
  const params = new URLSearchParams([...route.params].filter(([name]) => FILTERS.includes(name)));
  const value = (name) => params.get(name) || "";
  const others = Object.fromEntries([...params].filter(([name]) => name !== "cursor"));
  return html`<${Heading}>Schedules</${Heading}>
    <form class="search" aria-label="Search schedules" onSubmit=${searchTo("schedules")}>
      <${Select} label="Kind" name="audience" value=${value("audience")} options=${[["", "any"], ["true", "audience"], ["false", "a user's"]]} />
      <${Input} label="Event type" name="eventType" value=${value("eventType")} size="14" />
      <${Select} label="Status" name="status" value=${value("status")} options=${[["", "any"], ["active", "active"], ["paused", "paused"], ["ended", "ended"]]} />
      <button type="submit">Search</button>
    </form>
    <${Loaded}
      load=${() => api(`/schedules${query(Object.fromEntries(params))}`)}
      view=${(page) => html`${page.items.length
          ? html`<table class="list">
              <thead><tr>
                <th scope="col">type</th><th scope="col">for</th><th scope="col">status</th><th scope="col">rule</th><th scope="col">next (UTC)</th>
              </tr></thead>
              <tbody>
                ${page.items.map(
                  (s) => html`<tr>
                    <td><a href=${link("schedules", s.id)}>${s.eventType}</a></td>
                    <td>${s.audience ? whom(s) : html`<a href=${link("users", s.userId)}>${s.userId.slice(0, 8)}</a>`}</td>
                    <td>${s.status}</td>
                    <td>${s.recurrence || "once"} at ${s.time}</td>
                    <td>${s.nextOccurrence ? s.nextOccurrence.targetUtc : "—"}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No schedule.</p>`}
        <${NextPage} path="schedules" params=${others} cursor=${page.nextCursor} />`}
    />`;
}

async function loadSchedule(id, params) {
  const path = `/schedules/${encodeURIComponent(id)}`;
  const schedule = await api(path);
  const preview = await api(`${path}/occurrences${query({ after: params.get("after"), limit: params.get("limit") || 10 })}`);
  // An audience's counts are for one local date: the one asked for, else its next.
  const localDate = params.get("localDate") || (preview.items[0] || {}).localDate || new Date().toISOString().slice(0, 10);
  const counts = schedule.audience ? await api(`${path}/audience${query({ localDate })}`) : null;
  return { schedule, preview: preview.items, counts };
}

function SchedulePage(route) {
  const at = (name) => route.params.get(name) || "";
  return ({ schedule, preview, counts }, reload) => html`
    <p class="lede">${schedule.eventType}: ${schedule.status}, ${schedule.recurrence || "once"} at ${schedule.time}</p>
    <${Fields}
      rows=${[
        ["id", schedule.id],
        ["for", schedule.audience ? whom(schedule) : html`<a href=${link("users", schedule.userId)}>${schedule.userId}</a>`],
        ["zone", schedule.audience ? "each user's own" : `${schedule.effectiveTimezone}${schedule.timezone ? "" : " (the user's)"}`],
        ["start", schedule.start],
        ["next", schedule.nextOccurrence ? `${schedule.nextOccurrence.targetLocal} (${schedule.nextOccurrence.targetUtc})` : "—"],
        ["invalid date", text(schedule.invalidDate)],
        ["updated", schedule.updatedAt],
      ]}
    />
    <${Pre} label="schedule payload" value=${json(schedule.payload)} />
    <p><a href=${`#/events?scheduleId=${encodeURIComponent(schedule.id)}`}>Its events</a></p>
    <section class="panel" aria-labelledby="schedule-state">
      <h2 id="schedule-state">Pause or resume</h2>
      ${schedule.status === "active"
        ? html`<${Action} label="Pause" run=${() => api(`/schedules/${encodeURIComponent(schedule.id)}/pause`, { method: "POST" })} done=${(s) => `Now ${s.status}.`} then=${reload} />`
        : null}
      ${schedule.status === "paused"
        ? html`<${ActionForm}
            label="Resume"
            run=${(values) => api(`/schedules/${encodeURIComponent(schedule.id)}/resume`, { method: "POST", body: { catchUp: values.catchUp } })}
            done=${(s) => `Now ${s.status}.`}
            then=${reload}
          >
            <${Select}
              label="Occurrences missed while paused"
              name="catchUp"
              value="none"
              options=${[["none", "none: skip them"], ["latest", "latest: deliver the most recent"], ["all", "all: deliver each (100 at most)"]]}
            />
          </${ActionForm}>`
        : null}
      ${schedule.status === "ended" ? html`<p class="muted">Ended: nothing more to deliver.</p>` : null}
    </section>
    <section class="panel" aria-labelledby="schedule-preview">
      <h2 id="schedule-preview">Preview</h2>
      <form class="search" aria-label="Preview occurrences" onSubmit=${searchTo(`schedules/${encodeURIComponent(schedule.id)}`)}>
        <${Input} label="After" name="after" value=${at("after")} placeholder="2027-01-01T00:00:00Z" size="22" />
        <${Input} label="How many" name="limit" value=${at("limit")} type="number" size="4" />
        ${schedule.audience ? html`<input type="hidden" name="localDate" value=${at("localDate")} />` : null}
        <button type="submit">Preview</button>
      </form>
      <${Occurrences} items=${preview} />
    </section>
    ${counts
      ? html`<section class="panel" aria-labelledby="schedule-audience">
          <h2 id="schedule-audience">Audience on ${counts.localDate}</h2>
          <${Fields} rows=${[["audience", counts.audience], ["received", counts.received], ["coming", counts.coming]]} />
          <form class="search" aria-label="Audience counts" onSubmit=${searchTo(`schedules/${encodeURIComponent(schedule.id)}`)}>
            <${Input} label="Local date" name="localDate" value=${at("localDate")} placeholder="2027-01-01" size="12" />
            <button type="submit">Count</button>
          </form>
        </section>`
      : null}`;
}

export function ScheduleView({ route }) {
  return html`<${Heading}>Schedule ${route.id}</${Heading}>
    <${Loaded} load=${() => loadSchedule(route.id, route.params)} view=${SchedulePage(route)} />`;
}
