"""The generated parts of the binding (scripts/gen-bindings.py) agree with the library they run on:
one method per catalogue method with the catalogue's signature, the error classes in WAUSE_ERR_*
order, and the version."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Dict

import pytest

import wause
from wause import _generated
from wause.client import _result_name

REPOSITORY = Path(__file__).resolve().parents[3]
CATALOGUE = wause.catalogue()
METHODS: Dict[str, Any] = {method["name"]: method for method in CATALOGUE["methods"]}


def test_the_version_is_the_libraries_and_the_repositorys() -> None:
    assert wause.__version__ == wause.version() == (REPOSITORY / "VERSION").read_text().strip()


def test_error_classes_follow_the_catalogues_error_table() -> None:
    table = CATALOGUE["errors"]
    assert [error["code"] for error in table] == list(_generated.ERROR_CODES)
    for error, cls in zip(table, _generated.ERROR_CLASSES):
        assert _result_name(error["value"]) == error["code"] == cls.default_code
        assert wause.error_class_for(error["code"]) is cls
        assert getattr(wause, cls.__name__) is cls
    assert _result_name(len(table) + 1) == "unknown"


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("client_class", [wause.Client, wause.AsyncClient])
def test_each_catalogue_method_has_the_catalogues_signature(name: str, client_class: Any) -> None:
    method = METHODS[name]
    function = getattr(client_class, _generated.METHOD_NAMES[name])
    assert inspect.iscoroutinefunction(function) == (client_class is wause.AsyncClient)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    properties = method["input_schema"]["properties"]
    expected = method["positional"] + [argument for argument in properties
                                       if argument not in method["positional"]
                                       and argument not in method["bindings_omit"]]
    assert [parameter.name for parameter in parameters] == expected
    for parameter in parameters:
        positional = parameter.name in method["positional"]
        assert parameter.kind == (inspect.Parameter.POSITIONAL_OR_KEYWORD if positional
                                  else inspect.Parameter.KEYWORD_ONLY)
        if parameter.name in method["input_schema"].get("required", []):
            assert parameter.default is inspect.Parameter.empty
        elif "default" in properties[parameter.name]:
            assert parameter.default == properties[parameter.name]["default"]
    assert (function.__doc__ or "").startswith(f"``{name}``: ")


def test_signatures_the_bindings_have_always_had() -> None:
    signature = inspect.signature
    assert str(signature(wause.Client.send_message)) == (
        "(self, to: 'str', message: 'str', *, quoted_message_id: 'Optional[str]' = None, "
        "idempotency_key: 'Optional[str]' = None, send_at: 'Optional[str]' = None) -> 'SendMessageResult'")
    assert str(signature(wause.Client.unlink)) == "(self, clear_data: 'bool' = False) -> 'UnlinkResult'"
    assert str(signature(wause.Client.mark_read)) == (
        "(self, chat: 'Optional[str]' = None, *, message_ids: 'Optional[Sequence[str]]' = None) -> 'MarkReadResult'")
    assert str(signature(wause.Client.read_messages)) == (
        "(self, phone_number: 'str', limit: 'int' = 10) -> 'ReadMessagesResult'")
