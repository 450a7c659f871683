"""Typed demisto-py calls: the generated models must deserialize what the server sends."""

import ast
import os

import demisto_client
from demisto_client.demisto_api import models


def test_search_investigations_finds_the_playground(api, playground):
    res = api.search_investigations(filter={"filter": {"type": [9], "page": 0}})
    assert isinstance(res, models.InvestigationSearchResponse)
    assert res.data[0].creating_user_id == "admin"
    assert playground.endswith("-playground")
    assert res.data[0].created.year >= 2025


def test_entries_context_and_download(api, playground, tmp_path):
    entries = api.investigation_add_entries_sync(
        update_entry={"investigationId": playground, "data": '!signl4_alert title=py message=m debug-mode="true"'}
    )
    assert [type(e) for e in entries] == [models.Entry, models.Entry]
    result, debug = entries
    assert result.type == 1
    assert result.contents.startswith("### SIGNL4 alert created")
    assert debug.type == 16
    assert debug.file == "signl4_alert-debug.log"

    os.chdir(tmp_path)
    path = api.download_file(debug.id)
    with open(path) as f:
        log = f.read()
    assert log.startswith("Executed: signl4_alert\n")
    event_id = result.contents.strip().splitlines()[-1].strip("| ")
    assert f'{{"eventId":"{event_id}"}}' in log

    # What `demisto-sdk run` does: the default response type, then literal_eval.
    body, status, _ = api.generic_request(f"/investigation/{playground}/context", "POST", body={"query": "${.}"})
    assert status == 200
    alerts = ast.literal_eval(body)["SIGNL4"]["AlertCreated"]
    alerts = alerts if isinstance(alerts, list) else [alerts]
    assert {"eventId": event_id} in alerts
    value, _, _ = api.generic_request(
        f"/investigation/{playground}/context",
        "POST",
        body={"query": "${SIGNL4.AlertCreated(val.eventId == '" + event_id + "').eventId}"},
        response_type="object",
    )
    assert value == event_id

    note = api.investigation_add_entry_handler(update_entry={"investigationId": playground, "data": "from demisto-py"})
    assert isinstance(note, models.Entry)
    assert note.contents == "from demisto-py"


def test_incidents_are_created_and_searched(api):
    inc = api.create_incident(
        create_incident_request=demisto_client.demisto_api.CreateIncidentRequest(
            name="py incident", severity=2, create_investigation=True
        )
    )
    assert isinstance(inc, models.IncidentWrapper)
    assert inc.status == 1
    req = demisto_client.demisto_api.SearchIncidentsData(filter={"query": f"id: {inc.id}"})
    found = api.search_incidents(filter=req)
    assert found.total == 1
    assert found.data[0].name == "py incident"
    assert found.data[0].investigation_id == inc.id
    assert found.data[0].closed.year == 1
    typed = api.search_incidents(
        filter=demisto_client.demisto_api.SearchIncidentsData(
            filter=demisto_client.demisto_api.IncidentFilter(id=[inc.id], page=0, size=50)
        )
    )
    assert [i.id for i in typed.data] == [inc.id]


def test_automation_scripts_save_search_copy_delete(api):
    saved = api.save_or_update_script(
        automation_script_filter_wrapper={
            "script": {
                "id": "",
                "name": "PyClientScript",
                "type": "python",
                "subtype": "python3",
                "script": "demisto.results('hi')",
                "arguments": [{"name": "value", "required": True, "description": "v"}],
                "outputs": [{"contextPath": "PyClientScript.Result", "type": "string"}],
                "tags": ["utility"],
                "version": -1,
            },
            "savePassword": False,
        }
    )
    assert isinstance(saved, models.AutomationScriptResult)
    assert saved.scripts[0].id == "PyClientScript"
    assert saved.scripts[0].arguments[0].name == "value"

    found = api.get_automation_scripts(automation_script_filter={"query": "name:PyClientScript"})
    assert isinstance(found, models.AutomationScriptResult)
    assert [s.name for s in found.scripts] == ["PyClientScript"]
    assert found.scripts[0].tags == ["utility"]
    assert found.scripts[0].system is False
    assert found.scripts[0].modified.year >= 1
    # What `demisto-sdk download` reads for one script: the raw JSON, code included.
    raw, status, _ = api.generic_request("automation/load/PyClientScript", "POST", response_type="object")
    assert status == 200
    assert raw["script"] == "demisto.results('hi')"

    copied = api.copy_script(automation_script_filter_wrapper={"script": {"id": "PyClientScript"}})
    assert copied.scripts[0].name == "PyClientScript_copy"
    api.delete_automation_script(automation_script_filter_wrapper={"script": {"id": "PyClientScript_copy"}})
    left = api.get_automation_scripts(automation_script_filter={"query": "name:PyClientScript*"})
    assert [s.name for s in left.scripts] == ["PyClientScript"]


def test_war_room_upload_is_downloadable(api, playground, tmp_path):
    src = tmp_path / "evidence.txt"
    src.write_text("uploaded through the API")
    # What XsoarClient.upload_file_to_war_room sends.
    api.generic_request(
        f"/entry/upload/{playground}",
        "POST",
        form_params=[("fileName", "evidence.txt"), ("fileComment", "from the client")],
        files={"file": str(src)},
        content_type="multipart/form-data",
        response_type="object",
    )
    res = api.generic_request(f"/investigation/{playground}", "POST", body={"pageSize": 5}, response_type="object")
    entry = [e for e in res[0]["entries"] if e["type"] == 3][-1]
    assert entry["file"] == "evidence.txt"
    os.chdir(tmp_path / ".")
    path = api.download_file(entry["id"])
    with open(path) as f:
        assert f.read() == "uploaded through the API"


def test_an_advanced_api_key_signs_every_request(server):
    """demisto-py's advanced key: a fresh nonce and sha256(key + nonce + timestamp) per request."""
    from conftest import API_KEY

    client = demisto_client.configure(
        base_url=server.url, advanced_api_key=API_KEY, auth_id="1", verify_ssl=False
    )
    for _ in range(2):
        res = client.search_investigations(filter={"filter": {"type": [9], "page": 0}})
        assert res.total == 1
    wrong = demisto_client.configure(
        base_url=server.url, advanced_api_key=API_KEY + "x", auth_id="1", verify_ssl=False
    )
    try:
        wrong.search_investigations(filter={"filter": {"type": [9], "page": 0}})
    except demisto_client.demisto_api.rest.ApiException as e:
        assert e.status == 401
    else:
        raise AssertionError("a wrong advanced key was accepted")


def test_a_username_and_password_open_a_session(server):
    """demisto-py's login: GET / and POST /login set the XSRF and session cookies; the user is
    the server's user and the password one of its API keys."""
    from conftest import API_KEY

    client = demisto_client.configure(
        base_url=server.url, username="admin", password=API_KEY, verify_ssl=False
    )
    res = client.search_investigations(filter={"filter": {"type": [9], "page": 0}})
    assert res.total == 1
    entries = client.investigation_add_entries_sync(
        update_entry={"investigationId": res.data[0].id, "data": "!Print value=session"}
    )
    assert any(e.contents == "session" for e in entries)
    try:
        demisto_client.configure(
            base_url=server.url, username="admin", password="wrong", verify_ssl=False
        )
    except demisto_client.demisto_api.rest.ApiException as e:
        assert e.status == 401
    else:
        raise AssertionError("a wrong password opened a session")
