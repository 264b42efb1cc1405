"""A local fake language-model server speaking the OpenAI and Mistral chat protocols.

Tests drive the real `openai` and `mistralai` clients against it, so what is tested is the code
path production runs, down to the HTTP bytes. Both SDKs post to `/v1/chat/completions` and read
the same JSON and SSE shapes; the Mistral flavour (recognised by the SDK's user agent) puts
`usage` on the last stream chunk, the OpenAI flavour sends it as a separate chunk with no choices,
and only when the request asks for it (`stream_options.include_usage`), as the real servers do.

Use the `fake_llm` fixture (see the module's bottom)::

    def test_answer(fake_llm):
        fake_llm.reply = lambda body: "Selon [1], la piscine ouvre à 9 h."
        provider = OpenAIProvider(base_url=fake_llm.openai_url, model="fake", api_key="k")
        ...
        assert "Dupont" not in fake_llm.requests[-1].text

Knobs, all plain attributes that a test may set at any time:

- `reply`: the answer, a string or a callable receiving the parsed request body;
- `fail_status` / `fail_times`: answer that HTTP status (500, 429, 401...) to the next
  `fail_times` chat requests (None: to all of them), with a small `Retry-After` (`retry_after_s`)
  so the clients' own back-off stays fast;
- `delay_s`: wait before answering (timeout tests); `piece_delay_s`: wait between stream pieces;
- `drop_mid_stream`: send the first piece of a stream, then cut the connection;
- `reject_stream_options`: answer 400 to requests carrying `stream_options`, as some
  OpenAI-compatible servers do.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Reply = str | Callable[[dict[str, Any]], str]

DEFAULT_REPLY = "Bonjour, voici une réponse de test du modèle de langage."


@dataclass
class RecordedRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any] | None
    raw: bytes = b""
    flavour: str = "openai"  # "openai" | "mistral", from the user agent

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    @property
    def text(self) -> str:
        """Everything the client sent in the body, decoded: handy for `"x" not in req.text`."""
        return self.raw.decode("utf-8", errors="replace")

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")


@dataclass
class FakeLLMServer:
    """A threaded HTTP server on 127.0.0.1 answering chat completions; see the module doc."""

    reply: Reply = DEFAULT_REPLY
    fail_status: int | None = None
    fail_times: int | None = None
    fail_message: str = "Erreur simulée par le faux serveur."
    retry_after_s: float | None = 0.05
    delay_s: float = 0.0
    piece_delay_s: float = 0.0
    drop_mid_stream: bool = False
    reject_stream_options: bool = False
    # How many characters each streamed piece carries (at least 2 pieces for any 2+ char reply).
    piece_chars: int = 8
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        # A short poll interval: `shutdown()` waits for it, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "le faux serveur n'est pas démarré"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Root URL: what the Mistral SDK takes as `server_url`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """What the OpenAI SDK takes as `base_url`."""
        return f"{self.url}/v1"

    # --- what tests look at ----------------------------------------------------------------
    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def reset(self) -> None:
        """Forget requests and restore every knob to its default."""
        for knob in fields(self):
            if knob.name == "requests":
                continue
            default = (
                knob.default_factory() if knob.default_factory is not MISSING else knob.default
            )
            setattr(self, knob.name, default)
        with self._lock:
            self.requests.clear()

    # --- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_failure(self) -> int | None:
        """The status to fail this request with, counting down `fail_times`."""
        with self._lock:
            if self.fail_status is None:
                return None
            if self.fail_times is None:
                return self.fail_status
            if self.fail_times <= 0:
                return None
            self.fail_times -= 1
            return self.fail_status

    def _sleep(self, seconds: float) -> None:
        # Interruptible, so stopping the server never waits for a slow answer.
        if seconds > 0:
            self._stopping.wait(seconds)

    def _answer_text(self, body: dict[str, Any]) -> str:
        reply = self.reply
        return reply(body) if callable(reply) else str(reply)

    def _pieces(self, text: str) -> list[str]:
        size = max(1, self.piece_chars)
        if len(text) > 1 and len(text) <= size:
            size = max(1, len(text) // 2)
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _prompt_tokens(body: dict[str, Any]) -> int:
    """A deterministic stand-in for a tokenizer: words in the messages."""
    words = 0
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content)
        words += len(str(content or "").split())
    return words


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # Clients that time out close their socket while the handler still writes: not an error.
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._read_and_record(with_body=False)
        if self.path.rstrip("/").endswith("/models"):
            data = [
                {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for name in self.fake.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, "Not found")

    def do_POST(self) -> None:
        record = self._read_and_record(with_body=True)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_error(404, "Not found")
            return
        body = record.body
        if body is None:
            self._send_error(400, "Invalid JSON body")
            return
        status = self.fake._take_failure()
        if status is not None:
            self._send_error(status, self.fake.fail_message, retry_after=True)
            return
        if self.fake.reject_stream_options and "stream_options" in body:
            self._send_error(400, "Unrecognized request argument supplied: stream_options")
            return
        self.fake._sleep(self.fake.delay_s)
        if self.fake._stopping.is_set():
            return
        text = self.fake._answer_text(body)
        if body.get("stream"):
            self._stream(body, text, record.flavour)
        else:
            self._complete(body, text)

    # --- answers ---------------------------------------------------------------------------
    def _complete(self, body: dict[str, Any], text: str) -> None:
        prompt = _prompt_tokens(body)
        completion = len(self.fake._pieces(text))
        self._send_json(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or "fake-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "tool_calls": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )

    def _stream(self, body: dict[str, Any], text: str, flavour: str) -> None:
        pieces = self.fake._pieces(text)
        prompt = _prompt_tokens(body)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(pieces),
            "total_tokens": prompt + len(pieces),
        }
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or "fake-model",
        }
        wants_usage_chunk = flavour == "openai" and bool(
            (body.get("stream_options") or {}).get("include_usage")
        )

        def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
            data = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])
            if wants_usage_chunk:
                data["usage"] = None
            data.update(extra)
            return data

        def events() -> Iterator[dict[str, Any] | str]:
            yield chunk({"role": "assistant", "content": ""}, None)
            for piece in pieces:
                yield chunk({"content": piece}, None)
            if flavour == "mistral":
                yield chunk({"content": ""}, "stop", usage=usage)
            else:
                yield chunk({}, "stop")
                if wants_usage_chunk:
                    yield dict(base, choices=[], usage=usage)
            yield "[DONE]"

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events():
            payload = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
            self._write_chunk(f"data: {payload}\n\n".encode())
            if isinstance(event, dict) and event.get("choices"):
                delta = event["choices"][0]["delta"]
                if delta.get("content"):
                    if self.fake.drop_mid_stream:
                        self._drop()
                        return
                    self.fake._sleep(self.fake.piece_delay_s)
        self._write_chunk(b"")  # last chunk of the chunked body

    # --- plumbing --------------------------------------------------------------------------
    def _read_and_record(self, *, with_body: bool) -> RecordedRequest:
        raw = b""
        length = int(self.headers.get("Content-Length") or 0)
        if with_body and length:
            raw = self.rfile.read(length)
        body: dict[str, Any] | None = None
        if with_body:
            try:
                parsed = json.loads(raw or b"null")
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        flavour = "mistral" if "mistral" in headers.get("user-agent", "").lower() else "openai"
        record = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=headers,
            body=body,
            raw=raw,
            flavour=flavour,
        )
        self.fake._record(record)
        return record

    def _send_json(self, status: int, data: dict[str, Any], headers: dict | None = None) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, status: int, message: str, *, retry_after: bool = False) -> None:
        headers = {}
        if retry_after and self.fake.retry_after_s is not None:
            headers["Retry-After"] = f"{self.fake.retry_after_s:g}"
            headers["retry-after-ms"] = str(int(self.fake.retry_after_s * 1000))
        # OpenAI's error shape; Mistral's clients only read the status and the raw body.
        error = {"message": message, "type": "fake_error", "param": None, "code": str(status)}
        self._send_json(status, {"error": error, "message": message}, headers)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        # Cut the TCP connection without the chunked terminator: the client sees a truncated body.
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A started fake language-model server, stopped after the test."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
