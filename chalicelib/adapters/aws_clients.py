"""AWS clients from botocore alone: boto3 adds nothing a client of SQS or Secrets Manager uses.

Importing boto3 loads s3transfer (its S3 transfer manager, multiprocessing and concurrent
futures among it): ~45 ms of a cold start (scripts/bench_cold.py) for clients that are the
same botocore clients either way. botocore reads what boto3 would (the region and credentials
chain, `AWS_ENDPOINT_URL`); only the user agent lacks boto3's name.
"""

from __future__ import annotations

from typing import Any


def client(service: str, region: str | None, endpoint_url: str | None = None, config: Any = None) -> Any:
    """A botocore client of `service`, on a session of its own (a client is thread-safe; a
    session is not, so none is shared)."""
    from botocore.session import get_session  # here: importing this module costs nothing

    return get_session().create_client(service, region_name=region, endpoint_url=endpoint_url, config=config)
