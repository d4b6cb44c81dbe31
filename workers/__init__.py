"""The background deployment: a Celery application whose tasks call into `sync.distributed`."""
