"""The local runtime behind ``task up``: the Knative manifests, run on one machine.

Order is strict: validate every setting and the data dir (creating nothing), read
``knative/base`` and refuse manifests a cluster could not run, take the single-instance
lock, start PostgreSQL and Redis when their URLs are unset, run the Jobs (the
migration), then run the rest: every Service as a functions-framework process behind
an activator, with only what its pod would get (localplatform.runtime.pods), the
public routes on ``PROTOSTAR_PORT``, the Broker with its
Triggers (RabbitMQ when ``RABBITMQ_URL`` is set, else durable queues in PostgreSQL) and
the PingSources. Every child dies with us (PDEATHSIG), Ctrl-C stops them in order, and
the lock is a kernel ``flock`` that a crash releases by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import uvicorn

from localplatform.embedded import procs
from localplatform.runtime import pods
from localplatform.runtime.environment import Objects
from localplatform.runtime.topology import Topology
from shared.db import bootstrap
from shared.errors import ProtostarError, SettingsError
from shared.secrets import SecretStore
from shared.settings import Settings, check_data_dir, load_settings

log = logging.getLogger("protostar.runtime")

ROOT = Path(__file__).resolve().parents[2]
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3
# Services the demo's set-up goes through (a trimmed manifest set has no demo).
DEMO_NEEDS = frozenset({"auth", "users", "bots", "content", "web"})


class AlreadyRunning(ProtostarError):
    code = "already_running"


class InstanceLock:
    """An exclusive ``flock`` on ``<data>/protostar.lock``; the kernel drops it on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self, info: dict[str, Any]) -> None:
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                holder = json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                holder = {}
            fh.close()
            where = f" at {holder['url']}" if "url" in holder else ""
            pid = f" (pid {holder['pid']})" if "pid" in holder else ""
            raise AlreadyRunning(
                f"Protostar is already running{pid}{where} with data dir {self.path.parent}; "
                "stop it first (Ctrl-C in its terminal) or set PROTOSTAR_DATA to another dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(info))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class LocalRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        manifests: Path | None = None,
        scale_to_zero: bool | None = None,
        status_view: bool = False,
    ) -> None:
        self.settings = settings
        self.data = settings.data_dir
        self.manifests = manifests or (
            ROOT / settings.protostar_manifests
            if not settings.protostar_manifests.is_absolute()
            else settings.protostar_manifests
        )
        self.scale_to_zero = (
            settings.protostar_scale_to_zero if scale_to_zero is None else scale_to_zero
        )
        self.status_view = status_view
        self.lock = InstanceLock(self.data / "protostar.lock")
        self.postgres: Any = None
        self.redis: Any = None
        self.database_url = ""
        self.topology = Topology()
        self.objects = Objects()
        self.started = time.monotonic()

    # ------------------------------------------------------------------ preparation
    def prepare(self) -> None:
        """Everything synchronous: lock, secrets, embedded services, migrations."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.lock.acquire(
            {"pid": os.getpid(), "url": self.settings.public_base_url, "started": time.time()}
        )
        host, port = self.settings.protostar_host, self.settings.protostar_port
        if procs.port_in_use(port, host):
            raise SettingsError(
                f"PROTOSTAR_PORT: {host}:{port} is already in use by another program"
            )
        admin = self.settings.protostar_admin_port
        if admin is not None and (admin == port or procs.port_in_use(admin, host)):
            raise SettingsError(
                f"PROTOSTAR_ADMIN_PORT: {host}:{admin} is already in use"
                + (" (by PROTOSTAR_PORT)" if admin == port else " by another program")
            )
        self.topology = self._check_manifests()  # before anything starts
        secrets = SecretStore(self.settings.secrets_path)
        secrets.ensure_all()
        urls: dict[str, str] = {}
        app_role = self.settings.database_app_role
        if self.settings.database_url:
            urls["DATABASE_URL"] = self.settings.database_url
            urls["DATABASE_MIGRATE_URL"] = self.settings.migrate_url or ""
        else:
            from localplatform.embedded.postgres import EmbeddedPostgres

            self.postgres = EmbeddedPostgres(
                self.data / "postgres", password=secrets.get("postgres-superuser-password")
            )
            self.postgres.start()
            roles = bootstrap.Roles(
                owner_password=secrets.get("postgres-owner-password"),
                app_password=secrets.get("postgres-app-password"),
            )
            bootstrap.bootstrap(self.postgres.url(), roles)
            urls["DATABASE_URL"] = self.postgres.url(roles.app, roles.app_password, roles.database)
            urls["DATABASE_MIGRATE_URL"] = self.postgres.url(
                roles.owner, roles.owner_password, roles.database
            )
            app_role = roles.app
        if self.settings.redis_url:
            urls["REDIS_URL"] = self.settings.redis_url
        else:
            from localplatform.embedded.redis import EmbeddedRedis

            self.redis = EmbeddedRedis(self.data / "redis", password=secrets.get("redis-password"))
            self.redis.start()
            urls["REDIS_URL"] = self.redis.url
        if not self.settings.object_store_url:
            (self.data / "objects").mkdir(exist_ok=True)
        self.database_url = urls["DATABASE_URL"]
        self.objects = pods.local_objects(
            self.settings,
            configmaps=self.topology.configmaps,
            secrets=secrets,
            urls=urls,
            local={
                "PROTOSTAR_ENV": "local",
                "PROTOSTAR_DEMO": str(self.settings.protostar_demo).lower(),
                "PUBLIC_URL": self.settings.public_base_url,
                "ADMIN_URL": self.settings.admin_base_url,
                "OBJECT_STORE_URL": self.settings.object_store,
                "DATABASE_APP_ROLE": app_role,
                "LOG_LEVEL": self.settings.log_level,
            },
        )
        self._run_jobs()

    @property
    def claims(self) -> dict[str, Path]:
        """PersistentVolumeClaims bound to local directories (a pre-bound volume each)."""
        return {"audit-log": self.settings.audit_path}

    def _run_jobs(self) -> None:
        """The Jobs (the migration) to completion, each with its manifest's environment:
        on a cluster ArgoCD runs them as PreSync hooks before the Services."""
        rewrite = pods.cluster_dns(self.topology.namespace, {})
        for job in self.topology.jobs:
            env = {
                **pods.image_env(ROOT),
                **pods.container_env(
                    job, self.objects, data=self.data, claims=self.claims, rewrite=rewrite
                ),
            }
            started = time.monotonic()
            pods.run_job(job, env, root=ROOT, logdir=self.data / "logs")
            log.info(
                "job completed",
                extra={"job": job.name, "ms": round((time.monotonic() - started) * 1000)},
            )

    def release(self) -> None:
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        self.lock.release()

    def _check_manifests(self) -> Topology:
        """Refuse to start on manifests a cluster could not run: a function that sends
        events with no SinkBinding (it would get no K_SINK; the events catalog says who
        sends), or a Service whose manifest does not give its function a setting or a
        secret file it needs (functions/<dir>/needs.yaml)."""
        from localplatform.manifests.catalog import load_catalog_senders
        from localplatform.manifests.load import load_manifests
        from localplatform.manifests.validate import display_path
        from localplatform.runtime.needs import unmet_needs
        from localplatform.runtime.topology import TopologyError, build_topology, unbound_senders

        topo = build_topology(load_manifests(self.manifests), _namespace(self.manifests))
        senders = load_catalog_senders(ROOT / "events" / "catalog.yaml")
        problems = unbound_senders(topo, senders) + unmet_needs(topo, ROOT / "functions")
        if problems:
            raise TopologyError(
                "; ".join(
                    f"{display_path(Path(svc.manifest))}: {message}" for svc, message in problems
                )
            )
        return topo

    # ------------------------------------------------------------------ running
    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        import httpx

        from localplatform.broker.broker import Broker
        from localplatform.broker.model import TriggerSpec
        from localplatform.runtime.ingress import Activator, Front
        from localplatform.runtime.schedules import PingStats, run_pingsource
        from localplatform.runtime.services import ServiceProcess
        from localplatform.runtime.state import RuntimeState
        from localplatform.runtime.topology import SinkRef

        topo = self.topology
        ns = topo.namespace
        public = _bind(self.settings.protostar_host, self.settings.protostar_port)
        # The admin port has an ingress process of its own (runtime.edge), as a cluster's
        # Gateway listener is apart from the functions.
        admin = self.settings.protostar_admin_port
        broker_sock = _bind("127.0.0.1", 0)
        broker_port = broker_sock.getsockname()[1]
        broker_url = f"http://127.0.0.1:{broker_port}/{ns}/{next(iter(topo.brokers), 'default')}"
        logdir = self.data / "logs"
        services = {
            name: ServiceProcess(
                spec, root=ROOT, env={}, logdir=logdir, scale_to_zero=self.scale_to_zero
            )
            for name, spec in topo.services.items()
        }
        sockets = [public, broker_sock]
        for svc in services.values():
            sock = _bind("127.0.0.1", 0)
            svc.activator_port = sock.getsockname()[1]
            sockets.append(sock)
        # A Service's cluster-local URL (http://embedder.protostar.svc.cluster.local) in a
        # function's environment resolves to its local address, as cluster DNS would.
        dns = pods.cluster_dns(ns, {name: svc.address for name, svc in services.items()})
        image = pods.image_env(ROOT)
        for svc in services.values():
            svc.base_env = {
                **image,
                **pods.container_env(
                    svc.spec, self.objects, data=self.data, claims=self.claims, rewrite=dns
                ),
            }

        def address(service: str) -> str:
            return services[service].address

        def resolve(ref: SinkRef) -> str:
            if ref.uri:
                return ref.uri
            if ref.broker:
                return f"http://127.0.0.1:{broker_port}/{ns}/{ref.broker}"
            assert ref.service is not None
            return address(ref.service) + ref.path

        for name, svc in services.items():
            # K_SINK (and K_CE_OVERRIDES) only through a SinkBinding, as on a cluster.
            binding = topo.binding(name)
            if binding is not None:
                svc.base_env["K_SINK"] = resolve(binding.sink)
                if binding.ce_overrides:
                    svc.base_env["K_CE_OVERRIDES"] = json.dumps(binding.ce_overrides)

        triggers = [
            TriggerSpec(
                name=t.name,
                broker=t.broker,
                subscriber_url=resolve(t.subscriber),
                filters=t.filters,
                parallelism=t.parallelism,
                namespace=ns,
                delivery=topo.delivery(
                    t.delivery,
                    resolve,
                    fallback=topo.brokers[t.broker].delivery if t.broker in topo.brokers else None,
                ),
            )
            for t in topo.triggers
        ]
        backend_kind, backend = self._backend(ns)
        broker = Broker(backend, triggers, brokers=list(topo.brokers) or ["default"], namespace=ns)
        await broker.start()
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(300.0, connect=5.0), limits=httpx.Limits(max_connections=500)
        )
        activator = Activator()
        front = Front(
            topo,
            services,
            activator,
            public_port=public.getsockname()[1],
            broker_port=broker_port,
            broker_app=broker.asgi(),
            admin_port=admin,
        )
        server = _Server(
            uvicorn.Config(
                front,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
                proxy_headers=False,  # we are the edge: X-Forwarded-* from clients is untrusted
            )
        )
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(server.serve(sockets=sockets))]
        ping_stats = {p.name: PingStats() for p in topo.pingsources}
        state = RuntimeState(
            pid=os.getpid(),
            public_url=self.settings.public_base_url,
            broker_url=broker_url,
            broker_backend=backend_kind,
            postgres_port=self.postgres.port if self.postgres else None,
            redis_port=self.redis.port if self.redis else None,
        )
        edge = None
        try:
            await asyncio.gather(
                *(svc.ensure_running() for svc in services.values() if not svc.scale_to_zero)
            )
            if admin:
                edge = await self._start_edge(topo, services, admin, logdir)
            tasks += [asyncio.create_task(svc.supervise()) for svc in services.values()]
            tasks += [
                asyncio.create_task(run_pingsource(p, address, client, ping_stats[p.name]))
                for p in topo.pingsources
            ]

            async def snapshot() -> dict[str, Any]:
                queued = {}
                for t in triggers:
                    try:
                        queued[t.name] = await broker.backend.depth(t)
                    except Exception:
                        queued[t.name] = -1
                return {
                    "public_url": self.settings.public_base_url,
                    "broker_backend": backend_kind,
                    "data_dir": str(self.data),
                    "accepted": broker.accepted,
                    "services": {n: s.summary() for n, s in services.items()},
                    "triggers": {
                        t.name: {"queued": queued[t.name], **_trigger_stats(broker, t.name)}
                        for t in triggers
                    },
                    "pingsources": [
                        {
                            "name": p.name,
                            "schedule": p.schedule,
                            "timezone": p.timezone,
                            **vars(ping_stats[p.name]),
                        }
                        for p in topo.pingsources
                    ],
                }

            tasks.append(asyncio.create_task(self._report(snapshot, state)))
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.01)
            state.services = {n: s.summary() for n, s in services.items()}
            state.write(self.data)
            print(
                f"protostar: up in {time.monotonic() - self.started:.1f}s at "
                f"{self.settings.public_base_url}"
                + (f", admin at {self.settings.admin_base_url}" if admin else "")
                + f" (broker: {backend_kind}; "
                f"{len(services)} services; data in {self.data}; Ctrl-C stops)",
                flush=True,
            )
            if ready is not None:
                ready.set()
            if self.settings.protostar_demo and set(services) >= DEMO_NEEDS:
                tasks.append(asyncio.create_task(self._demo()))
            await stop.wait()
        finally:
            server.should_exit = True
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks[1:], return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tasks[0], 10)
            if edge is not None:
                await asyncio.to_thread(procs.stop, edge, signal.SIGTERM, 10.0)
            await broker.stop()
            await asyncio.gather(
                *(svc.stop("runtime stopping") for svc in services.values()), return_exceptions=True
            )
            for svc in services.values():
                svc.close()
            await client.aclose()
            await activator.close()
            (self.data / "runtime.json").unlink(missing_ok=True)

    async def _start_edge(
        self, topo: Topology, services: dict[str, Any], port: int, logdir: Path
    ) -> Any:
        """The admin port's ingress process (runtime.edge), accepting before we go on."""
        from localplatform.runtime.edge import config

        routes = [r for r in topo.routes if r.listener == "admin"]
        path = self.data / "edge.json"
        path.write_text(json.dumps(config(routes, services, self.settings.protostar_host, port)))
        log_file = open(logdir / "edge.log", "ab")  # noqa: SIM115, ASYNC230 - the child's
        proc = procs.spawn(
            [sys.executable, "-m", "localplatform.runtime.edge", str(path)],
            env=pods.image_env(ROOT),
            cwd=ROOT,
            log=log_file,
        )
        log_file.close()
        wildcard = ("0.0.0.0", "::", "")  # noqa: S104 - what the host may be set to
        host = (
            "127.0.0.1"
            if self.settings.protostar_host in wildcard
            else self.settings.protostar_host
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ProtostarError(f"the admin ingress exited; see {logdir / 'edge.log'}")
            if procs.port_in_use(port, host):
                return proc
            await asyncio.sleep(0.05)
        raise ProtostarError("the admin ingress did not start in 30 s")

    async def _demo(self) -> None:
        """First start: the demo owner, bot and corpus, through the public API."""
        from shared.web.demo import seed

        host = self.settings.protostar_host
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        # The owner's API: the admin routes (on their own port when it is set).
        port = self.settings.protostar_admin_port or self.settings.protostar_port
        try:
            account = await seed(
                api_url=f"http://{local}:{port}",
                public_url=self.settings.public_base_url,
                dashboard_url=self.settings.admin_base_url,
                data_dir=self.data,
                database_url=self.database_url,
            )
        except Exception:
            log.warning("demo not set up; the next start retries", exc_info=True)
            return
        if account is not None:
            print(account.banner(), flush=True)

    def _backend(self, namespace: str) -> tuple[str, Any]:
        kind = self.settings.broker_backend
        if kind == "auto":
            kind = "rabbitmq" if self.settings.rabbitmq_url else "postgres"
        if kind == "rabbitmq":
            if not self.settings.rabbitmq_url:
                raise SettingsError("BROKER_BACKEND: rabbitmq needs RABBITMQ_URL")
            from localplatform.broker.rabbitmq import RabbitMQBackend

            return kind, RabbitMQBackend(self.settings.rabbitmq_url, namespace=namespace)
        from localplatform.broker.postgres import PostgresBackend

        return kind, PostgresBackend(self.database_url, namespace=namespace)

    async def _report(self, snapshot: Any, state: Any) -> None:
        from localplatform.runtime.status import CLEAR, render

        last_log = 0.0
        while True:
            await asyncio.sleep(1.0)
            snap = await snapshot()
            state.services = snap["services"]
            state.write(self.data)
            if self.status_view:
                sys.stdout.write(CLEAR + render(snap) + "\n")
                sys.stdout.flush()
            elif time.monotonic() - last_log >= 60:
                last_log = time.monotonic()
                log.info(
                    "status",
                    extra={
                        "services": {n: s["state"] for n, s in snap["services"].items()},
                        "triggers": snap["triggers"],
                        "accepted": snap["accepted"],
                    },
                )


def _namespace(manifests: Path) -> str:
    """The kustomization's ``namespace:`` (what kustomize would stamp on every resource)."""
    import yaml

    from localplatform.manifests.load import kustomization_file

    found = kustomization_file(manifests) if manifests.is_dir() else None
    if found is not None:
        value = (yaml.safe_load(found.read_text()) or {}).get("namespace")
        if isinstance(value, str) and value:
            return value
    return "protostar"


def _trigger_stats(broker: Any, name: str) -> dict[str, int]:
    stats = broker.dispatcher.stats.get(name)
    keys = ("delivered", "retried", "dead_lettered", "replies", "failures")
    return {k: getattr(stats, k) if stats else 0 for k in keys}


def main(argv: list[str] | None = None) -> int:
    from shared.logs import configure_logging

    parser = argparse.ArgumentParser(prog="task up", description=__doc__.split("\n")[0])
    parser.add_argument("--manifests", type=Path, help="kustomization dir (knative/base)")
    parser.add_argument(
        "--scale-to-zero",
        action="store_true",
        default=None,
        help="start Services on demand, stop them when idle",
    )
    parser.add_argument(
        "--status",
        choices=["auto", "on", "off"],
        default="auto",
        help="live status view (auto: when stdout is a terminal)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        check_data_dir(settings.data_dir)
    except SettingsError as exc:
        print(f"protostar: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    status_view = args.status == "on" or (args.status == "auto" and sys.stdout.isatty())
    configure_logging("runtime", settings.log_level)
    if status_view:  # the view replaces the log lines on the terminal
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "logs").mkdir(exist_ok=True)
        handler = logging.FileHandler(settings.data_dir / "logs" / "runtime.log")
        handler.setFormatter(logging.getLogger().handlers[0].formatter)
        logging.getLogger().handlers[:] = [handler]
    runtime = LocalRuntime(
        settings,
        manifests=args.manifests,
        scale_to_zero=args.scale_to_zero,
        status_view=status_view,
    )
    try:
        try:
            runtime.prepare()
        except AlreadyRunning as exc:
            print(f"protostar: {exc}", file=sys.stderr)
            return EXIT_ALREADY_RUNNING
        import uvloop

        return uvloop.run(_serve(runtime))
    except KeyboardInterrupt:
        return 0
    except SettingsError as exc:
        print(f"protostar: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ProtostarError as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan
        runtime.release()


async def _serve(runtime: LocalRuntime) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.run(stop)
    print("protostar: stopped", file=sys.stderr, flush=True)
    return 0
