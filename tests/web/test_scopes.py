"""The dashboard's scopes for the officers, whom the demo has none of: on the API tests'
deal (`tests.api.conftest`), without a browser, on the database under test."""

from __future__ import annotations

import re

from tests.api.conftest import Deal
from tests.web.conftest import log_in


def _login(deal: Deal, who: str) -> None:
    deal.client.cookies.clear()
    assert log_in(deal.client, deal.tokens[who]).status_code == 303


def _agreements(html: str) -> list[str]:
    return re.findall(r'<section class="card" data-agreement="([^"]+)"', html)


def test_an_officer_sees_only_its_states_agreements(deal: Deal) -> None:
    _login(deal, "officer_us")
    assert _agreements(deal.client.get("/").text) == ["ua-us-2025"]
    page = deal.client.get("/agreements/ua-us-2025")
    assert page.status_code == 200
    assert 'id="balances"' in page.text
    assert 'id="settlement"' in page.text

    _login(deal, "officer_dk")
    assert _agreements(deal.client.get("/").text) == []
    refused = deal.client.get("/agreements/ua-us-2025")
    assert refused.status_code == 404
    assert "balances" not in refused.text


def test_roles_get_the_apis_answers_on_the_pages(deal: Deal) -> None:
    expected = {
        ("manufacturer_1", "/suppliers/ua-mfr-002"): 404,
        ("manufacturer_1", "/suppliers/ua-mfr-001"): 200,
        ("inspector_us", "/licenses"): 403,
        ("officer_dk", "/licenses"): 200,
        ("auditor", "/import"): 403,
    }
    for (who, path), status in expected.items():
        _login(deal, who)
        assert deal.client.get(path).status_code == status, (who, path)
    deal.client.cookies.clear()
    assert deal.client.get("/compliance").status_code == 401
