"""Small readers over a synthesized CloudFormation template (plain JSON) for exact IAM checks."""

import json
from typing import Any

from infra.nag import render_intrinsic

Template = dict[str, Any]
Permission = tuple[str, str, str]
"""(action, rendered resource, condition as canonical JSON or "")."""


def render(value: Any) -> str:
    """Render a CloudFormation value readably (Ref as <X>, GetAtt as <X.Attr>), as the nag rules do."""
    return render_intrinsic(value)


def as_list(value: Any) -> list[Any]:
    """IAM fields are a value or a list of values."""
    return value if isinstance(value, list) else [value]


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for one resource type."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: Template, resource_type: str, **properties: Any) -> str:
    """The logical id of the single resource of a type whose properties include the given ones."""
    found = [
        logical_id
        for logical_id, resource in resources(template, resource_type).items()
        if all(resource.get("Properties", {}).get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {found}"
    return found[0]


def function_id(template: Template, function_name: str) -> str:
    """The logical id of a Lambda function, by its (explicit) name."""
    return only(template, "AWS::Lambda::Function", FunctionName=function_name)


def function_role_id(template: Template, function_name: str) -> str:
    """The logical id of the execution role of a function."""
    role = template["Resources"][function_id(template, function_name)]["Properties"]["Role"]
    return str(role["Fn::GetAtt"][0])


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every identity-policy statement attached to a role (inline policies and AWS::IAM::Policy)."""
    statements: list[dict[str, Any]] = []
    role = template["Resources"][role_id]["Properties"]
    for policy in role.get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def permissions(statements: list[dict[str, Any]], effect: str = "Allow") -> set[Permission]:
    """Flatten the Allow (or Deny) statements to (action, resource, condition) triples for exact comparison.

    The other effect's statements are left out, so each is compared on its own: an Allow test never
    counts a Deny as a grant.
    """
    result: set[Permission] = set()
    for statement in statements:
        assert statement["Effect"] in ("Allow", "Deny"), statement
        if statement["Effect"] != effect:
            continue
        assert "NotAction" not in statement, statement
        assert "NotResource" not in statement, statement
        condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else ""
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                result.add((action, render(resource), condition))
    return result


def grant(actions: list[str] | tuple[str, ...], resource: str, condition: str = "") -> set[Permission]:
    """Expected permissions: each action on one resource."""
    return {(action, resource, condition) for action in actions}
