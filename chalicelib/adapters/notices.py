"""Operational events about endpoints to the operations topic (SNS, OPS_TOPIC_ARN; the CDK's,
with its alarm). The services log each one as well (services/endpoints.announce): that line is
what `make run` prints, and all there is without a topic."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib.domain.instants import iso_utc


class EndpointNotices:
    def __init__(self, sns: Any = None, topic_arn: str | None = None) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, kind: str, endpoint_id: UUID, at: datetime, detail: str = "") -> None:
        if self._sns is None or not self._topic_arn:
            return
        notice = {"type": kind, "endpointId": str(endpoint_id), "at": iso_utc(at), "detail": detail}
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=kind,
            Message=json.dumps(notice),
            MessageAttributes={"type": {"DataType": "String", "StringValue": kind}},
        )
