/// The daemon's side of a retrain stage running in the same process (`aeflow serve --with-retrain`):
/// accepted input goes to its history and train requests to its scheduler directly, instead of over the
/// `outputs.history` and `outputs.train_requests` sockets. Both calls come from the daemon's threads and
/// must return at once (queue, never block).
public protocol RetrainLink: AnyObject, Sendable {
    /// A message the daemon decoded, as routed by the process's one ``Ingest`` (on the ingest thread; a
    /// `.rejected` outcome is never passed).
    func history(_ accepted: Ingest.Outcome)
    /// A train request, on the scoring thread.
    func trainRequest(_ request: TrainRequest)
    /// The stage's Prometheus metrics, served after the daemon's on its `/metrics`.
    func metricsExposition() -> [UInt8]
}
