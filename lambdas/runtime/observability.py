"""One Logger, Metrics and Tracer per function, configured by the POWERTOOLS_* variables."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from ledger_backup.contract import (
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_SERVICE_NAME,
    ENV_METRICS_NAMESPACE,
    ENV_SERVICE_NAME,
)

SERVICE = os.environ.get(ENV_SERVICE_NAME, DEFAULT_SERVICE_NAME)
NAMESPACE = os.environ.get(ENV_METRICS_NAMESPACE, DEFAULT_METRICS_NAMESPACE)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

# The core logs through the standard `logging` module; give its loggers the same JSON format and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"ledger_backup"})
