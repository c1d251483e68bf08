import { ApiError, api, query } from "./api.js";
import { EventsTable } from "./events.js";
import { html } from "./html.js";
import { Fields, Heading, Input, Loaded, NextPage, Pre, UUID, json, link, searchTo, text } from "./ui.js";

// One box for an id or an externalId: a UUID is tried as an id first (an externalId may look
// like one too, so both are asked).
async function findUsers(q, cursor) {
  if (!q) return api(`/user${query({ limit: 20, cursor })}`);
  const byExternal = api(`/user${query({ externalId: q })}`);
  let byId = null;
  if (UUID.test(q)) {
    try {
      byId = await api(`/user/${encodeURIComponent(q)}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  const found = (await byExternal).items;
  return { items: byId ? [byId, ...found.filter((u) => u.id !== byId.id)] : found, nextCursor: null };
}

function UsersTable({ items }) {
  if (!items.length) return html`<p class="muted">No user found.</p>`;
  return html`<table class="list">
    <thead><tr><th scope="col">name</th><th scope="col">externalId</th><th scope="col">timezone</th><th scope="col">born</th><th scope="col">id</th></tr></thead>
    <tbody>
      ${items.map(
        (u) => html`<tr>
          <td><a href=${link("users", u.id)}>${u.firstName} ${u.lastName}</a></td>
          <td>${text(u.externalId)}</td>
          <td>${u.timezone}</td>
          <td>${u.dateOfBirth}</td>
          <td>${u.id}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function UsersView({ route }) {
  const q = route.params.get("q") || "";
  return html`<${Heading}>Users</${Heading}>
    <form class="search" aria-label="Find a user" onSubmit=${searchTo("users")}>
      <${Input} label="User id or externalId" name="q" value=${q} size="40" />
      <button type="submit">Find</button>
    </form>
    <${Loaded}
      load=${() => findUsers(q, route.params.get("cursor"))}
      view=${(page) => html`<${UsersTable} items=${page.items} />
        <${NextPage} path="users" params=${{}} cursor=${page.nextCursor} />`}
    />`;
}

export function Occurrences({ items }) {
  if (!items.length) return html`<p class="muted">No occurrence ahead.</p>`;
  const audience = "firstUtc" in items[0];
  return html`<table class="list">
    <thead><tr>
      <th scope="col">local date</th>
      ${audience
        ? html`<th scope="col">local time</th><th scope="col">first (UTC)</th><th scope="col">last (UTC)</th><th scope="col">zones</th>`
        : html`<th scope="col">local time</th><th scope="col">UTC</th>`}
    </tr></thead>
    <tbody>
      ${items.map((o) =>
        audience
          ? html`<tr><td>${o.localDate}</td><td>${o.localTime}</td><td>${o.firstUtc}</td><td>${o.lastUtc}</td><td>${o.zones}</td></tr>`
          : html`<tr><td>${o.localDate}</td><td>${o.targetLocal}</td><td>${o.targetUtc}</td></tr>`,
      )}
    </tbody>
  </table>`;
}

async function loadUser(id) {
  const path = `/user/${encodeURIComponent(id)}`;
  const [user, events, schedules] = await Promise.all([api(path), api(`${path}/events`), api(`${path}/schedules?limit=100`)]);
  const occurrences = await Promise.all(
    schedules.items.map((s) => api(`/schedules/${encodeURIComponent(s.id)}/occurrences?limit=10`)),
  );
  return { user, events: events.items, schedules: schedules.items.map((s, i) => ({ ...s, next: occurrences[i].items })) };
}

function UserPage({ user, events, schedules }) {
  return html`
    <p class="lede">${user.firstName} ${user.lastName}</p>
    <${Fields}
      rows=${[
        ["id", user.id],
        ["externalId", text(user.externalId)],
        ["timezone", user.timezone],
        ["born", user.dateOfBirth],
        ["anniversary", text(user.anniversaryDate)],
        ["created", user.createdAt],
      ]}
    />
    <${Pre} label="user metadata" value=${json(user.metadata)} />
    <h2>Events</h2>
    <${EventsTable} items=${events} />
    <h2>Schedules</h2>
    ${schedules.length ? null : html`<p class="muted">No schedule.</p>`}
    ${schedules.map(
      (s) => html`<section class="panel" aria-label=${`Schedule ${s.eventType}`}>
        <h3><a href=${link("schedules", s.id)}>${s.eventType}</a> ${s.status}, ${s.recurrence || "once"} at ${s.time} (${s.effectiveTimezone})</h3>
        <${Pre} label="schedule payload" value=${json(s.payload)} />
        <h4>Next 10 occurrences, in ${s.effectiveTimezone} and in UTC</h4>
        <${Occurrences} items=${s.next} />
      </section>`,
    )}`;
}

export function UserView({ route }) {
  return html`<${Heading}>User ${route.id}</${Heading}>
    <${Loaded} load=${() => loadUser(route.id)} view=${UserPage} />`;
}
