"""Pico GraphQL client with error classification."""

import json
import logging
import tempfile

import ijson
import requests
from requests.adapters import HTTPAdapter

from . import documents, features, order_batch
from .errors import BODY_LIMIT, PicoPermanentError, PicoRetryableError

_logger = logging.getLogger(__name__)

TOKEN_HEADER = "x-pico-api-org"
RETRYABLE_STATUSES = frozenset({408, 429})
# Long enough to keep an HTML error page's gist in a message shown on a queue row.
MESSAGE_LIMIT = 500


def _error_from_json(payload):
    """Return (message, code) of the first GraphQL error in a parsed answer, or None."""
    if not isinstance(payload, dict):
        return None
    errors = payload.get("errors")
    if not errors or not isinstance(errors, list):
        return None
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    message = str(first.get("message") or "GraphQL error without a message")
    extensions = first.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return message, code


def _field(data, name):
    """Return data[name], or raise a permanent error when Pico left it out."""
    if data.get(name) is None:
        raise PicoPermanentError(f"Pico's answer has no {name!r} field")
    return data[name]


# Bytes of a streamed answer written to its temporary file at a time.
DOWNLOAD_CHUNK = 256 * 1024
# ijson events that start a value (an item of a list is one of these).
_VALUE_STARTS = frozenset(
    {"start_map", "start_array", "string", "number", "boolean", "null"}
)


class ListAnswer:
    """One list field of a GraphQL answer, read one item at a time.

    The body is kept in a temporary file (not in memory) and parsed
    incrementally (ijson): iterating yields the items of `data.<field>` one by
    one, each iteration a new pass over the file, so neither the body nor its
    parsed list is ever held whole. `len()` is the number of items. One pass at a
    time: two iterations may not be interleaved. Close it (or use `with`) to
    delete the file.
    """

    def __init__(self, handle, field, count):
        self._handle = handle
        self.field = field
        self.count = count

    def __len__(self):
        return self.count

    def __iter__(self):
        self._handle.seek(0)
        return ijson.items(self._handle, f"data.{self.field}.item", use_float=True)

    def close(self):
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _scan_answer(handle, field):
    """Check a GraphQL answer in `handle` as `_handle` does; return its item count.

    One pass over the whole body before any of it is used, so a truncated or
    malformed answer is refused before anything is applied, as when it was read
    whole. Returns (count, first GraphQL error or None, shape problem or None).
    """
    item, listed = f"data.{field}.item", f"data.{field}"
    count, has_errors, data_event, field_event = 0, False, None, None
    for prefix, event, value in ijson.parse(handle):
        if prefix == item:
            if event in _VALUE_STARTS:
                count += 1
        elif prefix == listed:
            if event in _VALUE_STARTS:
                field_event = event
        elif prefix == "data":
            if event in _VALUE_STARTS:
                data_event = event
        elif not prefix and event == "map_key" and value == "errors":
            has_errors = True
    error = None
    if has_errors:
        handle.seek(0)
        errors = next(ijson.items(handle, "errors", use_float=True), None)
        error = _error_from_json({"errors": errors})
    if data_event != "start_map":
        problem = "Pico answered without a data object"
    elif field_event in (None, "null"):
        problem = f"Pico's answer has no {field!r} field"
    elif field_event != "start_array":
        problem = f"Pico's {field!r} field is not a list"
    else:
        problem = None
    return count, error, problem


class _TimeoutAdapter(HTTPAdapter):
    """Applies the client's (connect, read) timeouts to every request it sends."""

    def __init__(self, timeout, **kwargs):
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, timeout=None, **kwargs):
        return super().send(request, timeout=timeout or self._timeout, **kwargs)


class PicoClient:
    """Minimal GraphQL-over-HTTP client for one Pico instance."""

    def __init__(
        self,
        endpoint,
        token,
        connect_timeout=5.0,
        read_timeout=30.0,
        session=None,
        features=None,
    ):
        self.endpoint = endpoint
        self._token = token
        # The optional API features (core.features) the documents may use; the
        # documented minimum unless told otherwise.
        self.features = frozenset(features or ())
        self.timeout = (connect_timeout, read_timeout)
        self.session = session if session is not None else requests.Session()
        # Timeouts live on the transport rather than on each call, so that wrappers
        # of Session.send (test harnesses, proxies) never see or alter the tuple.
        adapter = _TimeoutAdapter(self.timeout)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self):
        # The token is a credential: keep it out of reprs, logs and tracebacks.
        return f"<PicoClient {self.endpoint}>"

    def close(self):
        """Close the underlying HTTP session."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def execute(self, document, variables=None, operation_name=None):
        """Send one GraphQL document and return its `data` object."""
        return self._handle(self._post(document, variables, operation_name))

    def _post(self, document, variables=None, operation_name=None, stream=False):
        """POST one GraphQL document; return the response (PicoError if none)."""
        body = {"query": document}
        if variables is not None:
            body["variables"] = variables
        if operation_name:
            body["operationName"] = operation_name
        headers = {
            TOKEN_HEADER: self._token or "",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            response = self.session.post(
                self.endpoint,
                data=json.dumps(body),
                headers=headers,
                # A redirected POST turns into a GET and loses the body; a redirect
                # means a wrong endpoint, which the user must fix.
                allow_redirects=False,
                stream=stream,
            )
        except requests.Timeout as exc:
            raise PicoRetryableError(f"timeout calling Pico: {exc}") from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise PicoRetryableError(f"cannot reach Pico: {exc}") from exc
        except requests.RequestException as exc:
            # Invalid URL, missing schema and the like: retrying changes nothing.
            raise PicoPermanentError(f"invalid request to Pico: {exc}") from exc
        _logger.debug(
            "Pico answered HTTP %s to %s", response.status_code, self.endpoint
        )
        return response

    def list_answer(self, document, field):
        """Send a query whose answer is one big list; return it as a ListAnswer.

        The body goes to a temporary file as it arrives and is checked in one
        incremental pass (errors, `data.<field>` a list) before it is returned:
        the same errors as `execute` + `_field`, without the whole body or its
        parsed copy in memory.
        """
        response = self._post(document, stream=True)
        handle = None
        try:
            if not 200 <= response.status_code < 300:
                self._handle(response)  # raises
            # Owned by the ListAnswer returned, which closes it.
            handle = tempfile.TemporaryFile()  # noqa: SIM115
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                handle.write(chunk)
            handle.seek(0)
            try:
                count, error, problem = _scan_answer(handle, field)
            except ijson.JSONError:
                error, problem = None, "Pico answered with a body that is not JSON"
            if error or problem:
                handle.seek(0)
                text = self._redact(
                    handle.read(BODY_LIMIT).decode("utf-8", errors="replace")
                )
                if error:
                    message, code = error
                    raise PicoPermanentError(
                        self._redact(message),
                        status=response.status_code,
                        code=code,
                        body=text,
                    )
                raise PicoPermanentError(
                    problem, status=response.status_code, body=text
                )
        except requests.RequestException as exc:
            if handle is not None:
                handle.close()
            raise PicoRetryableError(f"cannot read Pico's answer: {exc}") from exc
        except BaseException:
            if handle is not None:
                handle.close()
            raise
        finally:
            response.close()
        handle.seek(0)
        return ListAnswer(handle, field, count)

    def _redact(self, text):
        """Text without the token, should a server echo it back."""
        if self._token and len(self._token) >= 4 and self._token in text:
            return text.replace(self._token, "***")
        return text

    def _handle(self, response):
        """Return the `data` of a response or raise the matching PicoError."""
        status = response.status_code
        # Whatever Pico answers ends up on queue rows and in logs: an echoed token
        # (a proxy's error page, a debugging endpoint) must not.
        text = self._redact(response.text or "")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not 200 <= status < 300:
            error = _error_from_json(payload)
            if error:
                message, code = error
                message = self._redact(message)
            else:
                message = (
                    text.strip()[:MESSAGE_LIMIT] or f"HTTP {status} {response.reason}"
                )
                code = None
            if status in RETRYABLE_STATUSES or status >= 500:
                cls = PicoRetryableError
            else:
                cls = PicoPermanentError
            raise cls(message, status=status, code=code, body=text)
        if payload is None:
            raise PicoPermanentError(
                "Pico answered with a body that is not JSON", status=status, body=text
            )
        error = _error_from_json(payload)
        if error:
            message, code = error
            raise PicoPermanentError(
                self._redact(message), status=status, code=code, body=text
            )
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise PicoPermanentError(
                "Pico answered without a data object", status=status, body=text
            )
        return data

    def detect_features(self):
        """Ask Pico which optional features it has; use them from now on.

        Return the core.features.Detection (a refused introspection falls back to
        the documented minimum).
        """
        detection = features.detect(self)
        self.features = detection.features
        return detection

    def fragment(self, stream):
        """The webhook responseFragment for a stream, built from the features."""
        if stream == documents.COMPLETION_STREAM:
            return features.completion_fragment(self.features)
        if stream == documents.OPERATION_STREAM:
            return features.operation_fragment(self.features)
        raise ValueError(f"no fragment for stream {stream!r}")

    def operations(self):
        """Return every Operation (product or process) as a list of dicts."""
        query = features.operations_query(self.features)
        return _field(self.execute(query), "operations")

    def sub_operations(self):
        """Return every parent/child link between operations."""
        return _field(self.execute(documents.SUB_OPERATIONS_QUERY), "subOperations")

    def operations_answer(self):
        """Every Operation, as a ListAnswer (read one at a time; close it)."""
        return self.list_answer(features.operations_query(self.features), "operations")

    def sub_operations_answer(self):
        """Every parent/child link, as a ListAnswer (read one at a time; close it)."""
        return self.list_answer(documents.SUB_OPERATIONS_QUERY, "subOperations")

    def operation_order_completes(self):
        """Return every completion Pico has recorded, as it lists them."""
        data = self.execute(features.completions_query(self.features))
        return _field(data, "operationOrderCompletes")

    def webhook_subscriptions(self):
        """Return the registered webhook subscriptions."""
        data = self.execute(documents.WEBHOOK_SUBSCRIPTIONS_QUERY)
        return _field(data, "webhookSubscriptions")

    def save_order(
        self,
        operation_id,
        external_order_id,
        order_index,
        reserved_serial=None,
        optional_operation_ids=None,
        secondary_external_order_id=None,
    ):
        """Create or update one operation order unit and return Pico's message.

        Raise core.features.FeatureMissing (permanent) for a reserved serial this
        Pico cannot take.
        """
        order = features.save_input(
            self.features,
            operation_id,
            external_order_id,
            order_index,
            reserved_serial=reserved_serial,
            optional_operation_ids=optional_operation_ids,
            secondary_external_order_id=secondary_external_order_id,
        )
        return self.save(order)

    def save(self, order):
        """Send one OperationOrderSaveInput (from `features.save_input`); return
        Pico's message."""
        data = self.execute(documents.SAVE_ORDER_MUTATION, {"input": order})
        return self._redact(str(_field(_field(data, "operationOrderSave"), "message")))

    def save_orders(self, orders):
        """Send several OperationOrderSaveInput (from `save_input`) in one
        document; return one core.order_batch.Outcome per order, in order.

        Raise PicoError when the request as a whole failed (network, timeout,
        5xx, 408, 429, 401...: every order retries), and order_batch.BatchRefused
        when Pico refused the batched document itself (nothing ran).
        """
        response = self._post(
            order_batch.save_document(len(orders)), order_batch.save_variables(orders)
        )
        status = response.status_code
        if not (200 <= status < 300 or status in order_batch.DOCUMENT_REFUSAL_STATUSES):
            self._handle(response)  # raises
        try:
            payload = response.json()
        except ValueError:
            payload = None
        try:
            outcomes = order_batch.read_answer(payload, len(orders), status)
        except order_batch.BatchRefused as exc:
            exc.message = self._redact(exc.message)
            exc.body = self._redact(response.text or "")[:BODY_LIMIT]
            raise
        return [order_batch.redacted(outcome, self._redact) for outcome in outcomes]

    def cancel_order(
        self, operation_id, external_order_id, order_index=None, cancel_all=False
    ):
        """Cancel one unstarted unit, or all with cancel_all; return the message."""
        # Pico distinguishes "no index" from index 0 only through cancelAll, so the
        # caller must say which one it means.
        if cancel_all == (order_index is not None):
            raise ValueError("give either order_index or cancel_all=True, not both")
        order = {"operationId": operation_id, "externalOrderId": external_order_id}
        if cancel_all:
            order["cancelAll"] = True
        else:
            order["orderIndex"] = order_index
        data = self.execute(documents.CANCEL_ORDER_MUTATION, {"input": order})
        return self._redact(
            str(_field(_field(data, "operationOrderCancel"), "message"))
        )

    def subscribe_webhook(
        self, subscription_id, response_fragment, webhook_url, headers
    ):
        """Register (or replace) a webhook and return its subscription handle."""
        request = {
            "subscriptionID": subscription_id,
            "responseFragment": response_fragment,
            "webhookUrl": webhook_url,
        }
        if headers is not None:
            request["webhookHeaders"] = headers
        data = self.execute(
            features.subscribe_mutation(self.features), {"input": request}
        )
        return data.get("webhookSubscribe") or {}

    def unsubscribe_webhook(self, subscription_id):
        """Remove a webhook; return True when Pico removed one."""
        data = self.execute(
            documents.UNSUBSCRIBE_WEBHOOK_MUTATION, {"subscriptionID": subscription_id}
        )
        return bool(data.get("webhookUnsubscribe"))
