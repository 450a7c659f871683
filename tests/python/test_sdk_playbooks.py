"""`demisto-sdk run-playbook` and `upload`: content goes up, playbooks run to an end state."""

import shutil


def test_a_completing_playbook(sdk):
    r = sdk("run-playbook", "-p", "SIGNL4 Page On-Call Teams", "-w", "-t", "60")
    assert "The playbook: SIGNL4 Page On-Call Teams was triggered successfully." in r.stdout, r
    assert "The playbook SIGNL4 Page On-Call Teams has completed its run successfully" in r.stdout, r


def test_an_uploaded_playbook_runs_to_completion(sdk, pack):
    up = sdk("upload", "-i", str(pack / "Playbooks" / "playbook-Emu_Completing.yml"))
    assert "SUCCESSFUL UPLOADS" in up.output, up
    assert "playbook-Emu_Completing.yml" in up.output, up
    assert "FAILED UPLOADS" not in up.output, up
    r = sdk("run-playbook", "-p", "Emu Completing", "-w", "-t", "60")
    assert "The playbook Emu Completing has completed its run successfully" in r.stdout, r


def test_a_failing_playbook(sdk, pack):
    up = sdk("upload", "-i", str(pack / "Playbooks" / "playbook-Emu_Failing.yml"))
    assert "SUCCESSFUL UPLOADS" in up.output, up
    r = sdk("run-playbook", "-p", "Emu Failing", "-w", "-t", "60")
    assert "The playbook: Emu Failing was triggered successfully." in r.stdout, r
    assert "The playbook finished running with status: failed" in r.stdout, r


def test_a_missing_playbook_is_refused(sdk):
    r = sdk("run-playbook", "-p", "missing-playbook")
    assert "playbook-id missing-playbook does not exist." in r.output, r


def test_an_integration_upload(sdk, pack, api):
    r = sdk("upload", "-i", str(pack / "Integrations" / "EmuEcho"))
    assert "SUCCESSFUL UPLOADS" in r.output, r
    assert "EmuEcho.yml" in r.output, r
    assert "FAILED UPLOADS" not in r.output, r
    res = api.generic_request("/settings/integration/search", "POST", body={}, response_type="object")
    configs = {c["id"]: c for c in res[0]["configurations"]}
    # The SDK marks community content in the display name when it unifies the integration.
    assert configs["EmuEcho"]["display"].startswith("Emu Echo")
    assert [c["name"] for c in configs["EmuEcho"]["configuration"]] == ["token", "proxy"]


def test_a_pack_upload(sdk, pack, api):
    r = sdk("upload", "-i", str(pack), "--override-existing")
    assert "SUCCESSFUL UPLOADS" in r.output, r
    assert "FAILED UPLOADS" not in r.output, r
    installed = api.generic_request("/contentpacks/metadata/installed", "GET", response_type="object")[0]
    assert [p["name"] for p in installed] == ["EmuTest"]
    assert installed[0]["currentVersion"] == "1.0.0"
    playbook = api.generic_request("/playbook/Emu%20Failing", "GET", response_type="object")[0]
    assert playbook["name"] == "Emu Failing"
    # The pack's Lists/ are stored as /lists/save stores them.
    lists = {l["name"]: l for l in api.generic_request("/lists", "GET", response_type="object")[0]}
    assert lists["EmuHosts"]["type"] == "JSON"
    assert lists["EmuHosts"]["data"] == '{"hosts": ["ws-01", "ws-02"]}'


def test_a_pack_of_lists_only_is_uploaded(sdk, pack, api, playground):
    for sub in ("Integrations", "Playbooks", "TestPlaybooks"):
        shutil.rmtree(pack / sub)
    r = sdk("upload", "-i", str(pack), "--override-existing")
    assert "SUCCESSFUL UPLOADS" in r.output, r
    assert "FAILED UPLOADS" not in r.output, r
    lists = {l["name"]: l["data"] for l in api.generic_request("/lists", "GET", response_type="object")[0]}
    assert lists["EmuHosts"] == '{"hosts": ["ws-01", "ws-02"]}'
    res = api.generic_request(
        "/entry/execute/sync",
        "POST",
        body={"investigationId": playground, "data": "!Print value=${lists.EmuHosts.hosts}"},
        response_type="object",
    )[0]
    # Print runs once per element of a list argument, as XSOAR iterates it.
    assert [e["contents"] for e in res] == ["ws-01", "ws-02"], res


def test_run_test_playbook_uploads_runs_and_waits(sdk, pack):
    r = sdk("run-test-playbook", "-tpb", str(pack / "TestPlaybooks" / "playbook-Emu_Completing_Test.yml"), "-t", "60")
    assert "The test playbook: Emu Completing Test was triggered successfully." in r.output, r
    assert "The test playbook has completed its run successfully" in r.output, r
    assert r.returncode == 0, r
