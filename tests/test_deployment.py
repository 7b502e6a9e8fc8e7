"""docker-compose.yml, deploy/nginx.conf and the Dockerfile agree with the settings and the CLI.

No Docker engine runs here, so the files are parsed and checked instead of started: every
variable an app container gets is a real setting with a valid value, every command is one the
CLI accepts, and the proxy reaches both app containers without writing an access log.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from sqlalchemy.engine import make_url

from app.cli import cli
from app.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
NGINX = PROJECT_ROOT / "deploy" / "nginx.conf"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
APP_SERVICES = ("app1", "app2")
# ${NAME}, ${NAME:-default} and ${NAME:?message}, as docker compose interpolates them.
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<kind>[-?])(?P<rest>[^}]*))?\}")
DOT_ENV = {
    "PINGYI_SECRET_KEY": "hY3k9Qz-Lw2VtPq8rN5mXa7bC4dE6fG0jK1sU_yZoR2W",
    "POSTGRES_PASSWORD": "postgres-password",
    "PINGYI_PUBLIC_BASE_URL": "https://pingyi.example.gov.cn",
}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, kind, rest = match["name"], match["kind"], match["rest"]
            if name in env:
                return env[name]
            if kind == "-":
                return str(rest)
            raise KeyError(f"{name} is required: {rest}")

        return VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the << merges
    return interpolate(loaded, DOT_ENV)


def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def parse_cli(argv: list[str]) -> Any:
    """Parse a container's command as `pingyi` would, without running it; its click context.

    Typer vendors its own click, so groups are recognised by their ``commands``.
    """
    assert argv[0] == "pingyi"
    command: Any = typer.main.get_command(cli)
    name, args = "pingyi", argv[1:]
    context = None
    while hasattr(command, "commands"):
        # A group's context keeps its subcommand's words for later; resolve them by hand.
        subcommand, *args = args
        context = command.context_class(command, info_name=name, parent=context)
        command, name = command.commands[subcommand], subcommand
    return command.make_context(name, args, parent=context)


class TestCompose:
    def test_has_database_migration_two_apps_and_a_proxy(self, compose: dict[str, Any]) -> None:
        assert set(services(compose)) == {"postgres", "migrate", *APP_SERVICES, "proxy"}

    def test_a_missing_secret_stops_compose_instead_of_starting_without_one(self) -> None:
        loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
        with pytest.raises(KeyError, match="PINGYI_SECRET_KEY"):
            interpolate(loaded, {"POSTGRES_PASSWORD": "p"})

    @pytest.mark.parametrize("service", [*APP_SERVICES, "migrate"])
    def test_every_app_variable_is_a_valid_setting(
        self, compose: dict[str, Any], service: str
    ) -> None:
        environment: dict[str, str] = services(compose)[service]["environment"]
        known = {f"PINGYI_{name.upper()}" for name in Settings.model_fields}
        assert set(environment) <= known, set(environment) - known
        settings = Settings(
            **{key.removeprefix("PINGYI_").lower(): value for key, value in environment.items()}
        )
        assert settings.env == "production"
        assert settings.log_format == "json"
        assert settings.public_base_url.startswith("https://")

    def test_apps_reach_the_compose_database(self, compose: dict[str, Any]) -> None:
        database = services(compose)["postgres"]["environment"]
        for service in APP_SERVICES:
            url = make_url(services(compose)[service]["environment"]["PINGYI_DATABASE_URL"])
            assert url.drivername == "postgresql+psycopg"
            assert url.host == "postgres"
            assert url.port == 5432
            assert url.database == database["POSTGRES_DB"]
            assert url.username == database["POSTGRES_USER"]
            assert url.password == database["POSTGRES_PASSWORD"]

    def test_pool_fits_the_database_connection_limit(self, compose: dict[str, Any]) -> None:
        command = services(compose)["postgres"]["command"]
        max_connections = int(
            next(c for c in command if c.startswith("max_connections=")).split("=")[1]
        )
        needed = 0
        for service in APP_SERVICES:
            app = services(compose)[service]
            workers = parse_cli(app["command"]).params["workers"]
            pool = int(app["environment"]["PINGYI_DATABASE_POOL_SIZE"])
            needed += workers * pool * 2  # pool_size plus as many overflow connections
        assert needed < max_connections

    def test_database_logs_no_statements(self, compose: dict[str, Any]) -> None:
        command = services(compose)["postgres"]["command"]
        assert "log_statement=none" in command
        assert "log_connections=off" in command
        assert "log_error_verbosity=terse" in command  # no DETAIL with a failing row
        assert "log_min_error_statement=panic" in command

    @pytest.mark.parametrize("service", APP_SERVICES)
    def test_apps_serve_on_the_port_the_proxy_uses(
        self, compose: dict[str, Any], service: str
    ) -> None:
        app = services(compose)[service]
        context = parse_cli(app["command"])
        assert context.info_name == "serve"
        assert context.params["host"] == "0.0.0.0"  # noqa: S104 - inside its container
        assert context.params["workers"] >= 2
        port = context.params["port"]
        assert app["expose"] == [str(port)]
        assert f"server {service}:{port}" in NGINX.read_text()
        assert "/readyz" in " ".join(app["healthcheck"]["test"])

    def test_apps_start_after_the_migration_and_the_proxy_after_the_apps(
        self, compose: dict[str, Any]
    ) -> None:
        migrate = services(compose)["migrate"]
        assert parse_cli(migrate["command"]).info_name == "upgrade"
        assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        for service in APP_SERVICES:
            assert services(compose)[service]["depends_on"] == {
                "migrate": {"condition": "service_completed_successfully"}
            }
        assert set(services(compose)["proxy"]["depends_on"]) == set(APP_SERVICES)

    def test_only_the_proxy_publishes_a_port(self, compose: dict[str, Any]) -> None:
        published = {name for name, service in services(compose).items() if service.get("ports")}
        assert published == {"proxy"}
        assert services(compose)["proxy"]["ports"] == ["80:80"]
        assert any(
            v.startswith("./deploy/nginx.conf:") for v in services(compose)["proxy"]["volumes"]
        )


class TestProxy:
    def test_writes_no_access_log(self) -> None:
        config = NGINX.read_text()
        assert re.search(r"^\s*access_log off;", config, re.MULTILINE)
        assert not re.search(r"^\s*access_log (?!off)", config, re.MULTILINE)

    def test_passes_the_scheme_so_cookies_and_hsts_follow_https(self) -> None:
        config = NGINX.read_text()
        assert "proxy_set_header X-Forwarded-Proto $original_scheme;" in config
        assert "real_ip_header X-Forwarded-For;" in config

    def test_never_resends_a_submission(self) -> None:
        directives = re.findall(r"^\s*proxy_next_upstream (.*);", NGINX.read_text(), re.MULTILINE)
        assert directives
        assert all("non_idempotent" not in directive for directive in directives)


class TestDockerfile:
    def test_serves_with_the_cli_and_checks_readiness(self) -> None:
        dockerfile = DOCKERFILE.read_text()
        command = re.search(r'^CMD \["sh", "-c", "(?P<line>[^"]+)"\]', dockerfile, re.MULTILINE)
        assert command is not None
        upgrade, serve = command["line"].split(" && exec ")
        assert parse_cli(upgrade.split()).info_name == "upgrade"
        assert parse_cli(serve.replace("${WORKERS}", "2").split()).info_name == "serve"
        assert "/readyz" in dockerfile


def test_compose_file_is_where_the_operations_guide_says() -> None:
    readme = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "docker-compose.yml" in readme
    assert Path(COMPOSE).exists()
