"""``azureml.core.run.Run`` for the local Azure ML service (standard library only).

Inside a run, ``Run.get_context()`` is bound to the run through the environment variables Azure ML
sets (AZUREML_RUN_ID, AZUREML_SERVICE_ENDPOINT, AZUREML_RUN_TOKEN, ...) and posts metrics, tags and
files to the service's run history and artifact APIs. Outside a run it returns an offline run that
prints what it would have logged, as the real SDK's ``_OfflineRun`` does.
"""
import datetime
import json
import math
import numbers
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["Run"]

_REQUIRED_ENV = (
    "AZUREML_RUN_ID",
    "AZUREML_SERVICE_ENDPOINT",
    "AZUREML_RUN_TOKEN",
    "AZUREML_ARM_SUBSCRIPTION",
    "AZUREML_ARM_RESOURCEGROUP",
    "AZUREML_ARM_WORKSPACE_NAME",
    "AZUREML_ARM_PROJECT_NAME",
)
_RETRYABLE = (408, 429, 500, 502, 503, 504)


class _Experiment(object):
    """The experiment a run belongs to (only its name and workspace)."""

    def __init__(self, name, workspace_name=None):
        self.name = name
        self.workspace_name = workspace_name

    def __repr__(self):
        return "Experiment(Name: {})".format(self.name)


def _scalar(name, value):
    """A metric value as JSON can carry it, with the schema type the service stores."""
    if isinstance(value, bool):
        return value, "bool"
    if isinstance(value, numbers.Integral):
        return int(value), "int"
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            # JSON has no NaN or Infinity: send them as text, as a string metric.
            return str(value), "string"
        return value, "float"
    if isinstance(value, str):
        return value, "string"
    raise TypeError(
        "Metric '{}': value {!r} of type {} is not supported; log an int, float, bool or str.".format(
            name, value, type(value).__name__
        )
    )


def _now():
    # Always six fraction digits: isoformat() drops the fraction when microseconds are 0, and times of
    # one width sort the same as text and as instants.
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Run(object):
    """A run of an experiment. Get the current one with ``Run.get_context()``."""

    def __init__(self, run_id, experiment_name, endpoint, token, subscription, resource_group, workspace,
                 data_container_id=None):
        self._run_id = run_id
        self._experiment = _Experiment(experiment_name, workspace)
        self._endpoint = endpoint.rstrip("/")
        self._token = token
        self._workspace_path = (
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}".format(
                urllib.parse.quote(subscription, safe=""),
                urllib.parse.quote(resource_group, safe=""),
                urllib.parse.quote(workspace, safe=""),
            )
        )
        self._data_container_id = data_container_id or "dcid." + run_id

    @classmethod
    def get_context(cls, allow_offline=True, used_for_context_manager=False, **kwargs):
        """The run this process executes in, or an offline run when it runs outside Azure ML."""
        env = os.environ
        if all(env.get(name) for name in _REQUIRED_ENV):
            return cls(
                env["AZUREML_RUN_ID"],
                env["AZUREML_ARM_PROJECT_NAME"],
                env["AZUREML_SERVICE_ENDPOINT"],
                env["AZUREML_RUN_TOKEN"],
                env["AZUREML_ARM_SUBSCRIPTION"],
                env["AZUREML_ARM_RESOURCEGROUP"],
                env["AZUREML_ARM_WORKSPACE_NAME"],
                env.get("AZUREML_DATA_CONTAINER_ID"),
            )
        if not allow_offline:
            raise RuntimeError(
                "Could not load a submitted run, if outside of an execution context, "
                "use experiment.start_logging to initialize an azureml.core.Run."
            )
        return _OfflineRun()

    # -- identity -------------------------------------------------------------------------------

    @property
    def id(self):
        """The run id."""
        return self._run_id

    @property
    def experiment(self):
        """The run's experiment."""
        return self._experiment

    def __repr__(self):
        return "Run(Experiment: {}, Id: {})".format(self._experiment.name, self._run_id)

    # -- metrics --------------------------------------------------------------------------------

    def log(self, name, value, description="", step=None):
        """Logs a scalar; logging a name again adds another value to its series."""
        cell, kind = _scalar(name, value)
        self._post_metric(name, "azureml.v1.scalar", [{name: cell}], [(name, kind)], description)

    def log_list(self, name, value, description=""):
        """Logs a list of scalars as one metric."""
        values = [_scalar(name, v) for v in value]
        if not values:
            sys.stderr.write("Run.log_list: metric '{}' has no values; nothing was logged.\n".format(name))
            return
        self._post_metric(name, "azureml.v1.list", [{name: v} for v, _ in values], [(name, values[0][1])], description)

    def log_row(self, name, description=None, **kwargs):
        """Logs one row of a table metric: ``run.log_row("table", x=1, y=2)``."""
        if not kwargs:
            raise ValueError("Run.log_row: give the row's columns as keyword arguments.")
        row = {}
        schema = []
        for column, v in kwargs.items():
            row[column], kind = _scalar(name, v)
            schema.append((column, kind))
        self._post_metric(name, "azureml.v1.table", [row], schema, description or "")

    def log_table(self, name, value, description=""):
        """Logs a table given as a dict of equally long column lists."""
        columns = list(value.keys())
        if not columns:
            raise ValueError("Run.log_table: the table has no columns.")
        length = len(value[columns[0]])
        if any(len(value[c]) != length for c in columns):
            raise ValueError("Run.log_table: every column must have the same number of values.")
        rows = []
        kinds = {}
        for i in range(length):
            row = {}
            for c in columns:
                row[c], kinds[c] = _scalar(name, value[c][i])
            rows.append(row)
        if rows:
            self._post_metric(name, "azureml.v1.table", rows, [(c, kinds[c]) for c in columns], description)

    def _post_metric(self, name, metric_type, cells, schema, description):
        metric = {
            "metricId": str(uuid.uuid4()),
            "dataContainerId": self._data_container_id,
            "metricType": metric_type,
            "createdUtc": _now(),
            "name": name,
            "description": description or "",
            "numCells": len(cells),
            "cells": cells,
            "schema": {
                "numProperties": len(schema),
                "properties": [{"propertyId": c, "name": c, "type": t} for c, t in schema],
            },
        }
        self._request("POST", self._history("/metrics"), metric)

    # -- tags and properties --------------------------------------------------------------------

    def tag(self, key, value=None):
        """Sets one tag (a tag without a value is an empty string)."""
        self.set_tags({key: value})

    def set_tags(self, tags):
        """Sets several tags at once."""
        clean = {str(k): ("" if v is None else str(v)) for k, v in dict(tags).items()}
        self._request("PATCH", self._history(""), {"runId": self._run_id, "tags": clean})

    def get_tags(self):
        """The run's tags."""
        return dict(self._get_run().get("tags") or {})

    def add_properties(self, properties):
        """Adds properties (immutable once set)."""
        clean = {str(k): str(v) for k, v in dict(properties).items()}
        self._request("PATCH", self._history(""), {"runId": self._run_id, "properties": clean})

    def get_properties(self):
        """The run's properties."""
        return dict(self._get_run().get("properties") or {})

    def get_status(self):
        """The run's status, e.g. 'Running'."""
        return self._get_run().get("status")

    def get_details(self):
        """The run's details as run history returns them."""
        return self._get_run()

    # -- files ----------------------------------------------------------------------------------

    def upload_file(self, name, path_or_stream, datastore_name=None):
        """Uploads a file (a path or a binary stream) as the run artifact ``name``."""
        if hasattr(path_or_stream, "read"):
            data = path_or_stream.read()
        else:
            with open(path_or_stream, "rb") as f:
                data = f.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        url = "{}/artifact/v2.0{}/artifacts/ExperimentRun/{}/content?{}".format(
            self._endpoint,
            self._workspace_path,
            urllib.parse.quote(self._data_container_id, safe=""),
            urllib.parse.urlencode({"path": name}),
        )
        return self._request("POST", url, data, content_type="application/octet-stream")

    # -- lifecycle (the service drives the run; these exist so SDK scripts run unchanged) --------

    def flush(self, timeout_seconds=300):
        """Metrics are posted as they are logged: nothing to flush."""

    def complete(self, set_status=True):
        """The service completes the run when the script exits."""

    # -- plumbing -------------------------------------------------------------------------------

    def _history(self, suffix):
        return "{}/history/v1.0{}/experiments/{}/runs/{}{}".format(
            self._endpoint,
            self._workspace_path,
            urllib.parse.quote(self._experiment.name, safe=""),
            urllib.parse.quote(self._run_id, safe=""),
            suffix,
        )

    def _get_run(self):
        return self._request("GET", self._history("")) or {}

    def _request(self, method, url, body=None, content_type="application/json"):
        if body is not None and content_type == "application/json":
            data = json.dumps(body).encode("utf-8")
        else:
            data = body
        delays = [0.5, 1, 2, 4]
        for attempt in range(len(delays) + 1):
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Authorization", "Bearer " + self._token)
            request.add_header("x-ms-client-request-id", str(uuid.uuid4()))
            if data is not None:
                request.add_header("Content-Type", content_type)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    text = response.read().decode("utf-8")
                    return json.loads(text) if text.strip() else None
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")
                if err.code in _RETRYABLE and attempt < len(delays):
                    time.sleep(_retry_after(err, delays[attempt]))
                    continue
                raise RuntimeError("{} {} failed: HTTP {} {}".format(method, url.split("?")[0], err.code, detail))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                if attempt < len(delays):
                    time.sleep(delays[attempt])
                    continue
                raise RuntimeError("{} {} failed: {}".format(method, url.split("?")[0], err))
        return None


def _retry_after(err, default):
    header = err.headers.get("Retry-After") if err.headers else None
    try:
        return min(float(header), 30.0) if header is not None else default
    except ValueError:
        return default


class _OfflineRun(Run):
    """The run outside Azure ML: prints what would have been logged, keeps tags in memory."""

    def __init__(self):
        self._run_id = "OfflineRun_" + str(uuid.uuid4())
        self._experiment = _Experiment("offline")
        self._tags = {}
        self._properties = {}

    def _emit(self, kind, name, value):
        print("Attempted to log {} metric {}:\n{}".format(kind, name, value))

    def log(self, name, value, description="", step=None):
        self._emit("scalar", name, value)

    def log_list(self, name, value, description=""):
        self._emit("list", name, value)

    def log_row(self, name, description=None, **kwargs):
        self._emit("row", name, kwargs)

    def log_table(self, name, value, description=""):
        self._emit("table", name, value)

    def set_tags(self, tags):
        self._tags.update({str(k): ("" if v is None else str(v)) for k, v in dict(tags).items()})

    def get_tags(self):
        return dict(self._tags)

    def add_properties(self, properties):
        for k, v in dict(properties).items():
            self._properties.setdefault(str(k), str(v))

    def get_properties(self):
        return dict(self._properties)

    def get_status(self):
        return "Running"

    def get_details(self):
        return {"runId": self._run_id, "status": "Running", "tags": dict(self._tags)}

    def upload_file(self, name, path_or_stream, datastore_name=None):
        print("Attempted to upload file {}".format(name))
