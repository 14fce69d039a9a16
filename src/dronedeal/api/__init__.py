"""The REST API (SPEC §8): FastAPI under `/api/v1`, bearer tokens, problem+json errors.

`create_app` builds the application; routes translate HTTP to a service call and back,
nothing more: who may see which row is decided in `services.access`.
"""

from dronedeal.api.app import create_app

__all__ = ["create_app"]
