import { api, maybe, query, serviceOnly } from "./api.js";
import { html } from "./html.js";
import { Action, Fields, Heading, Input, Loaded, NextPage, Pre, Select, json, link, ms, searchTo, text } from "./ui.js";

const STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED"];
const FILTERS = ["status", "eventType", "userId", "scheduleId", "from", "to", "late", "limit", "cursor"];
const BODY_SHOWN = 1024;

export function EventsTable({ items }) {
  if (!items.length) return html`<p class="muted">No events.</p>`;
  return html`<table class="list">
    <thead><tr>
      <th scope="col">event</th><th scope="col">type</th><th scope="col">status</th><th scope="col">due (UTC)</th>
      <th scope="col">due (local)</th><th scope="col">attempts</th><th scope="col">late</th><th scope="col">user</th>
    </tr></thead>
    <tbody>
      ${items.map(
        (e) => html`<tr>
          <td><a href=${link("events", e.id)}>${e.id.slice(0, 8)}</a></td>
          <td>${e.eventType}</td>
          <td><span class=${`status status-${e.status}`}>${e.status}</span></td>
          <td>${e.targetUtc}</td>
          <td>${e.targetLocal}</td>
          <td>${e.attempts}</td>
          <td>${e.late ? "late" : ""}</td>
          <td><a href=${link("users", e.userId)}>${e.userId.slice(0, 8)}</a></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function SearchForm({ params }) {
  const value = (name) => params.get(name) || "";
  return html`<form class="search" aria-label="Search events" onSubmit=${searchTo("events")}>
    <${Select} label="Status" name="status" value=${value("status")} options=${[["", "any"], ...STATUSES.map((s) => [s, s])]} />
    <${Input} label="Event type" name="eventType" value=${value("eventType")} placeholder="birthday" size="12" />
    <${Input} label="User id" name="userId" value=${value("userId")} size="36" />
    <${Input} label="Schedule id" name="scheduleId" value=${value("scheduleId")} size="36" />
    <${Input} label="Due from" name="from" value=${value("from")} placeholder="2026-12-07T00:00:00Z" size="20" />
    <${Input} label="Due before" name="to" value=${value("to")} placeholder="2026-12-08" size="20" />
    <${Select} label="Late" name="late" value=${value("late")} options=${[["", "any"], ["true", "late"], ["false", "on time"]]} />
    <${Input} label="Per page" name="limit" value=${value("limit")} type="number" size="4" />
    <button type="submit">Search</button>
  </form>`;
}

export function EventsView({ route }) {
  const params = new URLSearchParams([...route.params].filter(([name]) => FILTERS.includes(name)));
  const search = Object.fromEntries(params);
  const others = Object.fromEntries([...params].filter(([name]) => name !== "cursor"));
  return html`<${Heading}>Events</${Heading}>
    <${SearchForm} params=${params} />
    <${Loaded}
      load=${() => api(`/events${query(search)}`)}
      view=${(page) => html`<${EventsTable} items=${page.items} />
        <${NextPage} path="events" params=${others} cursor=${page.nextCursor} />`}
    />`;
}

function byEndpoint(attempts) {
  const groups = new Map();
  for (const attempt of attempts) {
    const key = attempt.endpointId || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(attempt);
  }
  return [...groups.entries()];
}

function Attempts({ event, endpointId, attempts, reload }) {
  const delivered = attempts.some((a) => a.outcome === "success");
  return html`<section class="panel" aria-label=${`Attempts to ${endpointId || "the built-in endpoint"}`}>
    <h3>
      ${endpointId ? html`Endpoint <a href=${link("endpoints", endpointId)}>${endpointId}</a>` : "The built-in endpoint (WEBHOOK_URL)"}
    </h3>
    <table class="list">
      <thead><tr>
        <th scope="col">#</th><th scope="col">time</th><th scope="col">outcome</th><th scope="col">status code</th>
        <th scope="col">duration</th><th scope="col">response body (first KB)</th><th scope="col">error</th>
      </tr></thead>
      <tbody>
        ${attempts.map(
          (a) => html`<tr>
            <td>${a.attempt}</td>
            <td>${a.attemptedAt}</td>
            <td><span class=${`outcome outcome-${a.outcome}`}>${a.outcome}</span></td>
            <td>${text(a.statusCode)}</td>
            <td>${ms(a.latencyMs)}</td>
            <td>${a.responseBody ? html`<${Pre} label="response body" value=${a.responseBody.slice(0, BODY_SHOWN)} />` : "—"}</td>
            <td>${text(a.error)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${endpointId && delivered && !serviceOnly()
      ? html`<${Action}
          label="Replay to this endpoint"
          run=${() => api(`/events/${encodeURIComponent(event.id)}/replay`, { method: "POST", body: { endpointId } })}
          done=${(r) => `Queued ${r.queued}.`}
          then=${() => setTimeout(reload, 1500)}
        />`
      : null}
  </section>`;
}

async function loadEvent(id) {
  const path = `/events/${encodeURIComponent(id)}`;
  const [event, deliveries] = await Promise.all([api(path), api(`${path}/deliveries`)]);
  const [user, schedule] = await Promise.all([
    maybe(`/user/${encodeURIComponent(event.userId)}`),
    event.scheduleId ? maybe(`/schedules/${encodeURIComponent(event.scheduleId)}`) : null,
  ]);
  return { event, attempts: deliveries.items, user, schedule };
}

function EventPage({ event, attempts, user, schedule }, reload) {
  return html`
    <p class="lede"><span class=${`status status-${event.status}`}>${event.status}</span> ${event.eventType} due ${event.targetUtc}</p>
    ${event.status === "FAILED" && !serviceOnly()
      ? html`<${Action}
          label="Retry"
          run=${() => api(`/events/${encodeURIComponent(event.id)}/retry`, { method: "POST" })}
          done=${(e) => `Retrying: now ${e.status}.`}
          then=${() => setTimeout(reload, 1500)}
        />`
      : null}
    <${Fields}
      rows=${[
        ["id", event.id],
        ["type", event.eventType],
        ["occurrence date", event.occurrenceDate],
        ["due (UTC)", event.targetUtc],
        ["due (local)", `${event.targetLocal} (${event.timezone})`],
        ["attempts", event.attempts],
        ["delivered at", text(event.deliveredAt)],
        ["late", event.late ? "yes" : "no"],
        ["failure", text(event.failureReason)],
        ["idempotency key", event.idempotencyKey],
      ]}
    />
    <div class="columns">
      <section class="panel" aria-labelledby="event-user">
        <h2 id="event-user">User</h2>
        ${user
          ? html`<p><a href=${link("users", user.id)}>${user.firstName} ${user.lastName}</a></p>
              <${Fields} rows=${[["externalId", text(user.externalId)], ["timezone", user.timezone], ["born", user.dateOfBirth]]} />
              <${Pre} label="user metadata" value=${json(user.metadata)} />`
          : html`<p class="muted">${event.userId} (deleted)</p>`}
      </section>
      <section class="panel" aria-labelledby="event-schedule">
        <h2 id="event-schedule">Schedule</h2>
        ${schedule
          ? html`<p><a href=${link("schedules", schedule.id)}>${schedule.eventType}</a> ${schedule.status}, ${schedule.recurrence || "once"}</p>
              <${Pre} label="schedule payload" value=${json(schedule.payload)} />`
          : html`<p class="muted">${event.scheduleId ? `${event.scheduleId} (deleted)` : `None: a built-in ${event.eventType}.`}</p>`}
      </section>
    </div>
    <h2>Attempts</h2>
    ${attempts.length ? null : html`<p class="muted">No attempt yet.</p>`}
    ${byEndpoint(attempts).map(
      ([endpointId, group]) => html`<${Attempts} event=${event} endpointId=${endpointId} attempts=${group} reload=${reload} />`,
    )}`;
}

export function EventView({ route }) {
  return html`<${Heading}>Event ${route.id}</${Heading}>
    <${Loaded} load=${() => loadEvent(route.id)} view=${EventPage} />`;
}
