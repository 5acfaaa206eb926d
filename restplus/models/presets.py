"""Request presets: which decoding fields an OpenAI-compatible provider accepts, and under what names.

Providers that speak "the OpenAI API" disagree on the body: gpt-5 / o-series reasoning models reject
``max_tokens`` and any ``temperature`` (HTTP 400, which is not retried, so every row is an error);
Claude 4.5 rejects ``temperature`` and ``top_p`` together; vLLM and SGLang apply a checkpoint's
``generation_config.json`` (``repetition_penalty`` 1.05 for Qwen) unless the body overrides it. A
:class:`RequestPreset` states the body declaratively, so the choice is visible, testable and
recorded in the fingerprint (two runs with different request shapes never share cache entries).

``PRESETS`` is a :class:`~restplus.registry.Registry`: ``register_preset("my-proxy", RequestPreset(...))``
adds one. Anything a preset cannot express goes in ``extra_body``, which overrides any field
(``None`` deletes one) — see :func:`build_body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import ModelError
from ..records import Decoding
from ..registry import Registry

DECODING_FIELDS = tuple(f.name for f in fields(Decoding))  # temperature, max_tokens, top_p, seed, stop
_RESERVED = ("model", "messages")  # set by the adapter itself, never by a preset


@dataclass(frozen=True, slots=True)
class RequestPreset:
    """The body fields one provider gets besides ``model`` and ``messages``.

    sends      ``(Decoding field, body key)`` pairs sent with every request; ``seed`` is sent only
               when set and ``stop`` only when non-empty (an absent field is the provider default).
               A Decoding field left out is not sent, and a request that sets it to a non-default
               value is refused (no silent change of what was asked for).
    constants  ``(body key, value)`` pairs sent as they are, e.g. ``("repetition_penalty", 1.0)``.
    doc        one line for listings.
    """

    sends: tuple[tuple[str, str], ...]
    constants: tuple[tuple[str, Any], ...] = ()
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"sends": dict(self.sends), "constants": dict(self.constants)}


def _check_preset(name: str, preset: RequestPreset) -> None:
    if not isinstance(preset, RequestPreset):
        raise ModelError(f"request preset {name!r} must be a RequestPreset, got {type(preset).__name__}.")
    keys = [k for _, k in preset.sends] + [k for k, _ in preset.constants]
    for field, _ in preset.sends:
        if field not in DECODING_FIELDS:
            raise ModelError(f"request preset {name!r} sends unknown Decoding field {field!r}; "
                             f"fields are {', '.join(DECODING_FIELDS)}.")
    if "max_tokens" not in dict(preset.sends):
        raise ModelError(f"request preset {name!r} must send Decoding.max_tokens under some name "
                         "(e.g. ('max_tokens', 'max_completion_tokens')): an uncapped answer can run forever.")
    clash = sorted({k for k in keys if keys.count(k) > 1 or k in _RESERVED})
    if clash:
        raise ModelError(f"request preset {name!r} sets body key(s) {clash} twice or sets a reserved key "
                         f"({', '.join(_RESERVED)}); give each body key once.")


_CHAT = (("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_tokens"),
         ("seed", "seed"), ("stop", "stop"))
_GREEDY = (("repetition_penalty", 1.0),)  # the paper's greedy decoding, not the checkpoint's 1.05

PRESETS: Registry[RequestPreset] = Registry("request preset", ModelError, check=_check_preset)
for _name, _preset in (
    ("openai", RequestPreset(_CHAT, doc="OpenAI chat models (gpt-4o, gpt-4.1 ...): every sampling field")),
    ("openai-reasoning", RequestPreset(
        (("max_tokens", "max_completion_tokens"), ("seed", "seed")),
        doc="gpt-5 / o-series: max_completion_tokens; no temperature, top_p or stop (HTTP 400)")),
    ("anthropic", RequestPreset(
        (("temperature", "temperature"), ("max_tokens", "max_tokens"), ("stop", "stop")),
        doc="Claude via its OpenAI-compatible endpoint: temperature without top_p (4.5 rejects the pair)")),
    ("gemini", RequestPreset(
        (("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_tokens"), ("stop", "stop")),
        doc="Gemini via its OpenAI-compatible endpoint")),
    ("vllm", RequestPreset(_CHAT, _GREEDY, doc="vLLM serve: repetition_penalty 1.0 overrides generation_config")),
    ("sglang", RequestPreset(_CHAT, _GREEDY, doc="SGLang: repetition_penalty 1.0 overrides generation_config")),
    ("ollama", RequestPreset(_CHAT, doc="Ollama's /v1 endpoint")),
):
    PRESETS.register(_name, _preset)


def register_preset(name: str, preset: RequestPreset, *, replace: bool = False) -> RequestPreset:
    """Add a provider preset usable as ``load("openai", ..., preset=name)`` and ``--preset name``."""
    return PRESETS.register(name, preset, replace=replace)


def check_extra_body(extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """A detached JSON copy of ``extra_body``; refuses non-string keys and ``messages``."""
    import json

    if extra_body is None:
        return {}
    if not isinstance(extra_body, Mapping):
        raise ModelError(f"extra_body must be a JSON object (a dict), got {type(extra_body).__name__}: "
                         f"{extra_body!r}.")
    bad = [k for k in extra_body if not isinstance(k, str) or k == "messages"]
    if bad:
        raise ModelError(f"extra_body key(s) {bad!r} cannot be set: keys are strings and 'messages' is built "
                         "from the request's parts.")
    try:
        return json.loads(json.dumps(dict(extra_body)))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"extra_body is not JSON-serialisable ({exc}); use str/number/bool/None/list/dict "
                         "values.") from exc


def decoding_fields(preset: RequestPreset, d: Decoding, max_tokens: int | None = None) -> dict[str, Any]:
    """The preset's decoding fields for ``d`` (``max_tokens`` overrides ``d.max_tokens`` when set)."""
    out: dict[str, Any] = {}
    for field, key in preset.sends:
        value = getattr(d, field)
        if field == "max_tokens" and max_tokens is not None:
            value = max_tokens
        if field == "seed" and value is None or field == "stop" and not value:
            continue  # absent = the provider's default; an explicit null is rejected by some servers
        out[key] = list(value) if field == "stop" else value
    out.update(preset.constants)
    return out


def build_body(model: str, messages: list[dict[str, Any]], preset: RequestPreset, d: Decoding,
               extra_body: Mapping[str, Any], max_tokens: int | None = None) -> dict[str, Any]:
    """The exact JSON body: model, messages, the preset's fields, then ``extra_body`` on top.

    ``extra_body`` wins over every field (a user who knows their server better than the preset
    must be able to say so) and a value of ``None`` deletes the field.
    """
    body = {"model": model, "messages": messages, **decoding_fields(preset, d, max_tokens)}
    return _overlay(body, extra_body)


def _overlay(body: dict[str, Any], extra_body: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in extra_body.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def dropped(preset: RequestPreset, d: Decoding, extra_body: Mapping[str, Any]) -> list[str]:
    """Decoding fields set to a non-default value that neither the preset nor extra_body sends."""
    sent = dict(preset.sends)
    default = Decoding()
    return [f for f in DECODING_FIELDS
            if f not in sent and f not in extra_body and getattr(d, f) != getattr(default, f)]


def request_fields(model: str, preset: RequestPreset, extra_body: Mapping[str, Any],
                   max_tokens: int | None = None) -> dict[str, Any]:
    """The body minus messages, with ``"<decoding.FIELD>"`` where a request's own Decoding goes.

    This is what the fingerprint records: each request's Decoding is already in its cache key, so
    the shape (field names, constants, the max_tokens override, extra_body) is what else can
    change an answer.
    """
    body: dict[str, Any] = {"model": model}
    for field, key in preset.sends:
        body[key] = max_tokens if field == "max_tokens" and max_tokens is not None else f"<decoding.{field}>"
    body.update(preset.constants)
    return _overlay(body, extra_body)
