from __future__ import annotations

import uuid

import pytest

from chalicelib.domain.access import Action, Principal, Role, allowed, known_roles

ME = uuid.uuid4()
OTHER = uuid.uuid4()
OWN_ACTIONS = {
    Action.READ_USER,
    Action.CHANGE_USER,
    Action.DELETE_USER,
    Action.READ_USER_EVENTS,
    Action.READ_EVENT,
    Action.READ_DELIVERIES,
    Action.CREATE_SCHEDULE,
    Action.LIST_SCHEDULES,
    Action.READ_SCHEDULE,
    Action.CHANGE_SCHEDULE,
    Action.DELETE_SCHEDULE,
    Action.PAUSE_SCHEDULE,
    Action.RESUME_SCHEDULE,
    Action.PREVIEW_SCHEDULE,
}


def who(*roles: str, sub: str = str(ME)) -> Principal:
    return Principal.of(sub, roles)


@pytest.mark.parametrize("action", list(Action))
def test_admin_may_do_everything_to_anyone(action: Action) -> None:
    assert allowed(who("admin"), action, OTHER)
    assert allowed(who("admin"), action)


@pytest.mark.parametrize("action", list(Action))
def test_service_may_do_everything_but_retry_and_manage_endpoints(action: Action) -> None:
    admin_only = {Action.RETRY_EVENT, Action.MANAGE_ENDPOINTS}
    assert allowed(who("service", sub="billing"), action, OTHER) is (action not in admin_only)


@pytest.mark.parametrize("action", list(Action))
def test_user_only_for_itself_and_never_the_list(action: Action) -> None:
    assert allowed(who("user"), action, ME) is (action in OWN_ACTIONS)
    assert not allowed(who("user"), action, OTHER)
    assert not allowed(who("user"), action)  # no owner: list, create


def test_subject_compared_as_a_uuid_not_as_text() -> None:
    assert allowed(who("user", sub=str(ME).upper()), Action.READ_USER, ME)
    assert not allowed(who("user", sub="not-a-uuid"), Action.READ_USER, ME)


def test_unknown_roles_are_dropped_and_grant_nothing() -> None:
    nobody = Principal.of(str(ME), ["root", "Admin", ""])
    assert nobody.roles == frozenset()
    assert not any(allowed(nobody, action, ME) for action in Action)


@pytest.mark.parametrize(
    "name", ["admin ", " admin", "Admin", "ADMIN", "service user", "admin,service", "admin\n"]
)
def test_a_role_counts_only_on_an_exact_match(name: str) -> None:
    assert known_roles([name]) == []
    assert Principal.of(str(ME), [name, "user"]).roles == {Role.USER}


def test_roles_add_up() -> None:
    both = who("user", "service")
    assert both.roles == {Role.USER, Role.SERVICE}
    assert allowed(both, Action.LIST_USERS)
    assert not allowed(both, Action.RETRY_EVENT, ME)
