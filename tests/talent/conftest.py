"""Talent tests: the functions in-process behind the real routes, the real embedder
model over HTTP, people's documents ingested through the real upload and embed steps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import accounts_env, bearer, signup
from tests.chat.conftest import chat_env, gateway, ingest, new_client, new_owner
from tests.embeddings.conftest import embedder_app, embedder_url
from tests.support.gateway import Gateway

__all__ = ["accounts_env", "chat_env", "embedder_app", "embedder_url", "gateway"]

CANARY = "zorblaxian"  # a word only the non-discoverable canary's documents hold

PEOPLE: dict[str, dict[str, Any]] = {
    "java": {
        "name": "Java Person",
        "discoverable": True,
        "files": {
            "cv.txt": (
                "Senior Java developer with 6 years of experience building backend services. "
                "Spring Boot, Hibernate and REST APIs for a payments platform in Seoul. "
                "Kafka pipelines, PostgreSQL tuning, Docker and Kubernetes on AWS."
            )
        },
    },
    "data": {
        "name": "Data Person",
        "discoverable": True,
        "files": {
            "cv.txt": (
                "Data scientist. Machine learning models in Python with pandas, scikit-learn "
                "and TensorFlow; natural language processing for customer reviews. "
                "3 years of experience. Tableau dashboards for the marketing team."
            )
        },
    },
    "hr": {
        "name": "HR Person",
        "discoverable": True,
        "files": {
            "cv.txt": (
                "HR generalist: recruitment of engineers, onboarding, payroll and employee "
                "relations for a 300-person company. 8 years of experience in human resources."
            )
        },
    },
    "korean": {
        "name": "한서준",
        "discoverable": True,
        "files": {
            "cv.md": (
                "# 경력\n\n자바 백엔드 개발자로 5년 동안 일했습니다. 스프링 부트와 JPA로 결제 "
                "시스템을 만들었고, 쿠버네티스에 배포했습니다.\n\n# 기술\n\n자바, 스프링, "
                "카프카, 도커"
            )
        },
    },
    "canary": {
        "name": "Canary Hidden",
        "discoverable": False,
        "files": {
            "cv.txt": (
                f"{CANARY} specialist. Java developer with Spring Boot and Hibernate, Python, "
                "machine learning, HR recruitment and payroll, 인사 담당자, 자바 개발자."
            )
        },
    },
}


@pytest.fixture(scope="session")
async def people(gateway: Gateway, chat_env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One owner and bot per person; everyone but the canary discoverable."""
    out = {}
    for key, spec in PEOPLE.items():
        owner = await new_owner(
            gateway, chat_env, name=spec["name"], discoverable=spec["discoverable"]
        )
        files = {name: text.encode() for name, text in spec["files"].items()}
        owner["documents"] = await ingest(owner, files)
        owner["text"] = " ".join(spec["files"].values())
        out[key] = owner
    return out


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(gateway) as c:
        yield c


@pytest.fixture
async def hr(client: httpx.AsyncClient) -> dict[str, str]:
    """A fresh stargazer (an HR user): its headers."""
    session = await signup(client)
    return bearer(session["access_token"])


def slugs(reply: dict[str, Any]) -> list[str]:
    return [r["bot"] for r in reply["results"]]
