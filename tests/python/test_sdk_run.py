"""`demisto-sdk run`: war-room commands in the playground."""

import re


def test_run_prints_the_readable_output(sdk):
    r = sdk("run", "-q", "!signl4_alert title=x message=y")
    assert r.returncode == 0, r
    assert "## Readable Output" in r.stdout, r
    assert "### SIGNL4 alert created" in r.stdout, r
    assert re.search(r"\|eventId\|\n\|---\|\n\| [0-9a-f-]{36} \|", r.stdout), r


def test_run_with_debug_mode_prints_the_debug_log(sdk):
    r = sdk("run", "-q", "signl4_alert title=x message=y", "-D")
    assert r.returncode == 0, r
    assert "## Detailed Log" in r.stdout, r
    assert "Executed: signl4_alert" in r.stdout, r
    assert "Context Outputs:" in r.stdout, r
    assert '"SIGNL4.AlertCreated(val.eventId \\u0026\\u0026 val.eventId == obj.eventId)"' in r.stdout, r
    assert re.search(r'Raw Response section:\n\{"eventId":"[0-9a-f-]{36}"\}', r.stdout), r


def test_run_json_to_outputs_generates_yaml_outputs(sdk):
    # -r: from the raw response section of the debug log.
    r = sdk("run", "-q", "signl4_alert title=x message=y", "--json-to-outputs", "-p", "SIGNL4.AlertCreated", "-r")
    assert r.returncode == 0, r
    assert "- contextPath: SIGNL4.AlertCreated.eventId\n  description: ''\n  type: String" in r.output, r


def test_an_unknown_command_is_an_error_entry(sdk):
    r = sdk("run", "-q", "!nosuch a=b")
    assert "Unsupported command or script: nosuch" in r.stdout, r


def test_a_missing_argument_is_an_error_entry(sdk):
    r = sdk("run", "-q", "!signl4_alert title=x")
    assert "Missing required argument 'message' for command 'signl4_alert'" in r.stdout, r


def test_a_wrong_key_is_reported_as_401(sdk):
    r = sdk("run", "-q", "!Print value=x", env={"DEMISTO_API_KEY": "not-the-key"})
    assert "(401)" in r.output, r
    assert "missing or invalid API key" in r.output, r
