"""deploy.check finds what is wrong in deploy/: each test breaks a copy of the tree in one way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic_settings import SettingsConfigDict

from deploy import check, compose_check, fill_secrets, k8s_check, settings_catalogue, settings_doc
from deploy.envcheck import read_env_file
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.unit

needs_kustomize = pytest.mark.skipif(
    k8s_check.kustomize_command() is None, reason="neither kustomize nor kubectl on PATH"
)


def messages(root: Path) -> list[str]:
    problems, _ = check.run(root)
    return [str(p) for p in problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def compose_problems(root: Path) -> list[str]:
    problems, _ = compose_check.check(root / "deploy" / "compose", root, settings_catalogue.load())
    return [str(p) for p in problems]


@needs_kustomize
def test_the_committed_tree_passes_every_check(tree: Path) -> None:
    problems, notes = check.run(tree)
    assert problems == []
    assert any("21 services valid against the Compose schema" in n for n in notes)
    assert sum("rendered objects valid against the Kubernetes" in n for n in notes) == 2


def test_a_compose_file_outside_the_schema_is_named_with_its_path(tree: Path) -> None:
    compose = tree / "deploy" / "compose" / "compose.yaml"
    edit(
        compose,
        "    image: apache/kafka:4.1.0\n    hostname: kafka",
        "    imagee: apache/kafka:4.1.0\n    hostname: kafka",
    )
    found = compose_problems(tree)
    assert any(
        "compose.yaml services.kafka" in m and "'imagee' was unexpected" in m for m in found
    ), found


def test_a_compose_file_that_is_not_yaml_is_reported(tree: Path) -> None:
    compose = tree / "deploy" / "compose" / "compose.yaml"
    compose.write_text("services: [unclosed\n", encoding="utf-8")
    assert any("not valid YAML" in m for m in compose_problems(tree))


def test_a_dependency_on_a_missing_service_is_reported(tree: Path) -> None:
    compose = tree / "deploy" / "compose" / "compose.yaml"
    edit(
        compose,
        "      kafka: {condition: service_healthy}",
        "      kafak: {condition: service_healthy}",
    )
    assert (
        "deploy/compose/compose.yaml services.kafka-topics: depends_on 'kafak': no such service"
        in compose_problems(tree)
    )


def test_an_unknown_env_var_in_compose_is_named_with_the_nearest_real_one(tree: Path) -> None:
    compose = tree / "deploy" / "compose" / "compose.yaml"
    edit(
        compose,
        '      SAMVERKAN_REFERRAL_MIGRATE_ON_START: "false"',
        '      SAMVERKAN_REFERRAL_MIGRATE_ON_STRAT: "false"',
    )
    assert (
        "deploy/compose/compose.yaml services.sjostad-kommun-referral: no setting of "
        "samverkan-referral reads SAMVERKAN_REFERRAL_MIGRATE_ON_STRAT; "
        "did you mean SAMVERKAN_REFERRAL_MIGRATE_ON_START?"
    ) in compose_problems(tree)


def test_a_missing_required_secret_is_reported_for_each_container(tree: Path) -> None:
    example = tree / "deploy" / "compose" / "secrets" / "vastra-regionen" / "audit.env.example"
    edit(example, "SAMVERKAN_AUDIT_PSEUDONYM_KEY=", "# SAMVERKAN_AUDIT_PSEUDONYM_KEY=")
    found = sorted(m for m in compose_problems(tree) if "PSEUDONYM_KEY" in m)
    assert found == [
        "deploy/compose/compose.yaml services.vastra-regionen-audit-migrate: "
        "SAMVERKAN_AUDIT_PSEUDONYM_KEY: is required but not set",
        "deploy/compose/compose.yaml services.vastra-regionen-audit: "
        "SAMVERKAN_AUDIT_PSEUDONYM_KEY: is required but not set",
    ]


def test_an_invalid_value_is_reported_as_the_service_would(tree: Path) -> None:
    env = tree / "deploy" / "compose" / "env" / "sjostad-kommun.env"
    edit(env, "KAFKA_TOPIC_PARTITIONS=3", "KAFKA_TOPIC_PARTITIONS=three")
    found = [m for m in compose_problems(tree) if "KAFKA_TOPIC_PARTITIONS" in m]
    assert len(found) == 8  # four services and their four migrate steps
    assert "valid integer" in found[0]


def test_a_dsn_pointing_at_another_principals_database_is_reported(tree: Path) -> None:
    secrets = tree / "deploy" / "compose" / "secrets" / "vastra-regionen" / "referral.env.example"
    edit(secrets, "@postgres-vastra-regionen:", "@postgres-sjostad-kommun:")
    assert any(
        "vastra-regionen-referral: DATABASE_URL host 'postgres-sjostad-kommun'" in m
        for m in compose_problems(tree)
    )


def test_a_dsn_password_that_differs_from_the_role_password_is_reported(tree: Path) -> None:
    postgres = tree / "deploy" / "compose" / "secrets" / "sjostad-kommun" / "postgres.env.example"
    edit(postgres, "SAMVERKAN_DB_PASSWORD_AUDIT=CHANGE-ME", "SAMVERKAN_DB_PASSWORD_AUDIT=OTHER")
    assert any(
        "sjostad-kommun-audit: the DATABASE_URL password differs" in m
        for m in compose_problems(tree)
    )


def test_a_new_required_setting_that_no_deployment_provides_is_reported(tree: Path) -> None:
    class Grown(ReferralSettings):
        model_config = SettingsConfigDict(env_prefix="SAMVERKAN_REFERRAL_", extra="ignore")
        journal_url: str

    catalogue = settings_catalogue.load()
    catalogue["referral"] = settings_catalogue.for_class("referral", Grown)
    problems, _ = compose_check.check(tree / "deploy" / "compose", tree, catalogue)
    missing = [str(p) for p in problems if "JOURNAL_URL" in str(p)]
    assert len(missing) == 4  # both principals' referral services and migrate steps
    assert missing[0].endswith("SAMVERKAN_REFERRAL_JOURNAL_URL: is required but not set")
    docs = [str(p) for p in settings_doc.check(tree, catalogue)]
    assert any("SAMVERKAN_REFERRAL_JOURNAL_URL has no description" in m for m in docs)
    assert any("settings table is stale" in m for m in docs)


def test_an_invalid_rendered_manifest_is_reported_with_its_field() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "referral"},
        "spec": {"replicas": "two", "selector": {"matchLabels": {"a": "b"}}, "template": {}},
    }
    found = [str(p) for p in k8s_check.validate_schema(deployment, "overlay")]
    assert found == [
        "overlay Deployment/referral: spec.replicas: 'two' is not of type 'integer', 'null'"
    ]
    typo = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    assert "'portz' was unexpected" in str(k8s_check.validate_schema(typo, "overlay")[0])


@needs_kustomize
def test_a_broken_base_manifest_fails_both_overlays(tree: Path) -> None:
    edit(tree / "deploy" / "k8s" / "base" / "referral.yaml", "  replicas: 2", "  replicas: two")
    found = [m for m in messages(tree) if "Deployment/referral" in m]
    assert len(found) == 2
    assert all("spec.replicas: 'two' is not of type 'integer'" in m for m in found)


@needs_kustomize
def test_an_unknown_env_var_in_a_manifest_is_reported(tree: Path) -> None:
    edit(
        tree / "deploy" / "k8s" / "overlays" / "vastra-regionen" / "node.env",
        "KAFKA_SASL_USERNAME=",
        "KAFKA_SASL_USER=",
    )
    found = messages(tree)
    assert (
        "deploy/k8s/overlays/vastra-regionen Deployment/audit container audit: no setting of "
        "samverkan-audit reads KAFKA_SASL_USER; did you mean KAFKA_SASL_USERNAME?"
    ) in found


@needs_kustomize
def test_weakened_pod_security_and_a_wrong_probe_are_reported(tree: Path) -> None:
    audit = tree / "deploy" / "k8s" / "base" / "audit.yaml"
    edit(
        audit,
        "            readOnlyRootFilesystem: true",
        "            readOnlyRootFilesystem: false",
    )
    edit(audit, "httpGet: {path: /readyz, port: http}", "httpGet: {path: /healthz, port: http}")
    found = [m for m in messages(tree) if "sjostad-kommun Deployment/audit" in m]
    assert any("container audit: readOnlyRootFilesystem must be true" in m for m in found)
    assert any("container migrate: readOnlyRootFilesystem must be true" in m for m in found)
    assert any("container audit: readinessProbe must GET /readyz" in m for m in found)


@needs_kustomize
def test_a_secret_with_no_declared_keys_is_reported(tree: Path) -> None:
    (tree / "deploy/k8s/overlays/sjostad-kommun/secrets.example/samverkan-audit.env").unlink()
    assert any(
        "Secret 'samverkan-audit' is neither rendered nor described" in m for m in messages(tree)
    )


def test_a_dockerfile_stage_with_the_wrong_entrypoint_is_reported(tree: Path) -> None:
    dockerfile = tree / "deploy" / "Dockerfile"
    edit(dockerfile, 'ENTRYPOINT ["samverkan-audit"]', 'ENTRYPOINT ["samverkan-referral"]')
    edit(dockerfile, "USER 10001:10001", "USER root")
    found = [str(p) for p in check.dockerfile.check(dockerfile, tree, settings_catalogue.load())]
    assert 'deploy/Dockerfile stage audit: ENTRYPOINT must be ["samverkan-audit"]' in found
    assert "deploy/Dockerfile stage audit: runs as root: set USER to an unprivileged uid" in found


def test_the_topic_script_must_match_the_contracts(tree: Path) -> None:
    script = tree / "deploy" / "compose" / "kafka" / "create-topics.sh"
    edit(script, "topic samverkan.consent.v1 retention.ms=-1\n", "")
    edit(script, "topic samverkan.directory.v1 retention.ms=-1", "topic samverkan.directory.v1")
    found = [str(p) for p in check.compose_check.check_topics(script, tree, check.topics.ALL)]
    where = "deploy/compose/kafka/create-topics.sh"
    assert (
        f"{where}: topic samverkan.consent.v1 of samverkan.contracts.topics is not created" in found
    )
    assert f"{where}: samverkan.directory.v1 must keep its history: retention.ms=-1" in found


def test_filled_secrets_replace_every_placeholder_consistently(tree: Path) -> None:
    folder = tree / "deploy" / "compose" / "secrets"
    written = fill_secrets.fill(folder)
    assert len(written) == 12
    referral, _ = read_env_file(folder / "sjostad-kommun" / "referral.env")
    postgres, _ = read_env_file(folder / "sjostad-kommun" / "postgres.env")
    assert "CHANGE-ME" not in "".join(referral.values()) + "".join(postgres.values())
    password = re.search(r"referral:([^@]+)@", referral["SAMVERKAN_REFERRAL_DATABASE_URL"])
    assert password is not None
    assert password.group(1) == postgres["SAMVERKAN_DB_PASSWORD_REFERRAL"]
    assert fill_secrets.fill(folder) == []  # existing files are kept
    assert compose_problems(tree) == []  # the filled files are read instead of the examples


def test_env_files_that_compose_and_kustomize_read_differently_are_flagged(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text('A="quoted"\nB=1 # note\nexport C=2\nA=again\n', encoding="utf-8")
    values, doubts = read_env_file(env)
    assert values == {"A": "again", "B": "1 # note", "C": "2"}
    assert [d.split(":")[0] for d in doubts] == ["line 1", "line 2", "line 3", "line 4"]


def test_the_settings_table_in_the_docs_is_current() -> None:
    root = Path(__file__).resolve().parents[2]
    assert settings_doc.check(root, settings_catalogue.load()) == []


def test_compose_services_are_the_eight_of_two_principals() -> None:
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "deploy/compose/compose.yaml").read_text(encoding="utf-8"))
    serving = sorted(
        name
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("samverkan-") and "migrate" not in name
    )
    assert serving == sorted(
        f"{p}-{s}"
        for p in ("sjostad-kommun", "vastra-regionen")
        for s in ("directory", "referral", "notification", "audit")
    )


def test_without_a_renderer_the_check_says_the_manifests_were_not_checked(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k8s_check, "kustomize_command", lambda: None)
    problems, notes = check.run(tree)
    assert problems == []
    assert any("NOT rendered or validated" in n for n in notes)
