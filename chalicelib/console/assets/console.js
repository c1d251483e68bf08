// The console: views by hash route (#/overview, #/events/{id}, ...), so a link can be pasted in
// an incident channel. Signed in with a token kept in this tab's session storage.
import { serviceOnly, token } from "./api.js";
import { EndpointView, EndpointsView } from "./endpoints.js";
import { EventView, EventsView } from "./events.js";
import { Component, html, render } from "./html.js";
import { OverviewView } from "./overview.js";
import { ScheduleView, SchedulesView } from "./schedules.js";
import { Heading } from "./ui.js";
import { UserView, UsersView } from "./users.js";

const VIEWS = {
  overview: [OverviewView, OverviewView, "Overview"],
  events: [EventsView, EventView, "Events"],
  users: [UsersView, UserView, "Users"],
  schedules: [SchedulesView, ScheduleView, "Schedules"],
  endpoints: [EndpointsView, EndpointView, "Endpoints"],
};

export function parse(hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const [view, id] = path.split("/").map(decodeURIComponent);
  return { view: view || "overview", id, params: new URLSearchParams(search) };
}

// make run prints .../console#token=...: the token moves to session storage and leaves the URL
// (and the history) before anything else runs.
function takeTokenFromUrl() {
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return;
  token.set(decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/overview`);
}

class SignIn extends Component {
  submit = (event) => {
    event.preventDefault();
    const value = new FormData(event.currentTarget).get("token");
    if (String(value || "").trim()) this.props.onSignIn(String(value));
  };

  render({ notice }) {
    return html`<main class="signin">
      <${Heading}>event-scheduler console</${Heading}>
      ${notice ? html`<p class="error" role="alert">${notice}</p>` : null}
      <form aria-label="Sign in" onSubmit=${this.submit}>
        <label>Token (admin or service)
          <input name="token" type="password" autocomplete="off" required size="48" />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The token stays in this tab (session storage) and is sent only in the Authorization header.</p>
    </main>`;
  }
}

class App extends Component {
  state = { hash: location.hash, signedIn: Boolean(token.get()), notice: null };

  componentDidMount() {
    window.addEventListener("hashchange", this.onHash);
    window.addEventListener("console:signed-out", this.onSignedOut);
  }

  componentDidUpdate(_, previous) {
    // A keyboard or screen-reader user lands on the new view's heading.
    if (previous.hash !== this.state.hash || previous.signedIn !== this.state.signedIn) {
      const heading = document.querySelector("main h1");
      if (heading) heading.focus();
    }
  }

  onHash = () => this.setState({ hash: location.hash });

  onSignedOut = () => this.setState({ signedIn: false, notice: "The token was refused (401): sign in again." });

  signIn = (value) => {
    token.set(value);
    if (!location.hash.startsWith("#/")) location.hash = "#/overview";
    this.setState({ signedIn: true, notice: null, hash: location.hash });
  };

  signOut = () => {
    token.clear();
    this.setState({ signedIn: false, notice: null });
  };

  render(_, { hash, signedIn, notice }) {
    if (!signedIn) return html`<${SignIn} notice=${notice} onSignIn=${this.signIn} />`;
    const route = parse(hash);
    const [list, one] = VIEWS[route.view] || [];
    const View = route.id ? one : list;
    return html`<header class="top">
        <span class="brand">event-scheduler</span>
        <nav aria-label="Views">
          <ul>
            ${Object.entries(VIEWS)
              .filter(([name]) => name !== "endpoints" || !serviceOnly())
              .map(
              ([name, [, , title]]) => html`<li>
                <a href=${`#/${name}`} aria-current=${route.view === name ? "page" : undefined}>${title}</a>
              </li>`,
            )}
          </ul>
        </nav>
        <button type="button" class="signout" onClick=${this.signOut}>Sign out</button>
      </header>
      <main>
        ${View ? html`<${View} key=${hash} route=${route} />` : html`<${Heading}>No view named ${route.view}</${Heading}>`}
      </main>`;
  }
}

takeTokenFromUrl();
render(html`<${App} />`, document.getElementById("app"));
