"""``metrics-rpc collect jupyterhub``: observe JupyterHub single-user pods.

Every ``--interval`` seconds the running single-user pods are listed through the Kubernetes
API (in-cluster service account, else kubeconfig) or read from a recorded
``kubectl get pods -o json`` document (``--from-file``). Each Running pod becomes one
observation: user email and name, pod, node, image (base and version) and pod age. A cycle
is sent as one batch to ``POST /rpc/ingest_container_observations`` of our API; the
function writes a batch whole or not at all and ignores replays, so a batch that could not
be delivered is simply sent again with the next cycle.

Parsing (``parse_pod``, ``split_image``, ``parse_selector``, ``matches_selector``) is pure
and needs no cluster; the ``kubernetes`` package is imported only when the cluster is
actually listed.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from api.client import api_client, error_message, retryable
from api.config import ConfigError, Settings

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "jupyterhub"
DEFAULT_SELECTOR = "component=singleuser-server"
DEFAULT_INTERVAL = 300
INGEST_PATH = "/rpc/ingest_container_observations"
USERNAME_KEY = "hub.jupyter.org/username"  # KubeSpawner's annotation (and escaped label)
NOTEBOOK_CONTAINER = "notebook"  # KubeSpawner's name for the user's container
PENDING_BATCHES = 12  # undelivered cycles kept for the next attempt (an hour at 300 s)
HTTP_TIMEOUT = 30.0
USER_AGENT = "metrics-rpc-collect-jupyterhub"


# --- parsing (pure) ----------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """One running pod as seen at one collection time."""

    observed_at: datetime
    user_email: str
    user_name: str | None
    pod_name: str
    node_name: str
    container_base: str
    container_version: str
    age_seconds: int

    def to_json(self) -> dict[str, Any]:
        """The element of ``p_observations`` the ingest function expects."""
        return {
            "observed_at": self.observed_at.isoformat(),
            "user_email": self.user_email,
            "user_name": self.user_name,
            "pod_name": self.pod_name,
            "node_name": self.node_name,
            "container_base": self.container_base,
            "container_version": self.container_version,
            "age_seconds": self.age_seconds,
        }


@dataclass(frozen=True)
class Skipped:
    """A pod that yields no observation, and why."""

    pod_name: str
    reason: str


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/team/notebook:2024.05`` → (``registry:5000/team/notebook``, ``2024.05``).

    A colon is a tag separator only after the last slash (before it, it is a registry
    port). A digest is the version when there is no tag; no tag and no digest → ``latest``.
    """
    name, _, digest = image.strip().partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        base, tag = name[:colon], name[colon + 1 :]
    else:
        base, tag = name, ""
    return base, tag or digest or "latest"


SelectorTerm = tuple[str, str, str]  # (key, op, value)


def parse_selector(selector: str) -> tuple[SelectorTerm, ...]:
    """Equality-based label selector → ``(key, op, value)``; op is ``=``, ``!=``, ``exists``
    or ``!exists``. Set-based selectors (``in``/``notin``) are left to the API server."""
    terms: list[SelectorTerm] = []
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if " in " in f" {term} " or " notin " in f" {term} " or "(" in term:
            raise ValueError(f"set-based selector {term!r} is not supported with --from-file")
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            terms.append((term[1:].strip(), "!exists", ""))
        else:
            terms.append((term, "exists", ""))
    return tuple(terms)


def matches_selector(labels: Mapping[str, str], terms: Sequence[SelectorTerm]) -> bool:
    """Whether ``labels`` satisfy a parsed label selector (as the API server does)."""
    for key, op, value in terms:
        present = key in labels
        if (
            (op == "=" and labels.get(key) != value)
            or (op == "!=" and present and labels[key] == value)
            or (op == "exists" and not present)
            or (op == "!exists" and present)
        ):
            return False
    return True


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _labels(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(pod.get("metadata")).get("labels"))


def _user_container(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    for container in containers:
        if container.get("name") == NOTEBOOK_CONTAINER:
            return container
    return containers[0] if containers else {}


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    """Literal environment values (``valueFrom`` references cannot be resolved here)."""
    out: dict[str, str] = {}
    for item in container.get("env") or []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            value = _text(item.get("value"))
            if value is not None:
                out[item["name"]] = value
    return out


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_pod(pod: Mapping[str, Any], observed_at: datetime) -> Observation | Skipped:
    """One pod of ``kubectl get pods -o json`` → an observation at ``observed_at``, or why not.

    The user is the container's ``GIT_AUTHOR_EMAIL`` (name: ``GIT_AUTHOR_NAME``), falling
    back to the hub username from the pod's annotation, then its label. Age counts from
    ``metadata.creationTimestamp``, so ``observed_at - age`` is the pod's creation time
    and stays the same in every cycle of one pod life.
    """
    metadata, spec, status = (_mapping(pod.get(k)) for k in ("metadata", "spec", "status"))
    name = _text(metadata.get("name")) or "<unnamed>"
    phase = status.get("phase")
    if phase != "Running":
        return Skipped(name, f"phase is {phase or 'unknown'}, not Running")
    node = _text(spec.get("nodeName"))
    if node is None:
        return Skipped(name, "no spec.nodeName")
    container = _user_container(spec)
    image = _text(container.get("image"))
    if image is None:
        return Skipped(name, "no container image")
    created = _parse_time(metadata.get("creationTimestamp"))
    if created is None:
        return Skipped(name, "no valid metadata.creationTimestamp")
    env = _env(container)
    username = _text(_mapping(metadata.get("annotations")).get(USERNAME_KEY)) or _text(
        _mapping(metadata.get("labels")).get(USERNAME_KEY)
    )
    email = env.get("GIT_AUTHOR_EMAIL") or username
    if email is None:
        return Skipped(name, f"no GIT_AUTHOR_EMAIL and no {USERNAME_KEY} annotation or label")
    base, version = split_image(image)
    return Observation(
        observed_at=observed_at,
        user_email=email,
        user_name=env.get("GIT_AUTHOR_NAME") or username,
        pod_name=name,
        node_name=node,
        container_base=base,
        container_version=version,
        age_seconds=max(0, int((observed_at - created).total_seconds())),
    )


def pods_of_document(document: Any) -> list[Mapping[str, Any]]:
    """The pods of a ``kubectl get pods -o json`` document (a List/PodList, or one Pod)."""
    if not isinstance(document, Mapping):
        raise ValueError("expected a JSON object (kubectl get pods -o json)")
    if document.get("kind") == "Pod":
        return [document]
    items = document.get("items")
    if not isinstance(items, list):
        raise ValueError(f"expected a Pod or a list of pods, got kind {document.get('kind')!r}")
    return [item for item in items if isinstance(item, Mapping)]


def observe(
    pods: Iterable[Mapping[str, Any]], observed_at: datetime
) -> tuple[list[Observation], list[Skipped]]:
    observations: list[Observation] = []
    skipped: list[Skipped] = []
    for pod in pods:
        result = parse_pod(pod, observed_at)
        if isinstance(result, Observation):
            observations.append(result)
        else:
            skipped.append(result)
    return observations, skipped


# --- where pods come from ----------------------------------------------------------------
class CycleError(Exception):
    """A collection cycle failed; it is logged and tried again next interval."""


class PodSource(Protocol):
    def list_pods(self) -> list[Mapping[str, Any]]: ...


class FileSource:
    """A recorded ``kubectl get pods -o json`` document, re-read every cycle."""

    def __init__(self, path: Path, selector: str) -> None:
        # parsed once, so an unsupported selector is refused before the first cycle
        self.terms = parse_selector(selector)
        self.path = path

    def list_pods(self) -> list[Mapping[str, Any]]:
        try:
            document = json.loads(self.path.read_text())
            pods = pods_of_document(document)
        except (OSError, ValueError) as exc:
            raise CycleError(f"cannot read pods from {self.path}: {exc}") from exc
        return [pod for pod in pods if matches_selector(_labels(pod), self.terms)]


class KubernetesSource:
    """Running pods of one namespace from the Kubernetes API."""

    def __init__(self, namespace: str, selector: str) -> None:
        try:
            import kubernetes  # lazy: optional dependency
        except ImportError as exc:
            raise ConfigError(
                "the kubernetes package is needed to list pods: "
                "pip install 'metrics-rpc[kubernetes]' (or use --from-file)"
            ) from exc
        # Its partial annotations do not cover raw responses (_preload_content=False).
        k8s: Any = kubernetes
        try:
            k8s.config.load_incluster_config()
        except k8s.config.ConfigException:
            try:
                k8s.config.load_kube_config()
            except (k8s.config.ConfigException, OSError) as exc:
                raise ConfigError(
                    f"no Kubernetes credentials: not in a cluster and no usable kubeconfig ({exc})"
                ) from exc
        self._core: Any = k8s.client.CoreV1Api()
        self.namespace = namespace
        self.selector = selector

    def list_pods(self) -> list[Mapping[str, Any]]:
        try:
            # Raw JSON, exactly what kubectl prints: one parser for both sources.
            response = self._core.list_namespaced_pod(
                self.namespace,
                label_selector=self.selector,
                field_selector="status.phase=Running",
                _preload_content=False,
                _request_timeout=HTTP_TIMEOUT,
            )
            return pods_of_document(json.loads(response.data))
        except Exception as exc:  # the client raises many types (urllib3, ApiException, ...)
            raise CycleError(f"listing pods in namespace {self.namespace!r} failed: {exc}") from exc


# --- where observations go ---------------------------------------------------------------
class IngestRejected(CycleError):
    """The API refused the batch as bad input (4xx): sending it again cannot help."""


class IngestClient:
    """POSTs one batch to the writer-only ingest function of our API."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http  # from api_client: base URL, token and user agent set

    def send(self, observations: Sequence[Observation]) -> dict[str, int]:
        body = {"p_observations": [one.to_json() for one in observations]}
        try:
            response = self._http.post(INGEST_PATH, json=body,
                                       headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise CycleError(f"POST {INGEST_PATH} failed: {exc}") from exc
        if response.status_code >= 400:
            message = f"POST {INGEST_PATH} → {response.status_code}: {error_message(response)}"
            if not retryable(response.status_code):
                raise IngestRejected(message)
            raise CycleError(message)
        try:
            counts = response.json()
            return {key: int(counts[key]) for key in ("received", "written", "duplicates")}
        except (ValueError, KeyError, TypeError) as exc:
            answer = response.text[:200]
            raise CycleError(f"POST {INGEST_PATH}: unexpected answer {answer!r}") from exc


# --- the cycle -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CycleResult:
    pods: int
    observed: int
    skipped: int
    received: int
    written: int
    duplicates: int

    def summary(self) -> str:
        return (
            f"jupyterhub: {self.pods} pods, {self.observed} observed, {self.skipped} skipped; "
            f"sent {self.received}, written {self.written}, duplicates {self.duplicates}"
        )


def _now() -> datetime:
    # Whole seconds: creationTimestamp has second precision, so observed_at - age is the
    # exact creation time in every cycle and a pod life keeps one start time.
    return datetime.now(UTC).replace(microsecond=0)


class Collector:
    """One cycle = list pods, parse, send everything not yet delivered as one batch."""

    def __init__(
        self,
        source: PodSource,
        client: IngestClient,
        clock: Callable[[], datetime] | None = None,
        pending_batches: int = PENDING_BATCHES,
    ) -> None:
        self.source = source
        self.client = client
        self.clock = clock or _now
        # Cycles whose batch could not be delivered; resent with the next one. Replays are
        # harmless (exactly once on the server), so nothing is lost to a short API outage.
        self.pending: deque[list[Observation]] = deque(maxlen=pending_batches)

    def cycle(self) -> CycleResult:
        observed_at = self.clock()
        pods = self.source.list_pods()
        observations, skipped = observe(pods, observed_at)
        for one in skipped:
            log.info("skipping pod %s: %s", one.pod_name, one.reason)
        self.pending.append(observations)
        batch = [one for cycle in self.pending for one in cycle]
        try:
            counts = self.client.send(batch)
        except IngestRejected:
            self.pending.clear()  # bad input stays bad: do not resend it forever
            raise
        self.pending.clear()
        return CycleResult(
            pods=len(pods),
            observed=len(observations),
            skipped=len(skipped),
            received=counts["received"],
            written=counts["written"],
            duplicates=counts["duplicates"],
        )


def run_forever(
    collector: Collector,
    interval: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    max_cycles: int | None = None,
) -> None:
    """Cycle every ``interval`` seconds; a failed cycle is logged and the next one retries."""
    done = 0
    while max_cycles is None or done < max_cycles:
        started = monotonic()
        try:
            log.info(collector.cycle().summary())
        except CycleError as exc:
            log.error("cycle failed, retrying in %ss: %s", interval, exc)
        except Exception:
            log.exception("cycle failed unexpectedly, retrying in %ss", interval)
        done += 1
        if max_cycles is None or done < max_cycles:
            sleep(max(0.0, interval - (monotonic() - started)))


# --- command line --------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                        help=f"namespace of the single-user pods (default {DEFAULT_NAMESPACE})")
    parser.add_argument("--selector", default=DEFAULT_SELECTOR,
                        help=f"label selector of the single-user pods (default {DEFAULT_SELECTOR})")
    parser.add_argument("--interval", type=_positive_seconds, default=DEFAULT_INTERVAL,
                        help=f"seconds between cycles (default {DEFAULT_INTERVAL})")
    parser.add_argument("--once", action="store_true",
                        help="run one cycle, print a summary, exit (non-zero when it failed)")
    parser.add_argument("--from-file", type=Path, metavar="PODS_JSON",
                        help="read `kubectl get pods -o json` output instead of the cluster "
                             "(the selector is applied; the namespace is not)")


def _positive_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 on success; 1 when an --once cycle failed; configuration errors raise ConfigError."""
    http = api_client(settings, USER_AGENT, timeout=HTTP_TIMEOUT)  # checks the token first
    with http:
        source: PodSource = (
            FileSource(args.from_file, args.selector)
            if args.from_file
            else KubernetesSource(args.namespace, args.selector)
        )
        collector = Collector(source, IngestClient(http))
        if args.once:
            try:
                result = collector.cycle()
            except CycleError as exc:
                log.error("cycle failed: %s", exc)
                return 1
            print(result.summary())
            return 0
        log.info("collecting every %ss, sending to %s", args.interval, settings.api_url)
        try:
            run_forever(collector, args.interval)
        except KeyboardInterrupt:
            log.info("stopped")
    return 0
