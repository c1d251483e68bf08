"""event-scheduler's Chalice app: declarations only; each handler calls into chalicelib."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, CloudWatchEvent, Rate, Request, Response, SQSEvent

from chalicelib import handlers
from chalicelib.api import events, users

app = Chalice(app_name="event-scheduler")


def request() -> Request:
    current = app.current_request
    assert current is not None, "only inside a route"
    return current


@app.route("/health", methods=["GET"])
def health() -> Response:
    return users.health()


@app.route("/user", methods=["POST"])
def create_user() -> Response:
    return users.create(request().raw_body)


@app.route("/user", methods=["GET"])
def list_users() -> dict[str, Any] | Response:
    return users.list_page(request().query_params)


@app.route("/user/{user_id}", methods=["GET"])
def read_user(user_id: str) -> dict[str, Any] | Response:
    return users.read(user_id)


@app.route("/user/{user_id}", methods=["PUT"])
def replace_user(user_id: str) -> dict[str, Any] | Response:
    return users.replace(user_id, request().raw_body)


@app.route("/user/{user_id}", methods=["PATCH"])
def patch_user(user_id: str) -> dict[str, Any] | Response:
    return users.patch(user_id, request().raw_body)


@app.route("/user/{user_id}", methods=["DELETE"])
def delete_user(user_id: str) -> Response:
    return users.delete(user_id)


@app.route("/user/{user_id}/events", methods=["GET"])
def user_events(user_id: str) -> dict[str, Any] | Response:
    return users.events(user_id)


@app.route("/events/{event_id}", methods=["GET"])
def read_event(event_id: str) -> dict[str, Any] | Response:
    return events.read(event_id)


@app.route("/events/{event_id}/deliveries", methods=["GET"])
def event_deliveries(event_id: str) -> dict[str, Any] | Response:
    return events.deliveries(event_id)


@app.route("/events/{event_id}/retry", methods=["POST"])
def retry_event(event_id: str) -> Response:
    return events.retry(event_id)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sweep")
def sweep(event: CloudWatchEvent) -> dict[str, Any]:
    return handlers.sweep()


@app.on_sqs_message(queue=handlers.QUEUE_NAME, batch_size=10, name="deliver")
def deliver(event: SQSEvent) -> dict[str, Any]:
    return handlers.deliver(event.to_dict()["Records"])
