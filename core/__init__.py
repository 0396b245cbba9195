"""Odoo-free core of the Pico MES connector: client, payloads, keys, validation."""

from . import backoff, documents, errors, features, keys, payloads, schemas, signature
from .client import PicoClient
from .errors import PayloadError, PicoError, PicoPermanentError, PicoRetryableError

__all__ = [
    "PayloadError",
    "PicoClient",
    "PicoError",
    "PicoPermanentError",
    "PicoRetryableError",
    "backoff",
    "documents",
    "errors",
    "features",
    "keys",
    "payloads",
    "schemas",
    "signature",
]
