"""Schemathesis hooks for mss-harness: the `reglas` check.

A schema-valid (positive) request that the server refuses must be refused
for a rule the document lists under `x-reglas` — its `codigo` (the envelope's
`codigo`, or a token refusal's `error`) with that status, for that operation,
and for a rule of a field (`campos`) a `mensaje` that names the field.
Anything else means the OpenAPI document is looser than the server.

Load with SCHEMATHESIS_HOOKS=reglas (this folder on PYTHONPATH) and run with
`--checks all --exclude-checks positive_data_acceptance` (this check replaces
it: the protocol refuses valid data for its rules, and says which).

With MSS_ST_TALLY=FILE, every checked response appends a line
`mode<TAB>operation<TAB>status<TAB>codigo<TAB>mensaje` to FILE.
"""

import json
import os
import threading

import schemathesis

_lock = threading.Lock()


def _tally(line):
    path = os.environ.get("MSS_ST_TALLY")
    if path:
        with _lock, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _codigo(response):
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    codigo = body.get("codigo", body.get("error"))
    return codigo, body.get("mensaje", body.get("error_description"))


@schemathesis.check
def reglas(ctx, response, case):
    operation = case.operation.definition.raw.get("operationId", case.operation.label)
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    codigo, mensaje = _codigo(response)
    _tally(
        "\t".join(
            [
                "positive" if positive else "negative",
                operation,
                str(response.status_code),
                str(codigo or "-"),
                " ".join(str(mensaje or "-").split()),
            ]
        )
    )
    if not positive or response.status_code < 400:
        return None
    reglas = case.operation.schema.raw_schema.get("x-reglas", [])
    matching = [
        r
        for r in reglas
        if r.get("codigo") == codigo
        and r.get("status") == response.status_code
        and operation in r.get("operaciones", [])
    ]
    if not matching:
        raise AssertionError(
            f"{operation}: schema-valid data refused with {response.status_code} "
            f"{codigo!r} ({mensaje!r}), which no rule of x-reglas lists for this "
            "operation: the OpenAPI document is looser than the server"
        )
    if all(r.get("campos") for r in matching):
        campos = {c for r in matching for c in r["campos"]}
        if not any(c in (mensaje or "") for c in campos):
            raise AssertionError(
                f"{operation}: schema-valid data refused with {codigo} ({mensaje!r}), "
                f"but x-reglas lists {codigo} only for {sorted(campos)}"
            )
    return None
