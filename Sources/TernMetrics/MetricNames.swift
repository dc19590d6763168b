import Prometheus

/// Every metric's name and `# HELP` text; docs/metrics.md lists them with their labels and units.
enum MetricNames {
    /// `tern_requests_total`.
    static var requestsTotal: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "requests", unitName: "total",
            helpText: "Requests answered by the gateway, by API, HTTP status code and class (2xx, 4xx, 5xx).")
    }
    /// `tern_request_duration_seconds`.
    static var requestDurationSeconds: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "request_duration", unitName: "seconds",
            helpText: "Time from admission by the gateway to the answer, in seconds.")
    }
    /// `tern_request_queue_seconds`.
    static var requestQueueSeconds: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "request_queue", unitName: "seconds",
            helpText: "Time a request waited in the gateway for a replica slot, in seconds (requests that got a slot and were not batched).")
    }
    /// `tern_request_replica_seconds`.
    static var requestReplicaSeconds: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "request_replica", unitName: "seconds",
            helpText: "Time from the replica slot to the answer (frame out, predict, frame back), in seconds.")
    }
    /// `tern_batch_size`.
    static var batchSize: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "batch_size", unitName: "",
            helpText: "Requests per predict_batch frame sent to a replica (server-side batching).")
    }
    /// `tern_replica_restarts_total`.
    static var replicaRestartsTotal: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "replica_restarts", unitName: "total",
            helpText: "Replicas (and job or queue workers) started again after they exited.")
    }
    /// `tern_dependency_installs_total`.
    static var dependencyInstallsTotal: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "dependency_installs", unitName: "total",
            helpText: "requirements.txt environments prepared for an API revision, by outcome (installed, reused, failed).")
    }
    /// `tern_dependency_install_duration_seconds`.
    static var dependencyInstallDurationSeconds: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "dependency_install_duration", unitName: "seconds",
            helpText: "Time to prepare a requirements.txt environment, in seconds.")
    }
    /// `tern_job_batches_total`.
    static var jobBatchesTotal: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "job_batches", unitName: "total",
            helpText: "Batches of BatchAPI jobs reported by their workers, by outcome (succeeded, retried, failed).")
    }
    /// `tern_requests_in_flight`.
    static var requestsInFlight: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "requests_in_flight", unitName: "",
            helpText: "Requests admitted by the gateway and not answered yet (running or queued), as the autoscaler sees them.")
    }
    /// `tern_replicas_requested`.
    static var replicasRequested: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "replicas_requested", unitName: "",
            helpText: "Replicas the API's autoscaler (or its spec) asks for.")
    }
    /// `tern_replicas_ready`.
    static var replicasReady: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "replicas_ready", unitName: "",
            helpText: "Replicas that receive traffic.")
    }
    /// `tern_replicas`.
    static var replicas: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "replicas", unitName: "",
            helpText: "Replicas by state (starting, ready, backoff, …).")
    }
    /// `tern_api_status`.
    static var apiStatus: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tern", metricName: "api_status", unitName: "",
            helpText: "1 for the API's current status (live, updating, error, …).")
    }
}
