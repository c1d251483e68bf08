"""event-scheduler's Chalice app: declarations only; each handler calls into chalicelib.

Every route but /health and /openapi.json sits behind the `jwt_auth` authorizer; what a caller
may then do is decided per route in chalicelib/api with chalicelib/domain/access.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import AuthRequest, AuthResponse, Chalice, CloudWatchEvent, Cron, Request, Response, SQSEvent

from chalicelib import bootstrap, handlers
from chalicelib.api import (
    audiences,
    auth,
    console,
    cors,
    endpoints,
    events,
    http,
    idempotency,
    openapi,
    overview,
    schedules,
    users,
)
from chalicelib.api import health as health_check

# Powertools owns the logger named after the service; Chalice adding its own handler to it
# printed every line twice.
app = Chalice(app_name="event-scheduler", configure_logs=False)
app.api.cors = cors.from_env()  # before the routes: each route takes the default when declared


def request() -> Request:
    current = app.current_request
    assert current is not None, "only inside a route"
    return current


def body() -> http.Body:
    return http.Body(request().raw_body, request().headers.get("content-type"))


def container() -> bootstrap.Container:
    """The services, built from settings on first use (importing app.py builds nothing): each
    route takes its one service here and hands it to chalicelib/api."""
    return bootstrap.container()


def context() -> dict[str, Any]:
    """The request context; the authorizer's claims are under "authorizer"."""
    return request().context


# On every POST that creates: Idempotency-Key (docs/delivery.md).
idempotent = idempotency.for_requests(request, lambda: container().idempotency)


@app.middleware("http")
def api_shape(event: Request, get_response: Callable[[Request], Response]) -> Response:
    return http.in_api_shape(get_response(event))


@app.authorizer(ttl_seconds=auth.CACHE_TTL_SECONDS)
def jwt_auth(auth_request: AuthRequest) -> AuthResponse:
    return auth.authorize(auth_request.token)


@app.route("/health", methods=["GET"])
def health() -> Response:
    return health_check.check(container().health)


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    return openapi.serve()


# The console (docs/console.md): an HTML page and its files, no token (they hold no data); each
# view asks the routes below with the token the person signs in with. Not in openapi.json.
@app.route("/console", methods=["GET"])
def console_page() -> Response:
    return console.page()


@app.route("/console/assets/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    return console.asset(name)


@app.route("/user", methods=["POST"], authorizer=jwt_auth)
@idempotent
def create_user() -> Response:
    return users.create(container().users, context(), body())


@app.route("/user/import", methods=["POST"], authorizer=jwt_auth)
@idempotent
def import_users() -> dict[str, Any] | Response:
    return users.import_batch(container().imports, context(), body())


@app.route("/user", methods=["GET"], authorizer=jwt_auth)
def list_users() -> dict[str, Any] | Response:
    return users.list_page(container().users, context(), request().query_params)


@app.route("/user/{user_id}", methods=["GET"], authorizer=jwt_auth)
def read_user(user_id: str) -> dict[str, Any] | Response:
    return users.read(container().users, context(), user_id)


@app.route("/user/{user_id}", methods=["PUT"], authorizer=jwt_auth)
def replace_user(user_id: str) -> dict[str, Any] | Response:
    return users.replace(container().users, context(), user_id, body())


@app.route("/user/{user_id}", methods=["PATCH"], authorizer=jwt_auth)
def patch_user(user_id: str) -> dict[str, Any] | Response:
    return users.patch(container().users, context(), user_id, body())


@app.route("/user/{user_id}", methods=["DELETE"], authorizer=jwt_auth)
def delete_user(user_id: str) -> Response:
    return users.delete(container().users, context(), user_id)


@app.route("/user/{user_id}/events", methods=["GET"], authorizer=jwt_auth)
def user_events(user_id: str) -> dict[str, Any] | Response:
    return users.events(container().users, context(), user_id)


@app.route("/user/{user_id}/schedules", methods=["POST"], authorizer=jwt_auth)
@idempotent
def create_schedule(user_id: str) -> Response:
    return schedules.create(container().schedules, context(), user_id, body())


@app.route("/user/{user_id}/schedules", methods=["GET"], authorizer=jwt_auth)
def list_schedules(user_id: str) -> dict[str, Any] | Response:
    return schedules.list_page(container().schedules, context(), user_id, request().query_params)


@app.route("/schedules", methods=["POST"], authorizer=jwt_auth)
@idempotent
def create_audience_schedule() -> Response:
    return audiences.create(container().schedules, context(), body())


@app.route("/schedules", methods=["GET"], authorizer=jwt_auth)
def list_all_schedules() -> dict[str, Any] | Response:
    return audiences.list_page(container().schedules, context(), request().query_params)


@app.route("/schedules/{schedule_id}/audience", methods=["GET"], authorizer=jwt_auth)
def schedule_audience(schedule_id: str) -> dict[str, Any] | Response:
    return audiences.audience(container().schedules, context(), schedule_id, request().query_params)


@app.route("/schedules/{schedule_id}", methods=["GET"], authorizer=jwt_auth)
def read_schedule(schedule_id: str) -> dict[str, Any] | Response:
    return schedules.read(container().schedules, context(), schedule_id)


@app.route("/schedules/{schedule_id}", methods=["PATCH"], authorizer=jwt_auth)
def patch_schedule(schedule_id: str) -> dict[str, Any] | Response:
    return schedules.patch(container().schedules, context(), schedule_id, body())


@app.route("/schedules/{schedule_id}", methods=["DELETE"], authorizer=jwt_auth)
def delete_schedule(schedule_id: str) -> Response:
    return schedules.delete(container().schedules, context(), schedule_id)


@app.route("/schedules/{schedule_id}/occurrences", methods=["GET"], authorizer=jwt_auth)
def schedule_occurrences(schedule_id: str) -> dict[str, Any] | Response:
    return schedules.occurrences(container().schedules, context(), schedule_id, request().query_params)


@app.route("/schedules/{schedule_id}/pause", methods=["POST"], authorizer=jwt_auth)
def pause_schedule(schedule_id: str) -> dict[str, Any] | Response:
    return schedules.pause(container().schedules, context(), schedule_id)


@app.route("/schedules/{schedule_id}/resume", methods=["POST"], authorizer=jwt_auth)
def resume_schedule(schedule_id: str) -> dict[str, Any] | Response:
    return schedules.resume(container().schedules, context(), schedule_id, body())


@app.route("/events", methods=["GET"], authorizer=jwt_auth)
def list_events() -> dict[str, Any] | Response:
    return events.list_page(container().events, context(), request().query_params)


@app.route("/events/{event_id}", methods=["GET"], authorizer=jwt_auth)
def read_event(event_id: str) -> dict[str, Any] | Response:
    return events.read(container().events, context(), event_id)


@app.route("/events/{event_id}/deliveries", methods=["GET"], authorizer=jwt_auth)
def event_deliveries(event_id: str) -> dict[str, Any] | Response:
    return events.deliveries(container().events, context(), event_id)


@app.route("/events/{event_id}/retry", methods=["POST"], authorizer=jwt_auth)
def retry_event(event_id: str) -> Response:
    return events.retry(container().events, context(), event_id)


@app.route("/endpoints", methods=["POST"], authorizer=jwt_auth)
@idempotent
def create_endpoint() -> Response:
    return endpoints.create(container().endpoints, context(), body())


@app.route("/endpoints", methods=["GET"], authorizer=jwt_auth)
def list_endpoints() -> dict[str, Any] | Response:
    return endpoints.list_page(container().endpoints, context(), request().query_params)


@app.route("/endpoints/{endpoint_id}", methods=["GET"], authorizer=jwt_auth)
def read_endpoint(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.read(container().endpoints, context(), endpoint_id)


@app.route("/endpoints/{endpoint_id}", methods=["PATCH"], authorizer=jwt_auth)
def patch_endpoint(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.patch(container().endpoints, context(), endpoint_id, body())


@app.route("/endpoints/{endpoint_id}", methods=["DELETE"], authorizer=jwt_auth)
def delete_endpoint(endpoint_id: str) -> Response:
    return endpoints.delete(container().endpoints, context(), endpoint_id)


@app.route("/endpoints/{endpoint_id}/secret", methods=["GET"], authorizer=jwt_auth)
def endpoint_secret(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.secret(container().endpoints, context(), endpoint_id)


@app.route("/endpoints/{endpoint_id}/secret/rotate", methods=["POST"], authorizer=jwt_auth)
def rotate_endpoint_secret(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.rotate(container().endpoints, context(), endpoint_id, body())


@app.route("/endpoints/{endpoint_id}/stats", methods=["GET"], authorizer=jwt_auth)
def endpoint_stats(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.stats(container().endpoints, context(), endpoint_id)


@app.route("/endpoints/{endpoint_id}/enable", methods=["POST"], authorizer=jwt_auth)
def enable_endpoint(endpoint_id: str) -> dict[str, Any] | Response:
    return endpoints.enable(container().endpoints, context(), endpoint_id)


@app.route("/endpoints/{endpoint_id}/recover", methods=["POST"], authorizer=jwt_auth)
def recover_endpoint(endpoint_id: str) -> Response:
    return endpoints.recover(container().endpoints, context(), endpoint_id, body())


@app.route("/events/{event_id}/replay", methods=["POST"], authorizer=jwt_auth)
def replay_event(event_id: str) -> Response:
    return endpoints.replay(container().endpoints, context(), event_id, body())


@app.route("/overview", methods=["GET"], authorizer=jwt_auth)
def read_overview() -> dict[str, Any] | Response:
    return overview.read(container().overview, context())


# cron(* * * * ? *), not rate(1 minute): a rate counts from the rule's creation; either fires at
# some second of the minute, which the sweep's look-ahead absorbs.
@app.schedule(Cron("*", "*", "*", "*", "?", "*"), name="sweep")
def sweep(event: CloudWatchEvent) -> dict[str, Any]:
    return handlers.sweep()


@app.on_sqs_message(queue=handlers.QUEUE_NAME, batch_size=10, name="deliver")
def deliver(event: SQSEvent) -> dict[str, Any]:
    return handlers.deliver(event.to_dict()["Records"])


@app.lambda_function(name="migrate")
def migrate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run by the deploy (a CloudFormation custom resource): applies pending migrations."""
    from chalicelib import deploy  # psycopg: only this function needs it at import

    return deploy.on_deploy(event, container().settings.database_url)
