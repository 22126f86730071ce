"""One Logger, Metrics and Tracer per function, configured by the POWERTOOLS_* variables."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ledger-backup")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LedgerBackup")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

# The core logs through the standard `logging` module; give its loggers the same JSON format and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"ledger_backup"})
