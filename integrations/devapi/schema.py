"""OpenAPI schema hooks for the developer API (drf-spectacular).

- ``DeveloperApiSchema`` documents the error answers every operation can give (400, 401, 403, 404), so
  that the schema describes the API completely and clients (and Schemathesis) can check them.
- ``DeveloperApiKeyScheme`` describes the two ways to send a key.
- ``only_developer_api`` keeps the schema to ``/api/developer/`` whatever else the project serves.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

PATH_PREFIX = "/api/developer/"

ErrorSerializer = inline_serializer(
    name="Error", fields={"detail": serializers.CharField(help_text="What went wrong, for a person.")},
)
ValidationErrorSerializer = inline_serializer(
    name="ValidationError",
    fields={
        "non_field_errors": serializers.ListField(
            child=serializers.CharField(), required=False,
            help_text="Refusals that concern no single field. Other keys are field names, each with its messages.",
        ),
        "detail": serializers.CharField(required=False, help_text="Set instead when the body is not valid JSON."),
    },
)


class DeveloperApiSchema(AutoSchema):
    """drf-spectacular's schema plus the documented error answers."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {
            "401": (ErrorSerializer, "No API key, or the key is unknown or revoked."),
            "403": (ErrorSerializer, "Not allowed (for example: not a developer, or only partners may do this)."),
        }
        is_list = self.method == "GET" and self._is_list_view()
        if self.method in ("POST", "PUT", "PATCH", "DELETE") or self._has_query_input() or is_list:
            errors["400"] = (ValidationErrorSerializer, "Invalid input or a refused change; nothing was changed.")
        if "{" in self.path:
            errors["404"] = (ErrorSerializer, "No such object among yours.")
        elif is_list:
            errors["404"] = (ErrorSerializer, "No such page.")
        for code, (serializer, description) in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(OpenApiResponse(serializer, description), code)
        return responses

    def _has_query_input(self) -> bool:
        return bool(getattr(self.view, "query_serializer_class", None))


class DeveloperApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.devapi.authentication.DeveloperApiKeyAuthentication"
    name = ["apiKeyBearer", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):
        # Either header works: alternatives (OR), not both together.
        return [{"apiKeyBearer": []}, {"apiKeyHeader": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer",
             "description": "Your developer API key (create one under API keys in the portal)."},
            {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The same key, in its own header."},
        ]


def only_developer_api(endpoints, **kwargs):
    """Preprocessing hook: the developer API's operations only."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(PATH_PREFIX)]
