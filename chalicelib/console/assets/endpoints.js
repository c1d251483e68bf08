import { api, query } from "./api.js";
import { Component, html } from "./html.js";
import { Action, ActionForm, Fields, Heading, Input, Loaded, NextPage, link, ms, percent, text } from "./ui.js";

export const state = (e) => (e.status === "disabled" ? "disabled" : e.failingSince ? "failing" : "enabled");

const where = (d) => d.url || d.queueUrl || d.topicArn || d.eventBusName || "";

async function loadEndpoints(params) {
  const page = await api(`/endpoints${query({ cursor: params.get("cursor") })}`);
  const stats = await Promise.all(page.items.map((e) => api(`/endpoints/${encodeURIComponent(e.id)}/stats`)));
  return { ...page, items: page.items.map((e, i) => ({ ...e, stats: stats[i] })) };
}

export function EndpointsView({ route }) {
  return html`<${Heading}>Endpoints</${Heading}>
    <${Loaded}
      load=${() => loadEndpoints(route.params)}
      view=${(page) => html`${page.items.length
          ? html`<table class="list">
              <thead><tr>
                <th scope="col">endpoint</th><th scope="col">state</th><th scope="col">destination</th><th scope="col">event types</th>
                <th scope="col">success, 24 h</th><th scope="col">p95</th><th scope="col">last error</th>
              </tr></thead>
              <tbody>
                ${page.items.map(
                  (e) => html`<tr>
                    <td><a href=${link("endpoints", e.id)}>${e.description || e.id.slice(0, 8)}</a></td>
                    <td><span class=${`state state-${state(e)}`}>${state(e)}</span></td>
                    <td>${e.destination.type} ${where(e.destination)}</td>
                    <td>${e.eventTypes ? e.eventTypes.join(", ") : "every type"}</td>
                    <td>${percent(e.stats.successes, e.stats.deliveries)} of ${e.stats.deliveries}</td>
                    <td>${ms(e.stats.p95Ms)}</td>
                    <td>${text(e.stats.lastError)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No endpoint: only the built-in one (WEBHOOK_URL), if set.</p>`}
        <${NextPage} path="endpoints" params=${{}} cursor=${page.nextCursor} />`}
    />`;
}

async function loadEndpoint(id) {
  const path = `/endpoints/${encodeURIComponent(id)}`;
  const [endpoint, stats] = await Promise.all([api(path), api(`${path}/stats`)]);
  return { endpoint, stats };
}

const dayAgo = () => new Date(Date.now() - 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");

function EndpointPage({ endpoint, stats }, reload) {
  const path = `/endpoints/${encodeURIComponent(endpoint.id)}`;
  return html`
    <p class="lede"><span class=${`state state-${state(endpoint)}`}>${state(endpoint)}</span> ${text(endpoint.description)}</p>
    <${Fields}
      rows=${[
        ["id", endpoint.id],
        ["destination", `${endpoint.destination.type} ${where(endpoint.destination)}`],
        ["event types", endpoint.eventTypes ? endpoint.eventTypes.join(", ") : "every type"],
        ["rate limit", endpoint.rateLimit ? `${endpoint.rateLimit}/s` : "none"],
        ["failing since", text(endpoint.failingSince)],
        ["disabled at", text(endpoint.disabledAt)],
      ]}
    />
    <section class="panel" aria-labelledby="endpoint-stats">
      <h2 id="endpoint-stats">Since ${stats.since}</h2>
      <${Fields}
        rows=${[
          ["deliveries", stats.deliveries],
          ["success rate", percent(stats.successes, stats.deliveries)],
          ["failures", stats.failures],
          ["p50", ms(stats.p50Ms)],
          ["p95", ms(stats.p95Ms)],
          ["last error", text(stats.lastError)],
          ["last error at", text(stats.lastErrorAt)],
        ]}
      />
    </section>
    <section class="panel" aria-labelledby="endpoint-actions">
      <h2 id="endpoint-actions">Actions</h2>
      ${endpoint.status === "disabled"
        ? html`<p><${Action} label="Enable" run=${() => api(`${path}/enable`, { method: "POST" })} done=${(e) => `Now ${e.status}.`} then=${reload} /></p>`
        : null}
      <${ActionForm}
        label="Recover"
        name="Recover failed and held deliveries"
        run=${(values) => api(`${path}/recover`, { method: "POST", body: { since: values.since } })}
        done=${(r) => `Queued ${r.queued}.`}
      >
        <${Input} label="Send again what failed or was held since" name="since" value=${dayAgo()} size="22" />
      </${ActionForm}>
      <${ActionForm}
        label="Rotate the secret"
        name="Rotate the signing secret"
        run=${(values) => api(`${path}/secret/rotate`, { method: "POST", body: values.graceSeconds ? { graceSeconds: Number(values.graceSeconds) } : {} })}
        done=${(r) => `Rotated at ${r.at}: the new secret signs from now.`}
      >
        <${Input} label="Old secret's grace (seconds)" name="graceSeconds" value="86400" type="number" size="8" />
      </${ActionForm}>
      <${Secrets} path=${path} />
    </section>`;
}

// The secrets are shown only when asked for (they sign every delivery).
class Secrets extends Component {
  state = { shown: null, error: null };

  show = async () => {
    try {
      this.setState({ shown: await api(`${this.props.path}/secret`), error: null });
    } catch (error) {
      this.setState({ error });
    }
  };

  render(_, { shown, error }) {
    return html`<div class="secrets">
      <button type="button" onClick=${this.show}>${shown ? "Show the secrets again" : "Show the secrets"}</button>
      ${error ? html`<p class="error" role="alert">${error.message}</p>` : null}
      ${shown
        ? html`<ul>
            ${shown.secrets.map((s) => html`<li><code>${s.secret}</code> since ${s.createdAt}${s.expiresAt ? `, until ${s.expiresAt}` : ", the newest"}</li>`)}
          </ul>`
        : null}
    </div>`;
  }
}

export function EndpointView({ route }) {
  return html`<${Heading}>Endpoint ${route.id}</${Heading}>
    <${Loaded} load=${() => loadEndpoint(route.id)} view=${EndpointPage} />`;
}
