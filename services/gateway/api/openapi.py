"""The OpenAPI 3 document of the JSON endpoints, with schemas from the protobuf descriptors."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from muster.gateway.v1 import gateway_service_pb2 as pb

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _field(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.message_type is not None:
        message = field.message_type
        if message.full_name == "google.protobuf.Timestamp":
            schema: dict[str, Any] = {"type": "string", "format": "date-time"}
        else:
            _message(message, schemas)
            schema = _ref(message.name)
    elif field.enum_type is not None:
        schema = _enum(field.enum_type)
    else:
        schema = dict(_SCALARS[field.type])
    return {"type": "array", "items": schema} if field.is_repeated else schema


def _enum(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [v.name for v in enum.values]}


def _message(message: Descriptor, schemas: dict[str, Any]) -> None:
    if message.name in schemas:
        return
    schemas[message.name] = {"type": "object"}
    schemas[message.name]["properties"] = {f.json_name: _field(f, schemas) for f in message.fields}


def _get(summary: str, response: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _ref(response)}},
                },
                "400": {"description": "a malformed category or scope"},
                "404": {"description": "no such scope"},
                "503": {"description": "inventory has not been read yet"},
            },
        }
    }


def _query(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for message in (pb.ListReadinessResponse, pb.GetReadinessResponse, pb.ListScopesResponse):
        _message(message.DESCRIPTOR, schemas)
    categories = ", ".join(
        v.name.removeprefix("CATEGORY_").lower() for v in pb.Category.DESCRIPTOR.values[1:]
    )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Muster readiness",
            "version": "v1",
            "description": "Readiness per disaster category and scope; the same messages as "
            "muster.gateway.v1.ReadinessService in protobuf's JSON mapping.",
        },
        "paths": {
            "/v1/readiness": _get(
                "Every category x every scope",
                "ListReadinessResponse",
                [
                    _query("category", f"only this category: {categories}"),
                    _query("scope_kind", "only this kind: province, region, city or depot"),
                ],
            ),
            "/v1/readiness/{category}": _get(
                "One category in one scope",
                "GetReadinessResponse",
                [
                    {
                        "name": "category",
                        "in": "path",
                        "required": True,
                        "description": categories,
                        "schema": {"type": "string"},
                    },
                    _query("scope", "province (default), region:CODE, city:CODE or depot:CODE"),
                ],
            ),
            "/v1/scopes": _get("The scopes and the depots' places", "ListScopesResponse", []),
        },
        "components": {"schemas": schemas},
    }
