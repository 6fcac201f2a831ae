"""docs/openapi.yaml against the code: routes, parameters, status codes and error codes.

The document is read beside what the code declares and does, so a route or an error code added on one
side only fails here, naming it:
- routes: the contract's API_ROUTES, both functions' Powertools resolvers (http_api, uploads_api) and
  the methods the API component registers (under Pulumi's mocks, in every authorization mode);
- parameters: the routes' path parameters (and the component's request parameters), POST /detect's
  query options (http_api.OPTION_NAMES);
- error codes: every code the function's code passes to an error (read from the source with `ast`:
  a string literal bound to a parameter named `code`, a {"code": ...} literal, or a table of codes to
  statuses) and every code of API Gateway's own answers (gateway responses and MOCK methods), each with
  the status it is given where the code says so.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re

import pytest
import yaml
from openapi_spec_validator import validate
from support import ROOT

from darknet_detector.contract import API_ROUTES, AUTHORIZATIONS, VERSION
from darknet_detector.serving import http_api, uploads_api
from darknet_lambda import DarknetApi, DarknetApiArgs

DOCUMENT = ROOT / "docs" / "openapi.yaml"
RUNTIME = ROOT / "container" / "darknet_detector"
ERROR_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
METHODS = ("get", "put", "post", "delete", "patch", "head")
INVOKE_ARN = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{}/invocations"


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def deref(document: dict, node: dict) -> dict:
    """A response object, following a $ref into components."""
    if "$ref" not in node:
        return node
    target: dict = document
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return target


def documented_codes(document: dict) -> dict[str, set[str]]:
    """Error code -> the statuses it is documented under ('default' for API Gateway's passed-on ones)."""
    found: dict[str, set[str]] = {}
    for operation in operations(document).values():
        for status, response in operation["responses"].items():
            for code in deref(document, response).get("x-error-codes", []):
                found.setdefault(code, set()).add(str(status))
    for extension in ("x-other-methods", "x-unknown-path"):
        for code in document[extension]["x-error-codes"]:
            found.setdefault(code, set()).add(str(document[extension]["status"]))
    return found


# --- what the code says --------------------------------------------------------------------------------


def _parameters(module, func: ast.expr) -> list[str] | None:
    """The parameter names of what a call calls, when it resolves to a function or class of the module."""
    names = []
    while isinstance(func, ast.Attribute):
        names.insert(0, func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    target = vars(module).get(func.id)
    for name in names:
        target = getattr(target, name, None)
    if target is None or not callable(target):
        return None
    try:
        return [name for name in inspect.signature(target).parameters if name != "self"]
    except (TypeError, ValueError):
        return None


def _codes_in(node: ast.expr | None, module=None) -> set[str]:
    """The codes a literal, a conditional of literals, or a module's named constant (EMPTY_BODY, or
    contract.EMPTY_BODY) stands for."""
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(node, ast.Name | ast.Attribute) and module is not None:
        path = []
        while isinstance(node, ast.Attribute):
            path.insert(0, node.attr)
            node = node.value
        value = vars(module).get(node.id) if isinstance(node, ast.Name) else None
        for name in path:
            value = getattr(value, name, None)
    if isinstance(value, str) and ERROR_CODE.fullmatch(value):
        return {value}
    if isinstance(node, ast.IfExp):
        return _codes_in(node.body, module) | _codes_in(node.orelse, module)
    return set()


def function_error_codes() -> dict[str, set[str]]:
    """Error code -> the HTTP statuses the code gives it literally (empty when a handler maps it)."""
    found: dict[str, set[str]] = {}
    for path in sorted(RUNTIME.glob("*/*.py")):
        if path.parent.name == "building":
            continue
        module = importlib.import_module(f"darknet_detector.{path.parent.name}.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and (parameters := _parameters(module, node.func)):
                bound: dict[str, ast.expr] = dict(zip(parameters, node.args, strict=False))
                bound.update({keyword.arg: keyword.value for keyword in node.keywords if keyword.arg})
                statuses = {
                    str(value.value)
                    for name in ("http_status", "status")
                    if isinstance(value := bound.get(name), ast.Constant) and isinstance(value.value, int)
                }
                for code in _codes_in(bound.get("code"), module):
                    found.setdefault(code, set()).update(statuses)
            elif isinstance(node, ast.Dict):
                keys = [key.value if isinstance(key, ast.Constant) else None for key in node.keys]
                if "code" in keys:
                    for code in _codes_in(node.values[keys.index("code")]):
                        found.setdefault(code, set())
                elif keys and all(isinstance(key, str) and ERROR_CODE.fullmatch(key) for key in keys):
                    values = [
                        value.value if isinstance(value, ast.Constant) else None for value in node.values
                    ]
                    if all(isinstance(value, int) and 400 <= value < 600 for value in values):
                        for key, value in zip(keys, values, strict=True):
                            found.setdefault(str(key), set()).add(str(value))
            elif isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "code" for target in node.targets
            ):
                for code in _codes_in(node.value):
                    found.setdefault(code, set())
    return found


def deploy_api(mocked, authorization: str):
    def program():
        DarknetApi(
            "http",
            DarknetApiArgs(
                function_name="detector",
                function_invoke_arn=INVOKE_ARN.format("detector"),
                uploads_function_name="uploads",
                uploads_function_invoke_arn=INVOKE_ARN.format("uploads"),
                authorization=authorization,
            ),
        )

    return mocked.run(program)


def resource_paths(deployment) -> dict[str, str]:
    """API Gateway resource id -> its path, from the registered resources' parents and path parts."""
    rest_api = deployment.one("aws:apigateway/restApi:RestApi")
    parts = {
        f"{resource.name}-id": (resource.inputs["parentId"], resource.inputs["pathPart"])
        for resource in deployment.of_type("aws:apigateway/resource:Resource")
    }

    def path(resource_id: str) -> str:
        if resource_id == rest_api.state["rootResourceId"]:
            return ""
        parent, part = parts[resource_id]
        return f"{path(parent)}/{part}"

    return {
        resource_id: path(resource_id) or "/" for resource_id in [rest_api.state["rootResourceId"], *parts]
    }


def gateway_answers(deployment) -> dict[str, set[str]]:
    """Error code -> statuses of API Gateway's own answers: gateway responses and MOCK methods."""
    found: dict[str, set[str]] = {}
    for response in deployment.of_type("aws:apigateway/response:Response"):
        status = response.inputs.get("statusCode") or "default"
        for code in re.findall(
            r'"code": "([a-z0-9_]+)"', response.inputs["responseTemplates"]["application/json"]
        ):
            found.setdefault(code, set()).add(status)
    for answer in deployment.of_type("aws:apigateway/integrationResponse:IntegrationResponse"):
        for code in re.findall(
            r'"code": "([a-z0-9_]+)"', answer.inputs["responseTemplates"]["application/json"]
        ):
            found.setdefault(code, set()).add(answer.inputs["statusCode"])
    return found


def api_deployments(mocked) -> dict[str, object]:
    return {authorization: deploy_api(mocked, authorization) for authorization in AUTHORIZATIONS}


def resolver_routes() -> set[tuple[str, str]]:
    """The routes both functions' Powertools resolvers serve, in OpenAPI's path form."""
    return {
        (route.method, route.openapi_path)
        for app in (http_api.app, uploads_api.app)
        for route in (*app._static_routes, *app._dynamic_routes)
    }


def component_methods(deployment) -> dict[tuple[str, str], dict]:
    """(method, path) -> {integration type, request parameters} of every method the component registers."""
    paths = resource_paths(deployment)
    integrations = {
        (i.inputs["resourceId"], i.inputs["httpMethod"]): i.inputs["type"]
        for i in deployment.of_type("aws:apigateway/integration:Integration")
    }
    return {
        (m.inputs["httpMethod"], paths[m.inputs["resourceId"]]): {
            "type": integrations[(m.inputs["resourceId"], m.inputs["httpMethod"])],
            "parameters": set(m.inputs.get("requestParameters") or {}),
        }
        for m in deployment.of_type("aws:apigateway/method:Method")
    }


def listing(items) -> str:
    return ", ".join(sorted(map(str, items))) or "nothing"


# --- the tests ------------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_of_this_version(document):
    validate(document)
    assert document["info"]["version"] == VERSION, (
        f"docs/openapi.yaml says version {document['info']['version']}, the contract {VERSION}"
    )


def test_the_documented_routes_are_the_contract_s_the_functions_and_the_api_s(mocked, document):
    documented = set(operations(document))
    contract = set(API_ROUTES)
    served = resolver_routes()
    assert documented == contract, (
        f"docs/openapi.yaml documents {listing(documented - contract)} beyond the contract's API_ROUTES "
        f"and lacks {listing(contract - documented)}"
    )
    assert served == contract, (
        f"the functions' resolvers serve {listing(served - contract)} beyond API_ROUTES and not "
        f"{listing(contract - served)}: add the route to the contract and to docs/openapi.yaml"
    )
    for authorization, deployment in api_deployments(mocked).items():
        methods = component_methods(deployment)
        proxied = {route for route, method in methods.items() if method["type"] == "AWS_PROXY"}
        assert proxied == documented, (
            f"under {authorization} the API proxies {listing(proxied - documented)} beyond "
            f"docs/openapi.yaml and not {listing(documented - proxied)}"
        )
        preflights = {
            path for (verb, path), m in methods.items() if verb == "OPTIONS" and m["type"] == "MOCK"
        }
        assert preflights == {path for path, item in document["paths"].items() if "options" in item}, (
            "every documented path answers OPTIONS from API Gateway, and only those"
        )


def test_path_parameters_are_the_routes_and_the_api_passes_them_on(mocked, document):
    methods = component_methods(deploy_api(mocked, "none"))
    for (verb, path), operation in operations(document).items():
        item = document["paths"][path]
        declared = {
            parameter["name"]
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]
            if parameter["in"] == "path"
        }
        in_path = set(re.findall(r"{([^}]+)}", path))
        assert declared == in_path, (
            f"{verb} {path}: path parameters {listing(declared)} vs {listing(in_path)}"
        )
        passed = {name.removeprefix("method.request.path.") for name in methods[(verb, path)]["parameters"]}
        assert passed == in_path, (
            f"{verb} {path}: API Gateway passes {listing(passed)}, the path has {listing(in_path)}"
        )


def test_query_parameters_are_the_options_post_detect_takes(document):
    for (verb, path), operation in operations(document).items():
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        expected = set(http_api.QUERY_NAMES) if (verb, path) == ("POST", "/detect") else set()
        assert query == expected, (
            f"{verb} {path} documents the query parameters {listing(query)}; "
            f"the code takes {listing(expected)}"
        )


def test_every_error_code_of_the_code_is_documented_and_no_other(mocked, document):
    in_code = function_error_codes()
    for deployment in api_deployments(mocked).values():
        for code, statuses in gateway_answers(deployment).items():
            in_code.setdefault(code, set()).update(statuses)
    documented = documented_codes(document)
    enum = set(
        document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    assert set(documented) <= set(in_code), (
        "docs/openapi.yaml documents error codes nothing in the code gives: "
        f"{listing(set(documented) - set(in_code))}"
    )
    assert set(in_code) <= set(documented), (
        f"error codes in the code that docs/openapi.yaml does not document (add them to an answer's "
        f"x-error-codes): {listing(set(in_code) - set(documented))}"
    )
    assert enum == set(in_code), (
        "the Error schema's code enum differs from the code's codes: "
        f"missing {listing(set(in_code) - enum)}, "
        f"extra {listing(enum - set(in_code))}"
    )
    wrong = {
        code: (sorted(statuses), sorted(documented[code]))
        for code, statuses in in_code.items()
        if statuses and not statuses <= documented[code]
    }
    assert not wrong, (
        f"error codes documented under other statuses than the code gives (code, documented): {wrong}"
    )


def test_every_documented_status_is_one_the_route_can_answer(document):
    """Each documented status of an error answer carries codes; the success ones are the routes' own."""
    for (verb, path), operation in operations(document).items():
        for status, response in operation["responses"].items():
            response = deref(document, response)
            if status == "default" or int(status) >= 400:
                assert response.get("x-error-codes"), f"{verb} {path} {status} names no error code"


def test_the_statuses_a_route_answers_itself_are_documented(document):
    """The literal statuses in each route function's own answers (json_response(202, ...),
    Response(status_code=200, ...)): the exception handlers' ones are checked with their codes."""
    documented = operations(document)
    for app in (http_api.app, uploads_api.app):
        for route in (*app._static_routes, *app._dynamic_routes):
            tree = ast.parse(inspect.getsource(route.func).lstrip())
            answered = set()
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                candidates = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "status_code")]
                answered |= {
                    str(value.value)
                    for value in candidates
                    if isinstance(value, ast.Constant)
                    and isinstance(value.value, int)
                    and 100 <= value.value < 600
                }
            missing = answered - set(documented[(route.method, route.openapi_path)]["responses"])
            assert not missing, (
                f"{route.method} {route.openapi_path} answers {listing(missing)}, undocumented"
            )
