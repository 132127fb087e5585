"""Lambda's advanced logging controls as template.yaml sets them, and as the local runner emulates them."""

from __future__ import annotations

from local.run import log_environment
from local.template import functions, load_template


def test_every_function_logs_json_without_lambdas_info_lines_into_its_own_group():
    # Given the template's functions, their LoggingConfig merged with Globals' as SAM merges maps
    found = functions(load_template())
    # Then each keeps its own log group, logs JSON, and drops Lambda's START/END/REPORT (INFO)
    for name, function in found.items():
        assert function.logging["LogFormat"] == "JSON", name
        assert function.logging["SystemLogLevel"] == "WARN", name
        assert function.logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
        assert "Ref" in function.logging["LogGroup"], name


def test_the_local_runner_sets_what_lambda_sets_from_the_logging_config():
    # Given a function of the template and the stack's LogLevel
    function = functions(load_template())["NotifyWorkerFunction"]
    # When the runner builds what Lambda would set
    env = log_environment(function.logging, {"LogLevel": "DEBUG"})
    # Then Powertools sees the JSON format and Lambda's application level (which it prefers)
    assert env == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    assert log_environment({"LogGroup": "g"}, {}) == {}
