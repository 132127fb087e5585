"""Read template.yaml as the local runner needs it: tables, queues, routes, functions, schedules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short-form tags (`!Ref X` -> {"Ref": "X"})."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


def dynamodb_tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::DynamoDB::Table as CreateTable arguments (without TableName), by logical id."""
    tables = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        spec: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in props["GlobalSecondaryIndexes"]
            ]
        tables[logical_id] = spec
    return tables


def create_tables(client: Any, template: dict[str, Any], prefix: str) -> dict[str, str]:
    """Create the template's tables through `client`; returns logical id -> physical table name."""
    names = {}
    for logical_id, spec in dynamodb_tables(template).items():
        name = f"{prefix}-{logical_id}"
        client.create_table(TableName=name, **spec)
        names[logical_id] = name
    return names


def sqs_queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::SQS::Queue's properties, by logical id, dead-letter targets before their sources."""
    queues = {
        logical_id: dict(resource.get("Properties") or {})
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::SQS::Queue"
    }
    return dict(sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1]))


QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "SqsManagedSseEnabled")


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def create_queues(
    client: Any, template: dict[str, Any], prefix: str, *, visibility_timeout: int | None = None
) -> dict[str, str]:
    """Create the template's queues through `client`, redrive policies included.

    Returns refs as `resolve` reads them: logical id -> queue URL (what `!Ref` gives), and
    `Id.Arn`, `Id.QueueName` (what `!GetAtt` gives). `visibility_timeout` overrides the template's
    so that a failed message comes back within seconds locally.
    """
    refs: dict[str, str] = {}
    for logical_id, props in sqs_queues(template).items():
        name = f"{prefix}-{logical_id}"
        attributes = {key: _attribute(props[key]) for key in QUEUE_ATTRIBUTES if key in props}
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if props.get("RedrivePolicy"):
            policy = props["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": resolve(policy["deadLetterTargetArn"], refs),
                    "maxReceiveCount": int(policy["maxReceiveCount"]),
                }
            )
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        refs.update({logical_id: url, f"{logical_id}.Arn": arn, f"{logical_id}.QueueName": name})
    return refs


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping: which function consumes which queue, and how."""

    function_id: str
    queue_id: str
    batch_size: int
    report_batch_item_failures: bool


def queue_sources(template: dict[str, Any]) -> list[QueueSource]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            queue = props["Queue"]
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise ValueError(f"the local runner expects Queue: !GetAtt X.Arn, not {queue}")
            found.append(
                QueueSource(
                    logical_id,
                    queue["Fn::GetAtt"][0],
                    int(props.get("BatchSize", 10)),
                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return found


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function_id: str
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal segments over parameters: sort key, most specific first."""
        params = self.path.count("{")
        return (params, -len(self.path))


@dataclass(frozen=True)
class Schedule:
    function_id: str
    expression: str
    timezone: str
    input: str | None


@dataclass
class Function:
    logical_id: str
    module: str
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    timeout: int = 3
    # Globals' LoggingConfig merged with the function's own, key by key, as SAM merges maps.
    logging: dict[str, Any] = field(default_factory=dict)
    tracing: str = "PassThrough"


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def functions(template: dict[str, Any]) -> dict[str, Function]:
    """Serverless functions by logical id, with the module path of their handler."""
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_env = globals_fn.get("Environment", {}).get("Variables", {})
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code_uri = str(props["CodeUri"]).strip("/").replace("/", ".")
        module_name, handler = str(props["Handler"]).rsplit(".", 1)
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        found[logical_id] = Function(
            logical_id,
            f"{code_uri}.{module_name}",
            handler,
            env,
            int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            {**globals_fn.get("LoggingConfig", {}), **props.get("LoggingConfig", {})},
            str(props.get("Tracing", globals_fn.get("Tracing", "PassThrough"))),
        )
    return found


def routes(template: dict[str, Any]) -> list[Route]:
    """HTTP API routes, most specific first, as API Gateway would match them."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event["Properties"]
            found.append(
                Route(props["Method"].upper(), props["Path"], logical_id, _path_pattern(props["Path"]))
            )
    return sorted(found, key=lambda r: r.specificity)


def schedules(template: dict[str, Any]) -> list[Schedule]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") not in ("ScheduleV2", "Schedule"):
                continue
            props = event["Properties"]
            found.append(
                Schedule(
                    logical_id,
                    props["ScheduleExpression"],
                    props.get("ScheduleExpressionTimezone", "UTC"),
                    props.get("Input"),
                )
            )
    return found


def global_environment(template: dict[str, Any]) -> dict[str, Any]:
    """Globals' Function environment: what every function gets (unresolved)."""
    return dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    """Each template parameter that has a Default, by name (what a deploy gets when none is given)."""
    return {
        name: str(spec["Default"])
        for name, spec in (template.get("Parameters") or {}).items()
        if "Default" in spec
    }


def s3_buckets(template: dict[str, Any]) -> list[str]:
    """Logical ids of every AWS::S3::Bucket."""
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::S3::Bucket"
    ]


def create_buckets(client: Any, template: dict[str, Any], prefix: str) -> dict[str, str]:
    """Create the template's buckets; returns refs: logical id -> name, `Id.Arn` -> its ARN."""
    refs: dict[str, str] = {}
    for logical_id in s3_buckets(template):
        name = f"{prefix}-{logical_id}".lower()
        client.create_bucket(Bucket=name)
        refs.update({logical_id: name, f"{logical_id}.Arn": f"arn:aws:s3:::{name}"})
    return refs


CONDITION = "Condition::"  # refs key prefix of an evaluated condition ("true" / "false")


def conditions(template: dict[str, Any], refs: dict[str, str]) -> dict[str, str]:
    """The template's Conditions evaluated on `refs` (parameters not in `refs` take their default),
    as refs entries `Condition::Name`."""
    found: dict[str, str] = {}
    defaults = {name: str(p.get("Default", "")) for name, p in (template.get("Parameters") or {}).items()}
    refs = {**defaults, **refs}

    def truth(value: Any) -> bool:
        if isinstance(value, dict) and "Condition" in value:
            return truth(template["Conditions"][value["Condition"]])
        if isinstance(value, dict) and "Fn::Not" in value:
            return not truth(value["Fn::Not"][0])
        if isinstance(value, dict) and "Fn::And" in value:
            return all(truth(v) for v in value["Fn::And"])
        if isinstance(value, dict) and "Fn::Or" in value:
            return any(truth(v) for v in value["Fn::Or"])
        if isinstance(value, dict) and "Fn::Equals" in value:
            left, right = value["Fn::Equals"]
            return resolve(left, refs) == resolve(right, refs)
        raise ValueError(f"the local runner cannot evaluate the condition {value}")

    for name, value in (template.get("Conditions") or {}).items():
        found[CONDITION + name] = "true" if truth(value) else "false"
    return found


def resolve(value: Any, refs: dict[str, str]) -> str:
    """A template value with `Ref`s, `GetAtt`s, `Sub`s and `If`s replaced by local values
    (`refs["Id.Attr"]`; an `If` reads `refs["Condition::Name"]`, see `conditions`)."""
    if isinstance(value, dict) and "Ref" in value:
        return refs[value["Ref"]]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return refs[".".join(value["Fn::GetAtt"])]
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}!]+)\}", lambda m: refs[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::If" in value:
        name, then, otherwise = value["Fn::If"]
        return resolve(then if refs[CONDITION + name] == "true" else otherwise, refs)
    if isinstance(value, dict):
        raise ValueError(f"the local runner cannot resolve {value}")
    return str(value)
