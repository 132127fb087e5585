"""Each function's AWS permissions, as template.yaml grants them, enforced locally.

moto allows every call, so a function whose role lacks an action works here and is refused once
deployed. While a function runs (`acting_as`), a call it would not be allowed is refused here the
way AWS refuses it (a ClientError with the service's access-denied code): a missing grant fails a
test, not a deployment.

DynamoDB: the table's actions (inline statements on the table and on its indexes). SQS, S3, SSM,
Secrets Manager, SNS and SES: every statement of the role (inline ones, SAM's policy templates
expanded as SAM expands them, and the managed policy SAM attaches for an SQS event source), an
explicit Deny winning, on the resource the call names: a queue, bucket or parameter is matched to
the template's by the values the functions' environment variables give its `Ref`s. Both branches
of an `Fn::If` count as granted. A function whose code names a resource through a variable the
template does not give it is refused too: deployed, it would not know that name.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from typing import Any
from urllib.parse import urlsplit

TABLE = str({"Fn::GetAtt": ["PaylinkTable", "Arn"]})
INDEXES = str({"Fn::Sub": "${PaylinkTable.Arn}/index/*"})
# TransactWriteItems needs, per item, the action of that kind of write.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# The services held to every statement of a role, with the error code each answers a refusal with.
DENIED_CODES = {
    "sqs": "AccessDenied",
    "s3": "AccessDenied",
    "ssm": "AccessDeniedException",
    "secretsmanager": "AccessDeniedException",
    "sns": "AuthorizationError",
    "ses": "AccessDenied",
}
# IAM's action of each SQS and S3 operation whose name is not its action's (a batch is checked as
# its single form; a multipart upload's parts are PutObject).
ACTIONS = {
    "sqs": {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    },
    "s3": {
        "HeadObject": "GetObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "DeleteObjects": "DeleteObject",
        "HeadBucket": "ListBucket",
    },
}
# The SAM policy templates (samtranslator's policy_templates.json) a template may name, by the
# template's own parameter names; tests/unit/test_local_iam.py compares them with SAM's file.
_QUEUE_ARN = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}"
_BUCKET_ARNS = ["arn:${AWS::Partition}:s3:::${bucketName}", "arn:${AWS::Partition}:s3:::${bucketName}/*"]
_SSM_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
_SSM_READ = ["ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"]
_S3_READ = [
    "s3:GetObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetObjectVersion",
    "s3:GetLifecycleConfiguration",
]
_S3_WRITE = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"]
_SQS_POLL = [
    "sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage",
    "sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
]  # fmt: skip
POLICY_TEMPLATES: dict[str, tuple[str, list[tuple[list[str], list[str]]]]] = {
    "SQSSendMessagePolicy": ("QueueName", [(["sqs:SendMessage*"], [_QUEUE_ARN])]),
    "SQSPollerPolicy": ("QueueName", [(_SQS_POLL, [_QUEUE_ARN])]),
    "S3ReadPolicy": ("BucketName", [(_S3_READ, _BUCKET_ARNS)]),
    "S3WritePolicy": ("BucketName", [(_S3_WRITE, _BUCKET_ARNS)]),
    "S3CrudPolicy": ("BucketName", [([*_S3_READ, *_S3_WRITE, "s3:DeleteObject"], _BUCKET_ARNS)]),
    "SSMParameterReadPolicy": (
        "ParameterName",
        [(["ssm:DescribeParameters"], ["*"]), (_SSM_READ, [_SSM_ARN + "/${parameterName}"])],
    ),
    "SSMParameterWithSlashPrefixReadPolicy": (
        "ParameterName",
        [(["ssm:DescribeParameters"], ["*"]), (_SSM_READ, [_SSM_ARN + "${parameterName}"])],
    ),
    "AWSSecretsManagerGetSecretValuePolicy": (
        "SecretArn",
        [(["secretsmanager:GetSecretValue"], ["${secretArn}"])],
    ),
    "SNSPublishMessagePolicy": (
        "TopicName",
        [(["sns:Publish"], ["arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${topicName}"])],
    ),
}
# What SAM attaches to the role of a function with an SQS event source (AWSLambdaSQSQueueExecutionRole):
# the poller's actions on every queue.
SQS_EVENT_SOURCE = {
    "Effect": "Allow",
    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "Resource": "*",
}
# Pseudo parameters: region and account are left open (moto's differ from a deployment's).
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "*",
    "AWS::AccountId": "*",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class Acting:
    """The function running now, the environment it runs with (None: the process's), and refs
    the caller knows (a queue poller: its queue's)."""

    function_id: str
    environment: Mapping[str, str] | None = None
    refs: Mapping[str, str] = field(default_factory=dict)


# Every refusal, also when the code caught it and carried on (a notification logged and dropped):
# tests/conftest.py fails a test that leaves one here.
REFUSED: list[str] = []
_acting: ContextVar[Acting | None] = ContextVar("paylink_local_function", default=None)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policies(function: dict[str, Any]) -> Iterator[Any]:
    """Each policy of a function, both branches of an `Fn::If` included."""
    for policy in function["Properties"].get("Policies", []):
        yield from policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]


def statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every inline statement of a function's policies, both branches of an `Fn::If` included."""
    for branch in _policies(function):
        if isinstance(branch, dict):
            yield from branch.get("Statement", [])


def policy_statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of a function's role: its inline ones, its SAM policy templates expanded,
    and the managed policy SAM attaches for an SQS event source."""
    for branch in _policies(function):
        if not isinstance(branch, dict):
            continue
        yield from branch.get("Statement", [])
        for name, parameters in branch.items():
            if name not in POLICY_TEMPLATES:
                continue
            parameter, expansion = POLICY_TEMPLATES[name]
            variable = parameter[0].lower() + parameter[1:]
            for actions, resources in expansion:
                yield {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [{"Fn::Sub": [r, {variable: parameters[parameter]}]} for r in resources],
                }
    if any(event.get("Type") == "SQS" for event in function["Properties"].get("Events", {}).values()):
        yield SQS_EVENT_SOURCE


def table_grants(template: dict[str, Any]) -> dict[str, frozenset[tuple[str, str]]]:
    """function id -> the (action, "table" | "indexes") pairs its role allows on the table."""
    grants: dict[str, frozenset[tuple[str, str]]] = {}
    for function_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        found: set[tuple[str, str]] = set()
        for statement in statements(resource):
            if statement.get("Effect") != "Allow":
                continue
            for where in _listed(statement.get("Resource")):
                kind = {TABLE: "table", INDEXES: "indexes"}.get(str(where))
                if kind:
                    found |= {(str(action), kind) for action in _listed(statement["Action"])}
        grants[function_id] = frozenset(found)
    return grants


def required(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """What a DynamoDB call needs: IAM checks each item of a transaction as its own kind of write."""
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", "table")
            for item in params.get("TransactItems", [])
            for kind in item
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", "table")]
    if operation in ("Query", "Scan") and params.get("IndexName"):
        return [(f"dynamodb:{operation}", "indexes")]
    return [(f"dynamodb:{operation}", "table")]


# --- the other services -------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One permission a call needs: an IAM action on a resource ARN, with its condition keys, and
    the name the code gave the resource by (a queue URL, a bucket, a parameter: "" for none)."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    named: str = ""


def queue_arn(url: str, region: str = "*") -> str:
    """The ARN of the queue at `url` (https://sqs.<region>.amazonaws.com/<account>/<name>)."""
    parts = urlsplit(url).path.strip("/").split("/")
    account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("*", parts[-1])
    return f"arn:aws:sqs:{region}:{account}:{name}"


def parameter_arn(name: str, region: str = "*") -> str:
    return f"arn:aws:ssm:{region}:*:parameter{name if name.startswith('/') else '/' + name}"


def requests(service: str, operation: str, params: Mapping[str, Any], region: str) -> list[Request]:
    """What one call of `service` needs of the caller's role."""
    action = f"{service}:{ACTIONS.get(service, {}).get(operation, operation)}"
    if service == "sqs":
        if "QueueUrl" in params:
            url = str(params["QueueUrl"])
            return [Request(action, queue_arn(url, region), named=url)]
        if "QueueName" in params:  # GetQueueUrl
            return [
                Request(
                    action, f"arn:aws:sqs:{region}:*:{params['QueueName']}", named=str(params["QueueName"])
                )
            ]
        return [Request(action, "*")]
    if service == "s3":
        bucket = str(params.get("Bucket", ""))
        if not bucket:
            return [Request(action, "*")]
        if operation == "DeleteObjects":
            keys = [str(o["Key"]) for o in params.get("Delete", {}).get("Objects", [])]
            return [Request(action, f"arn:aws:s3:::{bucket}/{key}", named=bucket) for key in keys]
        if "Key" in params:
            found = [Request(action, f"arn:aws:s3:::{bucket}/{params['Key']}", named=bucket)]
            source = params.get("CopySource")
            if operation == "CopyObject" and isinstance(source, dict):
                found.append(Request("s3:GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"))
            return found
        context = {"s3:prefix": str(params["Prefix"])} if params.get("Prefix") else {}
        return [Request(action, f"arn:aws:s3:::{bucket}", context, named=bucket)]
    if service == "ssm":
        names = (
            [params["Name"]] if "Name" in params else list(params.get("Names", [])) or [params.get("Path")]
        )
        if not any(names):
            return [Request(action, "*")]
        return [Request(action, parameter_arn(str(n), region), named=str(n)) for n in names if n]
    if service == "secretsmanager" and "SecretId" in params:
        secret = str(params["SecretId"])
        arn = secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{region}:*:secret:{secret}-*"
        return [Request(action, arn, named=secret)]
    if service == "sns":
        target = params.get("TopicArn") or params.get("TargetArn")
        return [Request(action, str(target) if target else "*")]  # an SMS to a number names no resource
    if service == "ses" and operation in ("SendEmail", "SendRawEmail", "SendTemplatedEmail"):
        source = str(params.get("Source", ""))
        address = source.rsplit("<", 1)[-1].rstrip(">").strip()
        arn = f"arn:aws:ses:{region}:*:identity/{address}"
        return [Request(action, arn, {"ses:FromAddress": address})]
    return [Request(action, "*")]


def _resources(template: dict[str, Any], kind: str) -> set[str]:
    return {logical_id for logical_id, r in template["Resources"].items() if r.get("Type") == kind}


def _sub_pattern(text: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """A regex of a `Fn::Sub` string, each `${X}` a named group (to read X back from a value)."""
    regex, names = "", dict[str, str]()
    for part in re.split(r"(\$\{[^}]+\})", text):
        if part.startswith("${"):
            group = f"g{len(names)}"
            names[group] = part[2:-1]
            regex += f"(?P<{group}>.+?)"
        else:
            regex += re.escape(part)
    pattern = re.compile(f"^{regex}$")
    return pattern, names


class Refs:
    """What the template's `Ref`s and `GetAtt`s stand for locally, read back from the values
    the functions' environment variables give them (a queue's URL, a bucket's name...)."""

    def __init__(self, template: dict[str, Any]) -> None:
        from local.template import functions

        self.queues = _resources(template, "AWS::SQS::Queue")
        self.buckets = _resources(template, "AWS::S3::Bucket")
        self.environments = {fid: fn.environment for fid, fn in functions(template).items()}
        self.variables: dict[str, Any] = {}
        for environment in self.environments.values():
            self.variables.update(environment)

    def derived(self, logical_id: str, value: str) -> dict[str, str]:
        """A resource's refs from its `Ref` value: a queue's ARN and name, a bucket's ARN."""
        found = {logical_id: value}
        if logical_id in self.queues:
            arn = queue_arn(value)
            found |= {f"{logical_id}.Arn": arn, f"{logical_id}.QueueName": arn.rsplit(":", 1)[-1]}
        if logical_id in self.buckets:
            found[f"{logical_id}.Arn"] = f"arn:aws:s3:::{value}"
        return found

    def bind(self, environment: Mapping[str, str], known: Mapping[str, str]) -> dict[str, str]:
        refs: dict[str, str] = dict(PSEUDO)
        for name, definition in self.variables.items():
            value = environment.get(name)
            if not value or not isinstance(definition, dict):
                continue
            if "Ref" in definition:
                refs |= self.derived(str(definition["Ref"]), value)
            elif "Fn::GetAtt" in definition:
                refs[".".join(definition["Fn::GetAtt"])] = value
            elif isinstance(definition.get("Fn::Sub"), str):
                pattern, names = _sub_pattern(definition["Fn::Sub"])
                match = pattern.match(value)
                if match:
                    refs |= {names[g]: v for g, v in match.groupdict().items()}
        for logical_id, value in known.items():
            refs |= self.derived(logical_id, value)
        return refs

    def given(self, function_id: str, environment: Mapping[str, str], named: str) -> bool | None:
        """Whether the function's template environment gives it `named`: None when no variable
        of the environment holds that name (the code was handed it another way)."""
        holders = {variable for variable, value in environment.items() if value and value == named}
        if not holders:
            return None
        return bool(holders & set(self.environments.get(function_id, {})))


def resolve(value: Any, refs: Mapping[str, str], local: Mapping[str, Any] | None = None) -> str | None:
    """A policy value as an ARN pattern, or None when it names something not known here."""
    local = local or {}
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return refs.get(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return refs.get(".".join(value["Fn::GetAtt"]))
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        missing = False

        def part(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1)
            found = resolve(variables[name], refs) if name in variables else refs.get(name)
            if found is None:
                missing = True
                return ""
            return found

        text = re.sub(r"\$\{([^}!]+)\}", part, text)
        return None if missing else text
    return None


def _matches(patterns: Any, value: str, refs: Mapping[str, str], *, fold: bool = False) -> bool:
    for pattern in _listed(patterns):
        resolved = resolve(pattern, refs)
        if resolved is None:
            continue
        if fold and fnmatchcase(value.lower(), resolved.lower()):
            return True
        if not fold and (resolved == "*" or fnmatchcase(value, resolved)):
            return True
    return False


def _condition_holds(
    condition: Mapping[str, Any] | None, context: Mapping[str, str], refs: Mapping[str, str]
) -> bool:
    for operator, tests in (condition or {}).items():
        for key, wanted in tests.items():
            value = context.get(key)
            if value is None:
                return False  # a key the request lacks matches no String condition
            patterns = [resolve(w, refs) for w in _listed(wanted)]
            if operator == "StringEquals":
                ok = value in patterns
            elif operator == "StringLike":
                ok = any(p is not None and fnmatchcase(value, p) for p in patterns)
            else:
                ok = False  # an operator not modelled here grants nothing
            if not ok:
                return False
    return True


def allowed(
    statements: list[dict[str, Any]], request: Request, refs: Mapping[str, str], *, conditions: bool = True
) -> bool:
    """IAM's answer for one request: an explicit Deny wins, else some Allow must match."""
    allow = False
    for statement in statements:
        if not _matches(statement.get("Action", []), request.action, refs, fold=True):
            continue
        if "NotResource" in statement:
            if _matches(statement["NotResource"], request.resource, refs):
                continue
        elif not _matches(statement.get("Resource", []), request.resource, refs):
            continue
        if conditions and not _condition_holds(statement.get("Condition"), request.context, refs):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allow = True
    return allow


def _refusal(service: str, operation: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    REFUSED.append(f"{operation}: {message}")
    print(f"[iam] refused {operation}: {message}", file=sys.stderr, flush=True)

    code = DENIED_CODES.get(service, "AccessDeniedException")
    error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return ClientError(error, operation)  # type: ignore[arg-type]


@contextlib.contextmanager
def acting_as(
    function_id: str, environment: Mapping[str, str] | None = None, refs: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Run as `function_id`: its AWS calls are held to its role (see install). `environment` is
    the one it runs with (default: this process's), `refs` what the caller knows of the template's
    resources (a queue poller: its queue's URL)."""
    outer = _acting.get()
    known = {**(outer.refs if outer and outer.function_id == function_id else {}), **(refs or {})}
    token = _acting.set(Acting(function_id, environment, known))
    try:
        yield
    finally:
        _acting.reset(token)


class Guard:
    """The template's grants, and the check of one call against the acting function's."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.table = table_grants(template)
        self.roles = {
            fid: list(policy_statements(resource))
            for fid, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        self.refs = Refs(template)

    def check_table(self, acting: Acting, operation: str, params: dict[str, Any]) -> None:
        allowed_here = self.table.get(acting.function_id, frozenset())
        for action, where in required(operation, params):
            if (action, where) not in allowed_here:
                message = (
                    f"{acting.function_id} is not authorized to perform: {action} on the "
                    f"{'indexes of the ' if where == 'indexes' else ''}table (template.yaml)"
                )
                raise _refusal("dynamodb", operation, message)

    def check(
        self, acting: Acting, service: str, operation: str, params: Mapping[str, Any], region: str
    ) -> None:
        environment = os.environ if acting.environment is None else acting.environment
        refs = self.refs.bind(environment, acting.refs)
        statements = self.roles.get(acting.function_id, [])
        for request in requests(service, operation, params, region):
            if not allowed(statements, request, refs):
                raise _refusal(
                    service,
                    operation,
                    f"{acting.function_id} is not authorized to perform: {request.action} on resource: "
                    f"{request.resource} (template.yaml)",
                )
            named = request.named and request.named not in acting.refs.values()
            if named and self.refs.given(acting.function_id, environment, request.named) is False:
                raise _refusal(
                    service,
                    operation,
                    f"{acting.function_id} named {request.resource} through an environment variable "
                    "template.yaml does not give it: deployed, it would not know that name",
                )

    def may_list(self, acting: Acting, bucket: str) -> bool:
        """Whether S3 tells this function a key is missing (404) rather than refusing it (403):
        it may ListBucket the bucket. That check's request carries no `s3:prefix`, so a ListBucket
        granted only under a prefix condition does not count (a missing key is then a 403)."""
        environment = os.environ if acting.environment is None else acting.environment
        refs = self.refs.bind(environment, acting.refs)
        request = Request("s3:ListBucket", f"arn:aws:s3:::{bucket}")
        return allowed(self.roles.get(acting.function_id, []), request, refs, conditions=True)


@cache
def install() -> None:
    """Hold every boto3 call made while a function is acting to that function's grants."""
    from botocore import signers
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from local.template import load_template

    guard = Guard(load_template())
    send = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, not in the stubs
    presign = signers.generate_presigned_url

    def checked(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        acting = _acting.get()
        service = self.meta.service_model.service_name
        if acting is None:
            return send(self, operation_name, api_params)
        if service == "dynamodb":
            guard.check_table(acting, operation_name, api_params)
            return send(self, operation_name, api_params)
        if service not in DENIED_CODES:
            return send(self, operation_name, api_params)
        guard.check(acting, service, operation_name, api_params, self.meta.region_name or "*")
        try:
            return send(self, operation_name, api_params)
        except ClientError as error:
            missing = error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404")
            reading = service == "s3" and operation_name in ("GetObject", "HeadObject")
            if reading and missing and not guard.may_list(acting, str(api_params.get("Bucket"))):
                raise _refusal(
                    "s3",
                    operation_name,
                    f"{acting.function_id} may not ListBucket {api_params.get('Bucket')}: S3 refuses "
                    "a missing key (403) instead of saying it is missing (template.yaml)",
                ) from error
            raise

    def presigned(self: Any, ClientMethod: str, Params: Any = None, *args: Any, **kwargs: Any) -> Any:
        # A presigned URL carries the signer's authority: checked as the call it stands for.
        acting = _acting.get()
        service = self.meta.service_model.service_name
        if acting is not None and service in DENIED_CODES:
            operation = self._PY_TO_OP_NAME.get(ClientMethod, ClientMethod)
            guard.check(acting, service, operation, Params or {}, self.meta.region_name or "*")
        return presign(self, ClientMethod, Params, *args, **kwargs)

    setattr(BaseClient, "_make_api_call", checked)  # noqa: B010
    signers.generate_presigned_url = presigned
