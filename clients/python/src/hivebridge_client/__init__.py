"""hivebridge-client: Python SDK for hivebridge's DeviceBridge and FleetJobs gRPC APIs.

    from hivebridge_client import Bridge, TLS, commands, new_request_id

The generated messages are in hive.bridge.v1 (device_bridge_pb2,
commands_pb2, events_pb2, jobs_pb2) and re-exported here as `api`,
`commands_pb2`, `events_pb2`, `jobs_pb2`; the asyncio client is hivebridge_client.aio.Bridge.
"""

from hive.bridge.v1 import commands_pb2, events_pb2, jobs_pb2
from hive.bridge.v1 import device_bridge_pb2 as api

from . import commands
from ._channel import TLS
from ._errors import (Aborted, BridgeError, DeadlineExceeded, InvalidArgument, NotFound,
                      PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable,
                      Unimplemented)
from ._requests import new_request_id
from ._retry import RetryPolicy
from .bridge import Bridge, DeviceWatch, JobWatch, Subscription

__version__ = "0.1.0"

__all__ = [
    "Aborted", "Bridge", "BridgeError", "DeadlineExceeded", "DeviceWatch", "InvalidArgument", "JobWatch",
    "NotFound", "PermissionDenied", "ResourceExhausted", "RetryPolicy", "Subscription", "TLS",
    "Unauthenticated", "Unavailable", "Unimplemented", "api", "commands", "commands_pb2",
    "events_pb2", "jobs_pb2", "new_request_id",
]
