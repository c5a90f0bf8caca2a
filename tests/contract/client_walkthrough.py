"""The README walk-through through a client generated from the OpenAPI document by
openapi-python-client (tests/contract/client.sh generates it as the package `techmarket_client`):
an enterprise posts a need with the typed create body (required fields and closed vocabularies
as the contract declares them), a manager reads its matches and the review queue, accepts the
suggestion, introduces the parties (the enterprise then reads the university's contact),
negotiates and signs with the contract. Exits non-zero at the first step that fails.

    TM=http://127.0.0.1:8080 TM_ENTERPRISE=... TM_MANAGER=... python3 client_walkthrough.py
"""

import datetime
import os
import sys
import time

from techmarket_client import AuthenticatedClient
from techmarket_client.api.dockings import act_on_docking, get_docking, review_queue
from techmarket_client.api.matching import need_matches
from techmarket_client.api.needs import create_need, get_need
from techmarket_client.models import (
    ActionBody,
    ActOnDockingAction,
    Contact,
    CooperationMode,
    NeedCreate,
    NeedType,
    TechField,
    TransferInput,
    Visibility,
)


def check(response, status, what):
    if response.status_code != status:
        sys.exit(f"{what}: expected {status}, got {response.status_code}: {response.content.decode()[:500]}")
    print(f"ok: {what}")
    return response.parsed


def main():
    base = os.environ["TM"]
    enterprise = AuthenticatedClient(base_url=base, token=os.environ["TM_ENTERPRISE"])
    manager = AuthenticatedClient(base_url=base, token=os.environ["TM_MANAGER"])

    body = NeedCreate(
        title="炼化装置二氧化碳捕集与驱油利用",
        description="催化裂化再生烟气CO2浓度约12%，希望低能耗捕集后就近用于油田驱油，需要捕集与输送的整体方案。",
        field=TechField.CCUS,
        need_type=NeedType.JOINT_RD,
        region="370502",
        targets="捕集率≥90%；再生能耗≤2.5GJ/t",
        keywords=["CCUS", "碳捕集", "驱油"],
        cooperation_modes=[CooperationMode.JOINT_DEVELOPMENT, CooperationMode.TRANSFER],
        budget_min=200,
        budget_max=600,
        contact=Contact(name="张建国", phone="13905461201"),
        visibility=Visibility.PUBLIC,
    )
    need = check(create_need.sync_detailed(client=enterprise, body=body), 201, "the enterprise posts a need")
    read = check(get_need.sync_detailed(need.id, client=manager), 200, "the manager reads it")
    assert read.title == body.title

    matches = check(need_matches.sync_detailed(need.id, client=manager, limit=3), 200, "its matches")
    assert matches.items, "the need has matches"
    print(f"   first match: {matches.items[0].title} ({matches.items[0].score:.2f})")

    deadline = time.time() + 15
    while True:
        queue = check(review_queue.sync_detailed(client=manager, need_id=need.id), 200, "the review queue")
        if queue.items:
            break
        if time.time() > deadline:
            sys.exit("no suggestion for the need within 15 s")
        time.sleep(0.3)
    docking = queue.items[0].id

    act = act_on_docking.sync_detailed
    check(act(docking, ActOnDockingAction.ACCEPT, client=manager, body=ActionBody(note="技术路线对口，值得推进")), 200, "accept")
    check(act(docking, ActOnDockingAction.INTRODUCE, client=manager, body=ActionBody()), 200, "introduce")
    seen = check(get_docking.sync_detailed(docking, client=enterprise), 200, "the enterprise reads the docking")
    contact = seen.achievement.contact
    assert contact and contact.name, f"the introduced party's contact: {seen.achievement}"
    print(f"   the university's contact: {contact.name}")
    check(act(docking, ActOnDockingAction.NEGOTIATE, client=manager, body=ActionBody()), 200, "negotiate")
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
    contract = TransferInput(contract_type="transfer", amount="350.25", signed_on=today)
    signed = check(act(docking, ActOnDockingAction.SIGN, client=manager, body=ActionBody(contract=contract)), 200, "sign")
    print(f"   docking {signed.id}: {signed.state}")


if __name__ == "__main__":
    main()
