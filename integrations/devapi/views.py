"""Developer API views. Each parses input with a serializer, calls one service or selector (the same
ones the portal's pages call) and answers JSON. Objects are looked up among the key owner's own, so
another developer's app is a 404; services check ownership again."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Sum
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import decorators, exceptions, permissions, status
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.models import Account
from integrations.devapi import serializers as s
from integrations.devapi.authentication import DeveloperApiKeyAuthentication
from integrations.devapi.parsers import StrictJSONParser
from integrations.devapi.schema import DeveloperApiSchema
from integrations.oauth import api_domain
from portal import limit_requests, limits, optimisation, selectors, services
from portal.models import App, EarlyAccess, ProgressionRequest, RateLimitIncreaseRequest, UsageMinute

# Where a service names a model field, the API names the field the client sent.
FIELD_ALIASES = {"__all__": "non_field_errors", "client_id": "app_ref", "account": "account_code"}


def service_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    """A service's ValidationError as DRF field errors (non-field refusals under non_field_errors)."""
    if not hasattr(error, "error_dict"):
        return {"non_field_errors": error.messages}
    errors: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        errors.setdefault(FIELD_ALIASES.get(field, field), []).extend(messages)
    return errors


def exception_handler(exc, context):
    """DRF's handler, plus services' ValidationError as a 400 with field errors (DRF already turns
    Http404 into 404 and Django's PermissionDenied into 403)."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(service_errors(exc))
    return drf_exception_handler(exc, context)


class IsDeveloper(permissions.BasePermission):
    message = "Register as a developer in the portal first."

    def has_permission(self, request, view):
        return hasattr(request.user, "developer_profile")


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """The page_size asked for, strictly: a number from 1 to max_page_size, or a 400."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["description"] = f"Results per page (default {self.page_size})."
        return parameters


@decorators.api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@decorators.authentication_classes([])
@decorators.permission_classes([permissions.AllowAny])
@decorators.renderer_classes([JSONRenderer])
@decorators.schema(None)
def not_found(request, path=""):
    """Any other path under the API: a JSON 404 (not the site's HTML page), with a hint about slashes."""
    hint = "" if request.path.endswith("/") else " Paths of this API end with a slash."
    return Response({"detail": f"Not found.{hint}"}, status=status.HTTP_404_NOT_FOUND)


class Metadata(SimpleMetadata):
    """OPTIONS answers name, description and media types; the inputs are documented in the schema
    (DRF's default would describe them from a view-wide serializer, which these views do not have)."""

    def determine_actions(self, request, view):
        return {}


class DeveloperApiView(GenericAPIView):
    authentication_classes = [DeveloperApiKeyAuthentication]
    permission_classes = [permissions.IsAuthenticated, IsDeveloper]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    pagination_class = Pagination
    metadata_class = Metadata
    schema = DeveloperApiSchema()

    def get_exception_handler(self):
        return exception_handler

    def own_app(self, *, with_counts: bool = False) -> App:
        """The key owner's app named in the URL (with the dashboard's counts when asked); 404 for
        anyone else's."""
        apps = selectors.apps_of_developer(user=self.request.user) if with_counts else App.objects.filter(
            user=self.request.user)
        app = apps.filter(client_id=self.kwargs["app_ref"]).first()
        if app is None:
            raise exceptions.NotFound("You have no app with that reference.")
        return app

    def own_app_fresh(self, app: App) -> App:
        return selectors.apps_of_developer(user=self.request.user).get(pk=app.pk)

    def valid(self, serializer_class, data, **kwargs) -> dict:
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginated(self, queryset, serializer_class, page_context=None):
        """One page of ``queryset``; ``page_context(page)`` adds what the serializer needs for that page."""
        page = self.paginate_queryset(queryset)
        context = {**self.get_serializer_context(), **(page_context(page) if page_context else {})}
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)

    def out(self, serializer_class, instance, status_code=status.HTTP_200_OK, **context):
        context = {**self.get_serializer_context(), **context}
        return Response(serializer_class(instance, context=context).data, status=status_code)




# --- Developer --------------------------------------------------------------------------------------

class MeView(DeveloperApiView):
    @extend_schema(operation_id="me", tags=["developer"], summary="Your developer profile",
                   responses=s.DeveloperSerializer)
    def get(self, request):
        return self.out(s.DeveloperSerializer, request.user.developer_profile)


class AccountLocationView(DeveloperApiView):
    @extend_schema(
        operation_id="account_location", tags=["accounts"], summary="Where an account lives",
        description="The datacentre and API domain of any account, and its OAuth authorize and token URLs.",
        responses=s.AccountLocationSerializer,
    )
    def get(self, request, code):
        account = Account.objects.filter(code=code.lower()).first()
        if account is None:
            raise exceptions.NotFound("There is no account with that code.")
        site = settings.SITE_URL
        scheme = site.split("://", 1)[0]
        return self.out(s.AccountLocationSerializer, {
            "account_code": account.code,
            "datacentre": account.datacentre,
            "api_domain": api_domain(),
            "api_base_url": f"{scheme}://{api_domain()}/public-api/{account.code}/",
            "authorize_url": site + reverse("integrations:authorize", args=[account.code]),
            "token_url": site + reverse("integrations:account_token", args=[account.code]),
        })


# --- Apps -------------------------------------------------------------------------------------------

class AppsView(DeveloperApiView):
    @extend_schema(operation_id="apps_list", tags=["apps"], summary="Your apps", responses=s.AppSerializer(many=True))
    def get(self, request):
        return self.paginated(selectors.apps_of_developer(user=request.user), s.AppSerializer)

    @extend_schema(
        operation_id="apps_create", tags=["apps"], summary="Register an app",
        description="The response carries the client secret once; it is stored only hashed.",
        request=s.AppCreateSerializer, responses={201: s.AppWithSecretSerializer},
    )
    def post(self, request):
        fields = dict(self.valid(s.AppCreateSerializer, request.data))
        app, secret = services.app_register(actor=request.user, app_ref=fields.pop("app_ref"), **fields)
        return self.out(s.AppWithSecretSerializer, self.own_app_fresh(app), status.HTTP_201_CREATED,
                        client_secret=secret)


class AppView(DeveloperApiView):
    @extend_schema(operation_id="apps_retrieve", tags=["apps"], summary="One of your apps", responses=s.AppSerializer)
    def get(self, request, app_ref):
        return self.out(s.AppSerializer, self.own_app(with_counts=True))

    @extend_schema(
        operation_id="apps_update", tags=["apps"], summary="Edit an app",
        description="Send only the fields to change. The app reference never changes.",
        request=s.AppUpdateSerializer, responses=s.AppSerializer,
    )
    def patch(self, request, app_ref):
        app = self.own_app(with_counts=True)
        fields = self.valid(s.AppUpdateSerializer, request.data, partial=True)
        if fields:
            services.app_update(app=app, actor=request.user, **fields)
            app = self.own_app_fresh(app)
        return self.out(s.AppSerializer, app)

    @extend_schema(
        operation_id="apps_delete", tags=["apps"], summary="Delete an app",
        description="Only apps in development that were never installed can be deleted.",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request, app_ref):
        services.app_delete(app=self.own_app(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(DeveloperApiView):
    @extend_schema(
        operation_id="apps_rotate_secret", tags=["apps"], summary="Issue a new client secret",
        description="The old secret stops working at once. The new one is in this response only.",
        request=None, responses={200: s.SecretSerializer},
    )
    def post(self, request, app_ref):
        app = self.own_app()
        secret = services.app_rotate_secret(app=app, actor=request.user)
        app.refresh_from_db(fields=["secret_rotated_at"])
        return self.out(s.SecretSerializer, {"app_ref": app.client_id, "client_secret": secret,
                                              "secret_rotated_at": app.secret_rotated_at})


class HistoryView(DeveloperApiView):
    @extend_schema(operation_id="apps_history", tags=["apps"], summary="What happened to an app, newest first",
                   responses=s.HistoryEventSerializer(many=True))
    def get(self, request, app_ref):
        return self.paginated(selectors.app_history(app=self.own_app()), s.HistoryEventSerializer)


# --- Early access -----------------------------------------------------------------------------------

class EarlyAccessView(DeveloperApiView):
    @extend_schema(operation_id="early_access_list", tags=["early access"], summary="Accounts with early access",
                   responses=s.EarlyAccessSerializer(many=True))
    def get(self, request, app_ref):
        return self.paginated(selectors.early_access_of(app=self.own_app()), s.EarlyAccessSerializer)

    @extend_schema(
        operation_id="early_access_add", tags=["early access"], summary="Give an account early access",
        description="The account must exist; an app has at most the platform's cap of early-access accounts.",
        request=s.EarlyAccessAddSerializer, responses={201: s.EarlyAccessSerializer},
    )
    def post(self, request, app_ref):
        app = self.own_app()
        fields = self.valid(s.EarlyAccessAddSerializer, request.data)
        grant = services.early_access_add(app=app, account_code=fields["account_code"], actor=request.user)
        return self.out(s.EarlyAccessSerializer, grant, status.HTTP_201_CREATED)


class EarlyAccessItemView(DeveloperApiView):
    @extend_schema(operation_id="early_access_remove", tags=["early access"], summary="Take early access away",
                   responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request, app_ref, account_code):
        app = self.own_app()
        grant = EarlyAccess.objects.select_related("account", "app").filter(
            app=app, account__code=account_code.lower()).first()
        if grant is None:
            raise exceptions.NotFound("That account has no early access to this app.")
        services.early_access_remove(grant=grant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Progression requests ---------------------------------------------------------------------------

class ProgressionRequestsView(DeveloperApiView):
    @extend_schema(operation_id="progression_requests_list", tags=["progression"],
                   summary="The app's progression requests, newest first",
                   responses=s.ProgressionRequestSerializer(many=True))
    def get(self, request, app_ref):
        return self.paginated(selectors.progression_requests_of(app=self.own_app()), s.ProgressionRequestSerializer)

    @extend_schema(
        operation_id="progression_requests_create", tags=["progression"], summary="Ask to move to the next stage",
        description="Partners only. Refused while intake is closed (with the platform's message), while a request "
                    "is pending, and for suspended or released apps.",
        request=s.ProgressionRequestCreateSerializer, responses={201: s.ProgressionRequestSerializer},
    )
    def post(self, request, app_ref):
        app = self.own_app()
        fields = self.valid(s.ProgressionRequestCreateSerializer, request.data)
        created = services.progression_request_submit(app=app, actor=request.user, message=fields["message"])
        return self.out(s.ProgressionRequestSerializer, created, status.HTTP_201_CREATED)


class ProgressionRequestMixin:
    def own_request(self) -> ProgressionRequest:
        app = self.own_app()
        found = app.progression_requests.filter(pk=self.kwargs["request_id"]).first()
        if found is None:
            raise exceptions.NotFound("This app has no progression request with that id.")
        found.app = app
        return found


class ProgressionRequestView(ProgressionRequestMixin, DeveloperApiView):
    @extend_schema(operation_id="progression_requests_retrieve", tags=["progression"],
                   summary="One progression request", responses=s.ProgressionRequestSerializer)
    def get(self, request, app_ref, request_id):
        return self.out(s.ProgressionRequestSerializer, self.own_request())


class ProgressionWithdrawView(ProgressionRequestMixin, DeveloperApiView):
    @extend_schema(operation_id="progression_requests_withdraw", tags=["progression"],
                   summary="Withdraw a pending progression request", request=None,
                   responses={200: s.ProgressionRequestSerializer})
    def post(self, request, app_ref, request_id):
        withdrawn = services.progression_request_withdraw(request=self.own_request(), actor=request.user)
        return self.out(s.ProgressionRequestSerializer, withdrawn)


# --- Rate-limit increase requests -------------------------------------------------------------------

class LimitRequestsView(DeveloperApiView):
    @extend_schema(operation_id="limit_requests_list", tags=["limits"],
                   summary="The app's rate-limit increase requests, newest first",
                   responses=s.LimitRequestSerializer(many=True))
    def get(self, request, app_ref):
        return self.paginated(limits.limit_requests_of(app=self.own_app()), s.LimitRequestSerializer)

    @extend_schema(
        operation_id="limit_requests_create", tags=["limits"], summary="Ask for a higher rate limit",
        description="For every installation, or for the installation in one account (with an installation of "
                    "the app or early access). One pending request per scope.",
        request=s.LimitRequestCreateSerializer, responses={201: s.LimitRequestSerializer},
    )
    def post(self, request, app_ref):
        app = self.own_app()
        fields = dict(self.valid(s.LimitRequestCreateSerializer, request.data))
        code = fields.pop("account_code")
        account = None
        if code:
            account = Account.objects.filter(code=code.strip().lower()).first()
            if account is None:
                raise exceptions.ValidationError({"account_code": [f"There is no account with the code “{code}”."]})
        created = limit_requests.limit_request_submit(app=app, actor=request.user, account=account, **fields)
        return self.out(s.LimitRequestSerializer, created, status.HTTP_201_CREATED)


class LimitRequestMixin:
    def own_limit_request(self) -> RateLimitIncreaseRequest:
        app = self.own_app()
        found = app.limit_requests.select_related("account").filter(pk=self.kwargs["request_id"]).first()
        if found is None:
            raise exceptions.NotFound("This app has no rate-limit request with that id.")
        found.app = app
        return found


class LimitRequestView(LimitRequestMixin, DeveloperApiView):
    @extend_schema(operation_id="limit_requests_retrieve", tags=["limits"], summary="One rate-limit request",
                   responses=s.LimitRequestSerializer)
    def get(self, request, app_ref, request_id):
        return self.out(s.LimitRequestSerializer, self.own_limit_request())


class LimitWithdrawView(LimitRequestMixin, DeveloperApiView):
    @extend_schema(operation_id="limit_requests_withdraw", tags=["limits"],
                   summary="Withdraw a pending rate-limit request", request=None,
                   responses={200: s.LimitRequestSerializer})
    def post(self, request, app_ref, request_id):
        withdrawn = limits.limit_request_withdraw(limit_request=self.own_limit_request(), actor=request.user)
        return self.out(s.LimitRequestSerializer, withdrawn)


# --- Installations and usage ------------------------------------------------------------------------

class InstallationsView(DeveloperApiView):
    @extend_schema(
        operation_id="installations_list", tags=["installations"], summary="Accounts that installed the app",
        description="Each installation with its account, state, last API call and current rate limit.",
        responses=s.InstallationSerializer(many=True),
    )
    def get(self, request, app_ref):
        return self.paginated(selectors.installations_of(app=self.own_app()), s.InstallationSerializer,
                              page_context=lambda page: {"limits": limits.installation_limits(installations=page)})


class UsageView(DeveloperApiView):
    query_serializer_class = s.UsageQuerySerializer

    @extend_schema(
        operation_id="installations_usage", tags=["installations"], summary="API calls of one installation, per minute",
        description="Calls and throttled calls per minute from since to until (default: the last 24 hours; at most "
                    "7 days).",
        parameters=[s.UsageQuerySerializer], responses=s.UsageSerializer,
    )
    def get(self, request, app_ref, account_code):
        app = self.own_app()
        installation = app.installations.select_related("account").filter(account__code=account_code.lower()).first()
        if installation is None:
            raise exceptions.NotFound("This app is not installed in that account.")
        query = self.valid(s.UsageQuerySerializer, request.query_params)
        minutes = UsageMinute.objects.filter(
            installation=installation, minute__gte=query["since"], minute__lt=query["until"]).order_by("minute")
        totals = minutes.aggregate(calls=Sum("calls"), throttled=Sum("throttled"))
        limit = limits.installation_limits(installations=[installation])[installation.pk]
        return self.out(s.UsageSerializer, {
            "account_code": installation.account.code, **query,
            "total_calls": totals["calls"] or 0, "total_throttled": totals["throttled"] or 0,
            "current_limit": s.limit_fields(limit),
            "minutes": minutes,
        })


# --- Optimisation report (issue 11) ----------------------------------------------------------------

class OptimisationReportView(DeveloperApiView):
    query_serializer_class = s.OptimisationReportQuerySerializer

    @extend_schema(
        operation_id="apps_optimisation_report", tags=["limits"],
        summary="Where the app's calls go and what to change to make fewer",
        description="For every installation of the app, or the one in `account`, over the last 1, 7 or 14 days: "
                    "totals by outcome, calls by endpoint, the busiest minutes against the limit and findings, "
                    "each with a stable `code`, advice and the calls a minute it would save.",
        parameters=[s.OptimisationReportQuerySerializer], responses=s.OptimisationReportSerializer,
    )
    def get(self, request, app_ref):
        app = self.own_app()
        query = self.valid(s.OptimisationReportQuerySerializer, request.query_params)
        account = None
        if query.get("account"):
            installation = app.installations.select_related("account").filter(
                account__code=query["account"].strip().lower()).first()
            if installation is None:
                raise exceptions.NotFound("This app is not installed in that account.")
            account = installation.account
        report = optimisation.optimisation_report(app=app, account=account, days=int(query["days"]))
        return self.out(s.OptimisationReportSerializer, report.as_dict())


# --- Conformance report -------------------------------------------------------------------------------------

class ConformanceView(DeveloperApiView):
    @extend_schema(
        operation_id="apps_conformance", tags=["progression"],
        summary="The conformance report a progression review looks at",
        description="What the app did in its early-access accounts over the last 14 days: each check passed, failed "
                    "or null (no evidence either way), with its evidence and, when it failed, what to fix.",
        responses=s.ConformanceReportSerializer,
    )
    def get(self, request, app_ref):
        from portal.conformance import conformance_report

        return self.out(s.ConformanceReportSerializer, conformance_report(app=self.own_app()).as_dict())
